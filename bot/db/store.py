"""The SQL implementation of handlers.ports.Store (SQLite by default, PostgreSQL to scale out)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from bot.db.models import ConversationReference, Feedback, HandoffRequest, ProcessedEvent, QuestionLog, utcnow
from bot.db.session import Database
from handlers.ports import HandoffTicket, QuestionRecord

MAX_LOGGED_CHARS = 4000


def question_row(record: QuestionRecord) -> dict[str, object]:
    """A question_log row for `record` (shared by the direct insert and the write-behind log)."""
    return {"created_at": utcnow(), "channel": record.channel, "user_ref": record.user_ref,
            "conversation_ref": record.conversation_ref, "question": record.question[:MAX_LOGGED_CHARS],
            "entry_id": record.entry_id, "confidence": record.confidence, "answered": record.answered,
            "escalated": record.escalated}


class SqlStore:
    def __init__(self, db: Database):
        self.db = db

    def record_question(self, record: QuestionRecord) -> int:
        # Core insert on one short transaction: this runs for every question, so it stays cheap.
        with self.db.engine.begin() as conn:
            result = conn.execute(insert(QuestionLog).values(**question_row(record)))
            return int(result.inserted_primary_key[0])

    def record_feedback(self, question_log_id: int, user_ref: str, value: int) -> bool:
        with self.db.session() as s, s.begin():
            if s.get(QuestionLog, question_log_id) is None:
                return False
            existing = s.scalar(select(Feedback).where(
                Feedback.question_log_id == question_log_id, Feedback.user_ref == user_ref))
            if existing is not None:
                existing.value, existing.created_at = value, utcnow()
            else:
                s.add(Feedback(question_log_id=question_log_id, user_ref=user_ref, value=value))
            return True

    def create_handoff(self, question_log_id: int | None, channel: str, user_ref: str | None,
                       conversation_ref: str | None, thread_ref: str | None,
                       question: str | None = None) -> HandoffTicket | None:
        with self.db.session() as s:
            if question_log_id is not None:
                existing = s.scalar(select(HandoffRequest).where(
                    HandoffRequest.question_log_id == question_log_id))
                if existing is not None:
                    return HandoffTicket(existing.id, created=False)
                logged = s.get(QuestionLog, question_log_id)
                if logged is None:
                    return None
                question = logged.question
            request = HandoffRequest(
                question_log_id=question_log_id, channel=channel, user_ref=user_ref,
                conversation_ref=conversation_ref, thread_ref=thread_ref, question=question or "")
            s.add(request)
            try:
                s.commit()
            except IntegrityError:  # two clicks raced: the other one created it
                s.rollback()
                existing = s.scalar(select(HandoffRequest).where(
                    HandoffRequest.question_log_id == question_log_id))
                return HandoffTicket(existing.id, created=False) if existing else None
            return HandoffTicket(request.id, created=True)

    def claim_event(self, key: str, ttl: dt.timedelta) -> bool:
        """True the first time `key` is seen (until it expires); False for a repeat delivery."""
        now = utcnow()
        with self.db.engine.begin() as conn:
            conn.execute(delete(ProcessedEvent).where(
                ProcessedEvent.key == key, ProcessedEvent.expires_at < now))
        try:
            with self.db.engine.begin() as conn:
                conn.execute(insert(ProcessedEvent).values(key=key, expires_at=now + ttl))
        except IntegrityError:
            return False
        return True

    def purge_expired_events(self) -> int:
        with self.db.engine.begin() as conn:
            return conn.execute(delete(ProcessedEvent).where(ProcessedEvent.expires_at < utcnow())).rowcount

    def save_conversation(self, channel: str, conversation_id: str, reference_json: str) -> None:
        with self.db.session() as s, s.begin():
            row = s.scalar(select(ConversationReference).where(
                ConversationReference.channel == channel,
                ConversationReference.conversation_id == conversation_id))
            if row is None:
                s.add(ConversationReference(channel=channel, conversation_id=conversation_id,
                                            reference=reference_json))
            else:
                row.reference, row.updated_at = reference_json, utcnow()

    def conversation(self, channel: str, conversation_id: str) -> str | None:
        with self.db.session() as s:
            return s.scalar(select(ConversationReference.reference).where(
                ConversationReference.channel == channel,
                ConversationReference.conversation_id == conversation_id))


def question_misses(db: Database, low_confidence: float, limit: int = 5000) -> list[tuple[str, str, str | None]]:
    """(question, reason, entry id) for declined, low-confidence and 👎 answers, newest first."""
    with db.session() as s:
        rows = s.execute(select(QuestionLog.id, QuestionLog.question, QuestionLog.entry_id,
                                QuestionLog.answered, QuestionLog.confidence)
                         .order_by(QuestionLog.id.desc()).limit(limit)).all()
        downs = set(s.scalars(select(Feedback.question_log_id).where(Feedback.value < 0)))
    out = []
    for log_id, question, entry_id, answered, confidence in rows:
        if log_id in downs:
            out.append((question, "thumbs_down", entry_id))
        elif not answered and entry_id is None:
            out.append((question, "declined", entry_id))
        elif confidence < low_confidence:
            out.append((question, "low_confidence", entry_id))
    return out
