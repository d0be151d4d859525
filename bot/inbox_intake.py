"""Group commit for the inbox: deliveries that arrive together are kept in one transaction.

Under a burst every acknowledgement waits for its row to be written; one transaction (and one trip to a
worker thread) per delivery makes them queue behind each other for the database's write lock. Here the
first caller starts a writer, the callers arriving meanwhile join the next batch, and each gets its own
answer (kept, or a repeat of a key kept before). A batch that fails is written again row by row, so one
bad delivery cannot refuse its neighbours.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from bot.db.repos import inbox
from bot.db.session import Database

log = logging.getLogger(__name__)

MAX_BATCH = 256
Waiting = tuple[str, str, str, "asyncio.Future[bool]"]


class InboxIntake:
    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)):
        self.db = db
        self.clock = clock
        self._waiting: list[Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def accept(self, key: str, platform: str, body: str) -> bool:
        """Keep one delivery; False when its key was kept before (a retry). Raises when it could not be kept."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((key, platform, body, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write(), name="inbox-intake")
        return await future

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            rows = [(key, platform, body) for key, platform, body, _ in batch]
            try:
                fresh = await asyncio.to_thread(inbox.accept_many, self.db, rows, self.clock())
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][3], exc)
                    continue
                log.warning("inbox: a batch of %d deliveries failed (%s); writing them one by one", len(batch), exc)
                for row, (*_, future) in zip(rows, batch, strict=True):
                    try:
                        [one] = await asyncio.to_thread(inbox.accept_many, self.db, [row], self.clock())
                        _settle(future, one)
                    except Exception as single:
                        _settle(future, single)
                continue
            for (*_, future), kept in zip(batch, fresh, strict=True):
                _settle(future, kept)


def _settle(future: asyncio.Future[bool], outcome: bool | BaseException) -> None:
    if future.done():  # the caller gave up waiting (its budget ran out)
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
