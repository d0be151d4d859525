"""The first tables: the question log, feedback, hand-offs, delivery ids and conversation references."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models.base import Base, Created, ShortText, TZDateTime


class QuestionLog(Base):
    """Every question asked, so the secretariat can see what was declined or unhelpful."""

    __tablename__ = "question_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[Created]
    channel: Mapped[str] = mapped_column(String(32))
    user_ref: Mapped[str | None] = mapped_column(String(255))
    conversation_ref: Mapped[str | None] = mapped_column(String(255))
    question: Mapped[str] = mapped_column(Text)
    entry_id: Mapped[str | None] = mapped_column(String(128), index=True)
    confidence: Mapped[float]
    answered: Mapped[bool] = mapped_column(index=True)
    escalated: Mapped[bool] = mapped_column(default=False)
    clicked: Mapped[bool] = mapped_column(default=False)  # a suggestion pressed, not a question typed


class Feedback(Base):
    """A 👍/👎 on one answer, one per user and answer (a second click replaces the first)."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("question_log_id", "user_ref"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[Created]
    question_log_id: Mapped[int] = mapped_column(ForeignKey("question_log.id", ondelete="CASCADE"), index=True)
    user_ref: Mapped[ShortText]
    value: Mapped[int]  # +1 helpful, -1 not helpful


class HandoffRequest(Base):
    """A user asked for a person: the secretariat's queue of cases to pick up."""

    __tablename__ = "handoff_request"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[Created]
    question_log_id: Mapped[int | None] = mapped_column(
        ForeignKey("question_log.id", ondelete="SET NULL"), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    user_ref: Mapped[str | None] = mapped_column(String(255))
    conversation_ref: Mapped[str | None] = mapped_column(String(255))
    thread_ref: Mapped[str | None] = mapped_column(String(255))
    question: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)


class ProcessedEvent(Base):
    """Deliveries already handled (Slack `event_id`s), kept until they expire, to drop retries."""

    __tablename__ = "processed_event"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(TZDateTime(), index=True)


class ConversationReference(Base):
    """Where the bot can speak later (Teams conversation references, Slack channels)."""

    __tablename__ = "conversation_reference"
    __table_args__ = (UniqueConstraint("channel", "conversation_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[str] = mapped_column(String(512))
    reference: Mapped[str] = mapped_column(Text)  # JSON, as the platform SDK serialises it
    updated_at: Mapped[Created]
