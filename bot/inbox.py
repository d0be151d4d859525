"""The inbox worker: answers the deliveries the channels acknowledged, a few at a time.

Each platform gives a `process(row, after)` coroutine that converts the stored body and hands it to the
dispatcher with `after` (which marks the row done in the answer's own transaction). Rows left by a
crashed process are taken over when their claim expires, or at start-up when that process ran on this
host (bot/db/repos/orphans.py); `wake()` starts work at once after a write.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.db.repos import inbox as repo
from bot.db.repos import orphans
from bot.db.repos.orphans import worker_name
from bot.db.session import Database
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

AfterHook = Callable[[Any], None]
Process = Callable[[repo.InboxRow, AfterHook], Awaitable[None]]
CLAIM_LEASE = dt.timedelta(seconds=10)
BATCH = 32
CONCURRENCY = 8
MAX_ATTEMPTS = 3
IDLE_POLL_S = 2.0


class InboxWorker:
    def __init__(self, db: Database, processors: dict[str, Process],
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)):
        self.db = db
        self.processors = processors
        self.clock = clock
        self.name = worker_name("inbox")
        self.tasks = BackgroundTasks("inbox")
        self._wakeup = asyncio.Event()
        self._busy = 0  # rows being answered now
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="inbox-worker")

    async def close(self, timeout: float = 8.0) -> None:
        """Stop claiming, answer what was acknowledged up to now (within `timeout`), then stop; a row left
        unanswered stays in the table for the next start."""
        if self._loop_task is not None:
            # Not cancelled mid-round: a claim running on a thread would finish without its rows being
            # answered (they would wait for the lease). The loop stops after its current round.
            self._stopping = True
            self.wake()
            done, _ = await asyncio.wait({self._loop_task}, timeout=timeout)
            if not done:
                self._loop_task.cancel()
                await asyncio.gather(self._loop_task, return_exceptions=True)
        try:
            await asyncio.wait_for(self.run_once(), timeout)
        except Exception:  # the database is gone: the rows wait for the next start
            log.warning("inbox: could not take the last deliveries at shutdown", exc_info=True)
        await self.tasks.close(timeout)

    async def _run(self) -> None:
        try:  # a crashed predecessor's claims (inbox, outbox, due work): taken over now, not after their lease
            released = await asyncio.to_thread(orphans.release_orphaned_claims, self.db, self.clock())
            if released:
                log.warning("inbox: released %d claims left by a crashed process on this host", released)
        except Exception:
            log.exception("inbox: could not release the claims of crashed processes")
        while not self._stopping:
            try:
                taken = await self.run_once()
            except Exception:
                log.exception("inbox: could not claim work")
                taken = 0
            if taken == 0 and not self._stopping:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), IDLE_POLL_S)

    async def run_once(self) -> int:
        """Claim what is ready and start answering it; the number of rows taken."""
        if self._busy >= CONCURRENCY:
            return 0  # a finishing row wakes the loop again
        rows = await asyncio.to_thread(repo.claim, self.db, self.name, self.clock(), CLAIM_LEASE,
                                       min(CONCURRENCY - self._busy, BATCH))
        for row in rows:
            self._busy += 1
            self.tasks.spawn(self._handle(row))
        return len(rows)

    async def _handle(self, row: repo.InboxRow) -> None:
        try:
            process = self.processors.get(row.platform)
            if process is None:
                raise LookupError(f"no processor for {row.platform!r} deliveries")
            await process(row, lambda uow: repo.mark_done(uow.session, row.id))
        except Exception as exc:
            log.exception("inbox: delivery %s failed (attempt %d)", row.key, row.attempts)
            await asyncio.to_thread(repo.mark_failed, self.db, row.id, f"{type(exc).__name__}: {exc}",
                                    row.attempts >= MAX_ATTEMPTS)
        finally:
            self._busy -= 1
            self.wake()
