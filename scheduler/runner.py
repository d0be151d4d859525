"""A JobQueue-like wrapper around APScheduler's AsyncIOScheduler, with leader election.

Jobs are module-level functions taking plain arguments, so a persistent job store could pickle
them later; the wrapper keeps every job's failure on one logging path.

With several replicas, only the leader runs `leader_only` jobs (due work, cron jobs); every replica
runs the others (the outbox drain: its claims make that safe). Leadership is asked of a `Leadership`
(bot/db/repos/leader.py: a PostgreSQL advisory lock, or a renewable lease row on SQLite), renewed
every `renew_s`; a new leader takes over within the lease time when the old one dies.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]
TIMEZONE = "Asia/Tokyo"
RENEW_S = 10.0  # a third of the SQLite lease (30 s)


class Leadership(Protocol):
    def acquire(self) -> bool:
        """Take or keep leadership; True while this process leads."""
        ...

    def release(self) -> None: ...


class AlwaysLeader:
    """A single process (tests, `dxlab jobs run-due`): it leads."""

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        return None


class Scheduler:
    def __init__(self, timezone: str = TIMEZONE, leadership: Leadership | None = None, renew_s: float = RENEW_S):
        self._scheduler = AsyncIOScheduler(timezone=timezone)
        self._timezone = timezone
        self._leadership = leadership or AlwaysLeader()
        self.is_leader = False
        self._scheduler.add_job(self._renew, "interval", seconds=renew_s, id="_leader", name="_leader",
                                max_instances=1, coalesce=True,
                                next_run_time=dt.datetime.now(dt.UTC))

    def run_repeating(self, name: str, job: Job, seconds: float, first_after: float | None = None,
                      leader_only: bool = False) -> None:
        """Run `job` every `seconds`; at most one run at a time, missed runs coalesced."""
        options: dict[str, object] = {}
        if first_after is not None:  # (an explicit next_run_time=None would add the job paused)
            options["next_run_time"] = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=first_after)
        self._add(name, job, "interval", leader_only, seconds=seconds, **options)

    def run_daily(self, name: str, job: Job, time: dt.time, days: str = "mon-sun", leader_only: bool = True) -> None:
        """Run `job` at `time` (Asia/Tokyo wall clock) on `days` ("mon-fri", …)."""
        self.run_cron(name, job, leader_only, day_of_week=days, hour=time.hour, minute=time.minute,
                      second=time.second)

    def run_cron(self, name: str, job: Job, leader_only: bool = True, **cron: Any) -> None:
        """A cron-style job (APScheduler's CronTrigger fields) in Asia/Tokyo."""
        self._add(name, job, CronTrigger(timezone=self._timezone, **cron), leader_only)

    async def run_now(self, name: str) -> None:
        """Run a registered job at once (for tests and for the secretariat's manual triggers)."""
        job = self._scheduler.get_job(name)
        if job is None:
            raise KeyError(name)
        await job.func()

    def start(self) -> None:
        self._scheduler.start()

    async def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
            await asyncio.sleep(0)
        if self.is_leader:
            await asyncio.to_thread(self._leadership.release)
            self.is_leader = False

    async def renew(self) -> bool:
        """Ask for (or keep) leadership now; what the scheduler also does every `renew_s`."""
        await self._renew()
        return self.is_leader

    async def _renew(self) -> None:
        try:
            leads = await asyncio.to_thread(self._leadership.acquire)
        except asyncio.CancelledError:  # shutdown during the renewal: the lease simply runs out
            return
        except Exception:
            log.exception("scheduler: could not ask for leadership")
            leads = False
        if leads != self.is_leader:
            log.info("scheduler: %s", "now the leader" if leads else "no longer the leader")
        self.is_leader = leads

    def _add(self, name: str, job: Job, trigger: Any, leader_only: bool, **options: Any) -> None:
        self._scheduler.add_job(self._guarded(name, job, leader_only), trigger, id=name, name=name,
                                replace_existing=True, max_instances=1, coalesce=True, **options)

    def _guarded(self, name: str, job: Job, leader_only: bool) -> Job:
        async def run() -> object:
            if leader_only and not self.is_leader:
                return None
            try:
                return await job()
            except asyncio.CancelledError:
                # Shutdown cancelled a run under way; its durable work resumes on the next start. Raising
                # would only make APScheduler log a traceback for an orderly stop.
                log.info("scheduled job %s stopped by shutdown", name)
                return None
            except Exception:
                log.exception("scheduled job %s failed", name)
                return None

        run.__name__ = name
        return run
