"""Work that outlives the request which started it, tracked so that shutdown can wait for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class BackgroundTasks:
    """A set of running tasks: each is referenced until done, and `close()` awaits them all.

    Unlike a bare `asyncio.ensure_future`, nothing is garbage-collected mid-flight, nothing is
    cut off at shutdown without notice, and an exception that escapes a task is logged with its
    traceback instead of vanishing.
    """

    def __init__(self, name: str):
        self.name = name
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: background task failed", self.name)

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no task is running (tasks started meanwhile too); False if `timeout` ran out first.

        Waiting never cancels the tasks (unlike `gather`, whose cancellation reaches its children).
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return True

    async def close(self, timeout: float = 30.0) -> None:
        """Let running work finish for up to `timeout` seconds, then cancel what is left."""
        if not self._tasks:
            return
        log.info("%s: waiting for %d background task(s)", self.name, len(self._tasks))
        if await self.wait_idle(timeout):
            return
        log.warning("%s: cancelling %d task(s) still running after %.0f s", self.name, len(self._tasks), timeout)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.wait(set(self._tasks))
