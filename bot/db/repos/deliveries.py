"""One-time markers with an expiry (say, a Teams install announced twice within seconds)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete

from bot.db.models import ProcessedEvent, utcnow
from bot.db.repos.upsert import insert_new
from bot.db.session import Database


def claim_once(db: Database, key: str, ttl: dt.timedelta) -> bool:
    """True the first time `key` is seen (until it expires); False for a repeat."""
    now = utcnow()
    with db.session() as s, s.begin():
        s.execute(delete(ProcessedEvent).where(ProcessedEvent.key == key, ProcessedEvent.expires_at < now))
        return insert_new(s, ProcessedEvent, {"key": key, "expires_at": now + ttl})


def purge_expired(db: Database) -> int:
    with db.session() as s, s.begin():
        return s.execute(delete(ProcessedEvent).where(ProcessedEvent.expires_at < utcnow())).rowcount
