"""A JobQueue-like wrapper around APScheduler's AsyncIOScheduler.

Jobs are module-level functions taking plain arguments, so a persistent job store could pickle
them later; the wrapper keeps every job's failure on one logging path.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


class Scheduler:
    def __init__(self, timezone: str = "Asia/Tokyo"):
        self._scheduler = AsyncIOScheduler(timezone=timezone)

    def run_repeating(self, name: str, job: Job, seconds: float, first_after: float | None = None) -> None:
        """Run `job` every `seconds`; at most one run at a time, missed runs coalesced."""
        options: dict[str, object] = {}
        if first_after is not None:  # (an explicit next_run_time=None would add the job paused)
            options["next_run_time"] = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=first_after)
        self._scheduler.add_job(self._guarded(name, job), "interval", seconds=seconds, id=name, name=name,
                                replace_existing=True, max_instances=1, coalesce=True, **options)

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

    @staticmethod
    def _guarded(name: str, job: Job) -> Job:
        async def run() -> object:
            try:
                return await job()
            except Exception:
                log.exception("scheduled job %s failed", name)
                return None

        run.__name__ = name
        return run
