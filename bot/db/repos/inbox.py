"""The inbox: deliveries acknowledged to a platform and not yet answered.

A row is written before the acknowledgement, so an acknowledged question survives a crash; its key
(Slack's event_id or trigger_id, a Teams activity id) makes a retried delivery a no-op.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from bot.db.models import InboxItem
from bot.db.models.work import CLAIMED, DONE, FAILED, PENDING
from bot.db.repos.upsert import insert_new
from bot.db.session import Database

KEEP_DONE = dt.timedelta(hours=2)  # platforms retry within minutes; a done row drops retries meanwhile


@dataclass(frozen=True)
class InboxRow:
    id: int
    key: str
    platform: str
    body: str
    attempts: int


def accept(db: Database, key: str, platform: str, body: str, now: dt.datetime) -> bool:
    """Store a delivery; False when the same key was stored before (a retry)."""
    with db.session() as s, s.begin():
        return insert_new(s, InboxItem, {"key": key, "platform": platform, "body": body, "received_at": now,
                                         "state": PENDING, "attempts": 0, "expires_at": now + KEEP_DONE})


def accept_many(db: Database, deliveries: list[tuple[str, str, str]], now: dt.datetime) -> list[bool]:
    """Store (key, platform, body) deliveries in one transaction; for each, False when its key was stored
    before (or earlier in the same list)."""
    with db.session() as s, s.begin():
        return [insert_new(s, InboxItem, {"key": key, "platform": platform, "body": body, "received_at": now,
                                          "state": PENDING, "attempts": 0, "expires_at": now + KEEP_DONE})
                for key, platform, body in deliveries]


def claim(db: Database, worker: str, now: dt.datetime, lease: dt.timedelta, limit: int) -> list[InboxRow]:
    """Take up to `limit` rows nobody is working on (pending, or claimed by a worker whose lease ran out)."""
    ready = or_(InboxItem.state == PENDING, and_(InboxItem.state == CLAIMED, InboxItem.claimed_until < now))
    with db.session() as s, s.begin():
        query = select(InboxItem.id).where(ready).order_by(InboxItem.received_at).limit(limit)
        if s.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(s.scalars(query))
        if not ids:
            return []
        # The same condition again: on SQLite another process may have claimed a row since the select.
        s.execute(update(InboxItem).where(InboxItem.id.in_(ids), ready).values(
            state=CLAIMED, claimed_by=worker, claimed_until=now + lease, attempts=InboxItem.attempts + 1))
        rows = s.execute(select(InboxItem).where(InboxItem.id.in_(ids), InboxItem.claimed_by == worker,
                                                 InboxItem.state == CLAIMED)).scalars().all()
        return [InboxRow(r.id, r.key, r.platform, r.body, r.attempts) for r in rows]


def mark_done(session: Session, row_id: int) -> None:
    """Inside the transaction that wrote the answer to the outbox: the delivery is handled."""
    session.execute(update(InboxItem).where(InboxItem.id == row_id).values(state=DONE, claimed_until=None))


def mark_failed(db: Database, row_id: int, error: str, give_up: bool) -> None:
    with db.session() as s, s.begin():
        s.execute(update(InboxItem).where(InboxItem.id == row_id).values(
            state=FAILED if give_up else PENDING, last_error=error[:2000], claimed_until=None))


def purge(db: Database, now: dt.datetime) -> int:
    with db.session() as s, s.begin():
        return s.execute(delete(InboxItem).where(InboxItem.state.in_((DONE, FAILED)),
                                                 InboxItem.expires_at < now)).rowcount


def pending_count(db: Database) -> int:
    with db.session() as s:
        return len(s.scalars(select(InboxItem.id).where(InboxItem.state.in_((PENDING, CLAIMED)))).all())
