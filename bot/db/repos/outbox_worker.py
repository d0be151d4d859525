"""The worker side of the outbox and of due work: claiming rows safely, settling them in batches.

A claim is one statement, `UPDATE … WHERE id IN (SELECT … ready …) RETURNING …`:
- on PostgreSQL the inner SELECT is `FOR UPDATE SKIP LOCKED`, so replicas claim disjoint rows;
- on SQLite one writer holds the database while the statement runs, and the outer WHERE repeats the
  readiness test, so a serving process and a `dxlab outbox drain` on the same file never both take a row.
Ready means pending and due, or claimed by a worker whose claim has expired (it died): the takeover
marks the row's outcome unknown, so the next send looks for an earlier delivery first.

Claimed edits (rows with `edits`) are sorted in the same transaction: one with a newer edit of the same
message (pending, claimed or sent) is marked superseded; the newest waits (released) while an older edit
of its message is still in another worker's hands, so an old text never lands after a new one. The
rest carry their original's row (scheduler.outbox.Original) to the worker.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, Table, and_, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from bot.db.models import DueWork, OutboxMessage
from bot.db.models.work import CLAIMED, DONE, FAILED, PENDING, SENT, SUPERSEDED
from bot.db.session import Database
from scheduler.due import DueRow
from scheduler.outbox import EDIT_RECHECK_S, Original, OutboxRow, Settled

OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
DUE: Table = DueWork.__table__  # type: ignore[assignment]
LAST_ERRORS = 5


def _ready(table: Table, due_column: str, now: dt.datetime) -> Any:
    c = table.c
    pending = and_(c.state == PENDING, c[due_column] <= now)
    if table is OUTBOX:
        pending = and_(pending, or_(c.not_before.is_(None), c.not_before <= now))
    return or_(pending, and_(c.state == CLAIMED, c.claimed_until < now))


def claim_rows(session: Session, table: Table, due_column: str, worker: str, now: dt.datetime, limit: int,
               claim_s: float, extra: dict[str, Any] | None = None, where: Any = None) -> Sequence[Any]:
    """Claim up to `limit` ready rows of `table` for `worker` (and `where`); the claimed rows (all columns)."""
    ready = _ready(table, due_column, now) if where is None else and_(_ready(table, due_column, now), where)
    inner = select(table.c.id).where(ready).order_by(table.c[due_column]).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        inner = inner.with_for_update(skip_locked=True)
    statement = (update(table).where(table.c.id.in_(inner.scalar_subquery()), ready)
                 .values(state=CLAIMED, claimed_by=worker, claimed_until=now + dt.timedelta(seconds=claim_s),
                         attempts=table.c.attempts + 1, **(extra or {}))
                 .returning(*table.c))
    return session.execute(statement).all()


class SqlOutboxQueue:
    """scheduler.outbox.OutboxStore on SQLite and PostgreSQL."""

    def __init__(self, db: Database):
        self.db = db

    def claim(self, worker: str, now: dt.datetime, limit: int, claim_s: float) -> list[OutboxRow]:
        # A row taken over from a dead worker may have been sent just before it died.
        taken_over = {"unknown_outcome": case((OUTBOX.c.state == CLAIMED, True), else_=OUTBOX.c.unknown_outcome)}
        with self.db.session() as session:
            rows = claim_rows(session, OUTBOX, "next_attempt_at", worker, now, limit, claim_s, taken_over)
            originals, taken_back = _sort_edits(session, rows, worker, now)
            session.commit()
        return [OutboxRow(r.id, r.key, r.platform, r.address, r.payload, r.attempts, bool(r.unknown_outcome),
                          r.lane, r.pacing_key, r.workspace, r.created_at, r.edits, originals.get(r.edits or ""))
                for r in rows if r.id not in taken_back]

    def settle(self, worker: str, now: dt.datetime, results: Sequence[Settled]) -> None:
        """Write the end of many claims in one transaction (one executemany per kind of end)."""
        if not results:
            return
        mine = and_(OUTBOX.c.id == bindparam("b_id"), OUTBOX.c.state == CLAIMED, OUTBOX.c.claimed_by == worker)
        groups: dict[str, list[dict[str, Any]]] = {}
        for s in results:
            groups.setdefault(s.state, []).append(
                {"b_id": s.id, "b_platform_id": s.platform_id, "b_next": s.next_at, "b_error": s.error,
                 "b_unknown": s.unknown})
        statements = {
            "sent": update(OUTBOX).where(mine).values(
                state=SENT, platform_id=bindparam("b_platform_id"), sent_at=now, claimed_by=None,
                claimed_until=None, last_error=None),
            "retry": update(OUTBOX).where(mine).values(
                state=PENDING, next_attempt_at=bindparam("b_next"), last_error=bindparam("b_error"),
                unknown_outcome=OUTBOX.c.unknown_outcome | bindparam("b_unknown", type_=Boolean), claimed_by=None,
                claimed_until=None),
            "release": update(OUTBOX).where(mine).values(
                state=PENDING, next_attempt_at=bindparam("b_next"), attempts=OUTBOX.c.attempts - 1,
                claimed_by=None, claimed_until=None),
            "failed": update(OUTBOX).where(mine).values(
                state=FAILED, last_error=bindparam("b_error"), claimed_by=None, claimed_until=None),
        }
        with self.db.session() as session:
            for state, params in groups.items():
                session.execute(statements[state], params)
            session.commit()

    def next_wakeup(self) -> dt.datetime | None:
        c = OUTBOX.c
        with self.db.session() as session:
            pending = session.scalar(select(func.min(c.next_attempt_at)).where(c.state == PENDING))
            claimed = session.scalar(select(func.min(c.claimed_until)).where(c.state == CLAIMED))
        times = [_aware(t) for t in (pending, claimed) if t is not None]
        return min(times) if times else None

    def status(self, now: dt.datetime) -> dict[str, object]:
        c = OUTBOX.c
        with self.db.session() as session:
            counts = dict(session.execute(select(c.state, func.count()).group_by(c.state)).all())
            oldest = session.scalar(select(func.min(c.created_at)).where(c.state.in_((PENDING, CLAIMED))))
            errors = session.execute(
                select(c.key, c.state, c.attempts, c.last_error, c.next_attempt_at)
                .where(c.last_error.is_not(None)).order_by(c.id.desc()).limit(LAST_ERRORS)).all()
        return {
            "counts": {state: counts.get(state, 0) for state in (PENDING, CLAIMED, SENT, FAILED)}
            | {k: v for k, v in counts.items() if k not in (PENDING, CLAIMED, SENT, FAILED)},
            "oldest_pending_s": None if oldest is None else round((now - _aware(oldest)).total_seconds(), 1),
            "last_errors": [{"key": e.key, "state": e.state, "attempts": e.attempts, "error": e.last_error,
                             "next_attempt_at": _aware(e.next_attempt_at).isoformat()} for e in errors],
        }


def _sort_edits(session: Session, rows: Sequence[Any], worker: str, now: dt.datetime
                ) -> tuple[dict[str, Original], set[int]]:
    """Supersede or release the claimed edits that must not go now → (the originals by key, the ids of
    the rows taken back)."""
    keys = {r.edits for r in rows if r.edits}
    if not keys:
        return {}, set()
    c = OUTBOX.c
    newest = dict(session.execute(select(c.edits, func.max(c.id)).where(
        c.edits.in_(keys), c.state.in_((PENDING, CLAIMED, SENT))).group_by(c.edits)).all())
    busy = set(session.scalars(select(c.edits).where(
        c.edits.in_(keys), c.state == CLAIMED, c.claimed_by != worker, c.claimed_until >= now)))
    stale = [r.id for r in rows if r.edits and r.id < newest.get(r.edits, r.id)]
    waiting = [r.id for r in rows if r.edits in busy and r.id not in stale]
    if stale:
        session.execute(update(OUTBOX).where(c.id.in_(stale)).values(
            state=SUPERSEDED, claimed_by=None, claimed_until=None))
    if waiting:
        session.execute(update(OUTBOX).where(c.id.in_(waiting)).values(
            state=PENDING, attempts=c.attempts - 1, next_attempt_at=now + dt.timedelta(seconds=EDIT_RECHECK_S),
            claimed_by=None, claimed_until=None))
    found = {o.key: Original(o.id, o.key, o.state, o.platform_id, o.address, _aware(o.next_attempt_at))
             for o in session.execute(select(c.id, c.key, c.state, c.platform_id, c.address, c.next_attempt_at)
                                      .where(c.key.in_(keys)))}
    return found, {*stale, *waiting}


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# -- due work ----------------------------------------------------------------------------------

def mark_done_sql(session: Session, row_id: int, now: dt.datetime) -> bool:
    """Mark a claimed due row done, inside the step handler's own transaction (so the step's writes
    and "this step ran" commit together). False when the row is no longer claimed (taken over)."""
    return bool(session.execute(update(DUE).where(DUE.c.id == row_id, DUE.c.state == CLAIMED)
                                .values(state=DONE, done_at=now, claimed_by=None, claimed_until=None)).rowcount)


class SqlDueQueue:
    """scheduler.due.DueStore on SQLite and PostgreSQL; with `kinds`, only steps of those kinds."""

    def __init__(self, db: Database, kinds: Sequence[str] = ()):
        self.db = db
        self.kinds = tuple(kinds)

    def claim(self, worker: str, now: dt.datetime, limit: int, claim_s: float) -> list[DueRow]:
        where = DUE.c.kind.in_(self.kinds) if self.kinds else None
        with self.db.session() as session:
            rows = claim_rows(session, DUE, "due_at", worker, now, limit, claim_s, where=where)
            session.commit()
        return [DueRow(r.id, r.kind, r.key, _aware(r.due_at), json.loads(r.payload or "{}"), r.attempts)
                for r in sorted(rows, key=lambda r: (r.due_at, r.id))]

    def finish(self, row_id: int, now: dt.datetime) -> bool:
        with self.db.session() as session:
            done = mark_done_sql(session, row_id, now)
            session.commit()
        return done

    def retry(self, row_id: int, next_at: dt.datetime, error: str) -> None:
        self._end(row_id, state=PENDING, due_at=next_at, last_error=error)

    def fail(self, row_id: int, error: str) -> None:
        self._end(row_id, state=FAILED, last_error=error)

    def _end(self, row_id: int, **values: Any) -> None:
        with self.db.session() as session:
            session.execute(update(DUE).where(DUE.c.id == row_id, DUE.c.state == CLAIMED)
                            .values(claimed_by=None, claimed_until=None, **values))
            session.commit()


def stored_message(db: Database, row_id: int) -> tuple[str, str] | None:
    """(address JSON, payload JSON) of an outbox row: a sent message's form, opened later from its button."""
    with db.session() as s:
        row = s.get(OutboxMessage, row_id)
        return (row.address, row.payload) if row is not None else None
