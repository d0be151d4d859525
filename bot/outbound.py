"""Wiring of the outbound machine for the server and the CLI: the outbox worker, the due-work runner,
and their place in the scheduler (every replica drains the outbox; only the leader ticks due work)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping

from bot.config import Settings
from bot.db.repos.orphans import worker_name
from bot.db.repos.outbox_worker import SqlDueQueue, SqlOutboxQueue
from bot.db.session import Database
from scheduler.due import DueRow, DueRunner, run_due
from scheduler.outbox import Clock, OutboxWorker, Sender, utc_now
from scheduler.runner import Scheduler

DUE_TICK_S = 5.0
STOP_WAIT_S = 5.0


def outbox_worker(db: Database, senders: Mapping[str, Sender], settings: Settings,
                  clock: Clock = utc_now) -> OutboxWorker:
    return OutboxWorker(SqlOutboxQueue(db), dict(senders), clock=clock, send_rate=settings.send_rate,
                        max_attempts=settings.outbox_max_attempts, worker_id=worker_name("outbox"))


def due_runner(db: Database, execute: Callable[[DueRow], Awaitable[None]], settings: Settings,
               kinds: tuple[str, ...] = ()) -> DueRunner:
    """`kinds`: only these step kinds (empty: all)."""
    return DueRunner(SqlDueQueue(db, kinds=kinds), execute, max_attempts=settings.outbox_max_attempts,
                     worker_id=worker_name("due"))


async def run_due_at(db: Database, senders: Mapping[str, Sender], execute: Callable[[DueRow], Awaitable[None]],
                     settings: Settings, now: dt.datetime, kinds: tuple[str, ...] = ()) -> dict[str, object]:
    """`dxlab jobs run-due --now` (and `dxlab kpi run`, with its kinds): one fixed instant for due times,
    not_before and backoff."""
    worker = outbox_worker(db, senders, settings, clock=lambda: now)
    return await run_due(now, due_runner(db, execute, settings, kinds), worker)


class Outbound:
    """In the server: the outbox loop as a tracked task (woken by the dispatcher after enqueueing) and
    the leader-only due tick. `await outbound.stop()` on shutdown."""

    def __init__(self, db: Database, senders: Mapping[str, Sender], execute: Callable[[DueRow], Awaitable[None]],
                 settings: Settings, scheduler: Scheduler):
        self.worker = outbox_worker(db, senders, settings)
        self.runner = due_runner(db, execute, settings)
        self._scheduler = scheduler
        self._task: asyncio.Task[None] | None = None
        scheduler.run_repeating("due-work", self.tick, DUE_TICK_S, first_after=0.5, leader_only=True)

    async def tick(self) -> None:
        await run_due(utc_now(), self.runner, self.worker)

    def wake(self) -> None:
        self.worker.wake()

    def start(self) -> None:
        self._task = asyncio.create_task(self.worker.run_forever(), name="outbox")

    async def stop(self) -> None:
        self.worker.stop()  # the loop ends after its current round (its sends settle)
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, STOP_WAIT_S)
            except TimeoutError:  # cancelled mid-send: the claims expire and the rows are reconciled
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
