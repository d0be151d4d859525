"""Consultations: a case (受付番号 DX-YYYY-NNNN) from a requester to an expert, the messages relayed
between them, and the people it was offered to."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models.base import Base, Created, ShortText, TZDateTime

PersonId = String(64)


class ConsultCase(Base):
    __tablename__ = "consult_case"
    __table_args__ = (UniqueConstraint("year", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int]
    seq: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), index=True)  # received|pending|active|answered|closed
    door: Mapped[str] = mapped_column(String(16))  # button | words | command
    text: Mapped[str] = mapped_column(Text)  # what the requester asked (private: never in shared channels)
    bot_answer: Mapped[str | None] = mapped_column(Text)  # the FAQ answer they saw (door 1)
    question_log_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    topic: Mapped[str] = mapped_column(String(64), default="")
    prefecture: Mapped[str] = mapped_column(String(8), default="")
    industry: Mapped[str] = mapped_column(String(64), default="")
    org: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[str] = mapped_column(String(64), default="")
    want: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(String(255), default="")
    consent: Mapped[bool] = mapped_column(default=False)  # the text may be shown to the offered expert
    requester_person: Mapped[str | None] = mapped_column(PersonId)  # directory id when known
    requester_ref: Mapped[ShortText]  # platform:user
    requester_address: Mapped[str] = mapped_column(Text)  # Address JSON: where the requester is answered
    requester_conversation: Mapped[str] = mapped_column(String(512), index=True)  # Address.conversation_key
    offered_to: Mapped[str | None] = mapped_column(PersonId)  # the current primary offer
    assignee: Mapped[str | None] = mapped_column(PersonId, index=True)
    candidates: Mapped[str] = mapped_column(Text, default="[]")  # JSON [{person, score, reason}], best first
    created_at: Mapped[Created]
    claimed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    answered_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    last_activity_at: Mapped[dt.datetime] = mapped_column(TZDateTime())
    due_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())  # the next SLA step
    activity: Mapped[int] = mapped_column(default=0)  # bumps with each relayed message (idle-nudge keys)
    reopened: Mapped[int] = mapped_column(default=0)
    rating: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(Text)


class ConsultOffer(Base):
    """Who a case was offered to, in order, and what they said (offered | declined | accepted | withdrawn)."""

    __tablename__ = "consult_offer"
    case_id: Mapped[int] = mapped_column(ForeignKey("consult_case.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[str] = mapped_column(PersonId, primary_key=True, index=True)
    round: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[Created]


class ConsultMessage(Base):
    """A message relayed through the bot (the secretariat reads along)."""

    __tablename__ = "consult_message"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("consult_case.id", ondelete="CASCADE"), index=True)
    at: Mapped[Created]
    side: Mapped[str] = mapped_column(String(16))  # requester | expert
    sender: Mapped[ShortText]
    text: Mapped[str] = mapped_column(Text)
