"""The question log, feedback on answers, and hand-off requests."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from bot.db.models import Feedback, HandoffRequest, QuestionLog, utcnow
from bot.db.repos.upsert import insert_new
from bot.db.session import Database
from handlers.address import Address
from handlers.ports import HandoffTicket, LoggedQuestion, QuestionRecord
from knowledge.privacy import mask_personal

MAX_LOGGED_CHARS = 4000


def question_row(record: QuestionRecord) -> dict[str, object]:
    """A question_log row for `record` (shared by the direct insert and the write-behind log)."""
    return {"created_at": utcnow(), "channel": record.channel, "user_ref": record.user_ref,
            "conversation_ref": record.conversation_ref, "question": mask_personal(record.question[:MAX_LOGGED_CHARS]),
            "entry_id": record.entry_id, "confidence": record.confidence, "answered": record.answered,
            "escalated": record.escalated, "clicked": record.clicked}


class SqlQuestions:
    def __init__(self, session: Session):
        self.session = session

    def record(self, record: QuestionRecord) -> int:
        result = self.session.execute(insert(QuestionLog).values(**question_row(record)))
        return int(result.inserted_primary_key[0])

    def get(self, log_id: int) -> LoggedQuestion | None:
        row = self.session.get(QuestionLog, log_id)
        if row is None:
            return None
        return LoggedQuestion(row.id, row.question, row.entry_id, row.conversation_ref, row.user_ref)


class SqlFeedback:
    def __init__(self, session: Session):
        self.session = session

    def record(self, question_log_id: int, user_ref: str, value: int) -> None:
        """One vote per user and answer; a second press replaces the first (never a unique violation,
        even when two presses race: the losing insert does nothing and its vote is written over)."""
        if not insert_new(self.session, Feedback, {"question_log_id": question_log_id, "user_ref": user_ref,
                                                   "value": value, "created_at": utcnow()},
                          "question_log_id", "user_ref"):
            self.session.execute(update(Feedback).where(
                Feedback.question_log_id == question_log_id, Feedback.user_ref == user_ref)
                .values(value=value, created_at=utcnow()))


class SqlHandoffs:
    def __init__(self, session: Session):
        self.session = session

    def create(self, question_log_id: int | None, address: Address, question: str) -> HandoffTicket:
        if question_log_id is not None:
            values = {"created_at": utcnow(), "question_log_id": question_log_id, "channel": address.platform,
                      "user_ref": address.user or None, "conversation_ref": address.conversation_key,
                      "thread_ref": address.thread, "question": question, "status": "open"}
            created = insert_new(self.session, HandoffRequest, values, "question_log_id")
            existing = self.session.scalar(select(HandoffRequest.id).where(
                HandoffRequest.question_log_id == question_log_id))
            return HandoffTicket(int(existing), created=created)  # type: ignore[arg-type]
        request = HandoffRequest(question_log_id=None, channel=address.platform, user_ref=address.user or None,
                                 conversation_ref=address.conversation_key, thread_ref=address.thread,
                                 question=question)
        self.session.add(request)
        self.session.flush()
        return HandoffTicket(request.id, created=True)


def question_misses(db: Database, low_confidence: float, limit: int = 5000) -> list[tuple[str, str, str | None]]:
    """(question, reason, entry id) for declined, low-confidence and 👎 answers, newest first."""
    with db.session() as s:
        rows = s.execute(select(QuestionLog.id, QuestionLog.question, QuestionLog.entry_id,
                                QuestionLog.answered, QuestionLog.confidence)
                         .where(QuestionLog.clicked.is_(False)).order_by(QuestionLog.id.desc()).limit(limit)).all()
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
