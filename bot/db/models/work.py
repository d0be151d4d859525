"""Durable work: the outbox (messages to deliver), due steps (work with a time), the inbox (deliveries
acknowledged but not yet answered), the scheduler's leader lease, and small run-time settings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models.base import Base, Created, TZDateTime

# States. An outbox row: pending → claimed → sent | failed (given up) | cancelled | superseded (an edit
# replaced by a newer edit of the same message before it went out).
PENDING, CLAIMED, SENT, FAILED, CANCELLED, DONE = "pending", "claimed", "sent", "failed", "cancelled", "done"
SUPERSEDED = "superseded"


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_ready", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[Created]
    key: Mapped[str] = mapped_column(String(255), unique=True)  # idempotency key
    platform: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(Text)  # Address.to_json()
    pacing_key: Mapped[str] = mapped_column(String(512), index=True)
    workspace: Mapped[str] = mapped_column(String(128), default="")
    lane: Mapped[str] = mapped_column(String(8), default="bulk")
    payload: Mapped[str] = mapped_column(Text)  # Reply.to_json(): rendered by the channel when sent
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    not_before: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    next_attempt_at: Mapped[dt.datetime] = mapped_column(TZDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    unknown_outcome: Mapped[bool] = mapped_column(default=False)  # an earlier try may have been delivered
    last_error: Mapped[str | None] = mapped_column(Text)
    platform_id: Mapped[str | None] = mapped_column(String(255))  # Slack ts / Teams activity id once sent
    sent_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    edits: Mapped[str | None] = mapped_column(String(255), index=True)  # the key of the row whose message this replaces


class DueWork(Base):
    __tablename__ = "due_work"
    __table_args__ = (Index("ix_due_work_ready", "state", "due_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[Created]
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255), unique=True)
    due_at: Mapped[dt.datetime] = mapped_column(TZDateTime())
    payload: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())


class InboxItem(Base):
    """A delivery acknowledged to its platform and not yet answered; kept after it is done, to drop retries."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_ready", "state", "received_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)  # slack:event_id, slack:trigger:…, teams:activity
    platform: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(TZDateTime())
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[dt.datetime] = mapped_column(TZDateTime(), index=True)


class Lease(Base):
    """A named lease (the scheduler's leader): held by one process until it expires or is renewed."""

    __tablename__ = "lease"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(TZDateTime())


class KeyValue(Base):
    __tablename__ = "key_value"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[Created]
