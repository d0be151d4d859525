"""Who leads the scheduler: exactly one process ticks due work and cron jobs (scheduler.runner.Leadership).

- PostgreSQL: a session-level advisory lock held on a dedicated connection. It is released by the server
  when that connection dies, so a replica that crashes hands over at once; the others retry on each tick.
- SQLite (and anywhere else): a row in `lease`, renewed on each tick and expiring after `lease_s`; another
  process takes it over once it has expired, so a dead leader is replaced within `lease_s` plus a tick.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zlib
from collections.abc import Callable

from sqlalchemy import Connection, text, update
from sqlalchemy.exc import DBAPIError

from bot.db.models import Lease
from bot.db.repos.upsert import insert_new
from bot.db.session import Database

log = logging.getLogger(__name__)

LEASE_S = 30.0
Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LeaseLeader:
    def __init__(self, db: Database, name: str = "scheduler", lease_s: float = LEASE_S, clock: Clock = _utc_now,
                 holder: str | None = None):
        self.db, self.name, self.lease_s, self.clock = db, name, lease_s, clock
        self.holder = holder or f"{uuid.uuid4().hex[:12]}"

    def acquire(self) -> bool:
        """Take or renew the lease; True while this process holds it."""
        now = self.clock()
        until = now + dt.timedelta(seconds=self.lease_s)
        with self.db.session() as session:
            taken = session.execute(
                update(Lease).where(Lease.name == self.name, (Lease.holder == self.holder) | (Lease.expires_at < now))
                .values(holder=self.holder, expires_at=until)).rowcount
            if not taken:
                taken = insert_new(session, Lease, {"name": self.name, "holder": self.holder, "expires_at": until},
                                   "name")
            session.commit()
        return bool(taken)

    def release(self) -> None:
        with self.db.session() as session:
            session.execute(update(Lease).where(Lease.name == self.name, Lease.holder == self.holder)
                            .values(expires_at=self.clock() - dt.timedelta(seconds=1)))
            session.commit()


class PgAdvisoryLeader:
    def __init__(self, db: Database, name: str = "scheduler"):
        self.db = db
        self.key = zlib.crc32(f"dxlab:{name}".encode())  # a stable 32-bit key for this lock
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        try:
            if self._conn is not None:
                self._conn.execute(text("SELECT 1"))  # still connected: still the holder
                return True
            conn = self.db.engine.connect()
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
            conn.commit()
            if got:
                self._conn = conn
            else:
                conn.close()
            return got
        except DBAPIError as exc:
            log.warning("scheduler: lost the leader lock's connection: %s", exc)
            self._drop()
            return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                self._conn.commit()
            except DBAPIError:
                pass
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except DBAPIError:
                pass
            self._conn = None


def leader_for(db: Database) -> LeaseLeader | PgAdvisoryLeader:
    return PgAdvisoryLeader(db) if db.engine.dialect.name == "postgresql" else LeaseLeader(db)
