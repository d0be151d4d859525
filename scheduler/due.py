"""Due work: scheduled steps (an SLA check, a reminder, a nudge round) are rows with a due time.

The runner claims due rows the same safe way the outbox does (bot/db/repos/outbox_worker.py) and calls
an injected `execute(row)`: the dispatcher runs the step's handler and marks the row done in the
handler's own transaction (`mark_done_sql`), so "the step ran" and what it wrote commit together. When
`execute` raises, the runner records the error and retries with backoff, giving up after
`max_attempts`.

`run_due(now)` is what `dxlab jobs run-due --now …` and the leader's tick both run: due steps, then the
outbox, at one instant, repeated until nothing more is due at it (a step that schedules another step
due at the same instant runs too). Run twice at the same instant, it finds nothing the second time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 8
CLAIM_S = 45.0
BATCH = 50
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0
MAX_ROUNDS = 100  # a step chain longer than this at one instant is a bug (a step rescheduling itself)


@dataclass(frozen=True)
class DueRow:
    id: int
    kind: str
    key: str
    due_at: dt.datetime
    payload: dict[str, Any]
    attempts: int  # including this one


class DueStore(Protocol):
    def claim(self, worker: str, now: dt.datetime, limit: int, claim_s: float) -> list[DueRow]: ...

    def finish(self, row_id: int, now: dt.datetime) -> bool:
        """Mark done if `execute` did not already (idempotent)."""
        ...

    def retry(self, row_id: int, next_at: dt.datetime, error: str) -> None: ...

    def fail(self, row_id: int, error: str) -> None: ...


Execute = Callable[[DueRow], Awaitable[None]]


class DeliversReady(Protocol):
    async def deliver_ready(self) -> Any: ...


@dataclass
class DueReport:
    ran: int = 0
    retried: int = 0
    failed: list[dict[str, object]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"ran": self.ran, "retried": self.retried, "given_up": self.failed}


class DueRunner:
    def __init__(self, store: DueStore, execute: Execute, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                 rng: random.Random | None = None, worker_id: str | None = None):
        self.store = store
        self.execute = execute
        self.max_attempts = max_attempts
        self.worker_id = worker_id or f"d-{uuid.uuid4().hex[:12]}"
        self._rng = rng or random.Random()

    async def run_ready(self, now: dt.datetime) -> DueReport:
        """Run every step due at `now`, including steps those steps make due at `now`."""
        report = DueReport()
        for _ in range(MAX_ROUNDS):
            rows = await asyncio.to_thread(self.store.claim, self.worker_id, now, BATCH, CLAIM_S)
            if not rows:
                return report
            for row in rows:
                await self._run(row, now, report)
        log.error("due: still finding due steps after %d rounds at %s; stopping", MAX_ROUNDS, now.isoformat())
        return report

    async def _run(self, row: DueRow, now: dt.datetime, report: DueReport) -> None:
        try:
            await self.execute(row)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if row.attempts >= self.max_attempts:
                log.error("due: gave up %s (%s) after %d attempts", row.key, row.kind, row.attempts, exc_info=exc)
                await asyncio.to_thread(self.store.fail, row.id, error)
                report.failed.append({"key": row.key, "kind": row.kind, "attempts": row.attempts, "error": error})
            else:
                log.warning("due: step %s (%s) failed; retrying", row.key, row.kind, exc_info=exc)
                ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (row.attempts - 1))
                delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
                await asyncio.to_thread(self.store.retry, row.id, now + dt.timedelta(seconds=delay), error)
                report.retried += 1
            return
        await asyncio.to_thread(self.store.finish, row.id, now)
        report.ran += 1


async def run_due(now: dt.datetime, runner: DueRunner, outbox: DeliversReady) -> dict[str, object]:
    """Due steps, then the outbox, at `now`; again until a round finds no step (see the module doc)."""
    steps = DueReport()
    sent, retried, given_up = 0, 0, []
    for _ in range(MAX_ROUNDS):
        round_ = await runner.run_ready(now)
        steps.ran += round_.ran
        steps.retried += round_.retried
        steps.failed.extend(round_.failed)
        delivered = await outbox.deliver_ready()
        sent += delivered.sent
        retried += delivered.retried
        given_up.extend(delivered.failed)
        if round_.ran == 0 and round_.retried == 0 and not round_.failed:
            break
    return {"now": now.isoformat(), "steps": steps.to_json(),
            "outbox": {"sent": sent, "retried": retried, "given_up": given_up}}
