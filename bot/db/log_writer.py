"""Write-behind question logging for the streaming CLI (`dxlab ask --jsonl`).

Every question is still logged, but by a worker thread in batches, so an answer never waits for
the database (a WAL checkpoint's fsync can take milliseconds). `close()` drains what is queued.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time

from sqlalchemy import insert

from bot.db.models import QuestionLog
from bot.db.repos.questions import question_row
from bot.db.session import Database
from handlers.ports import QuestionRecord

log = logging.getLogger(__name__)
BATCH = 100
GATHER_SECONDS = 0.1
SWITCH_INTERVAL = 0.0005
_STOP = object()


class QuestionLogWriter:
    def __init__(self, db: Database):
        # The writer thread may hold the interpreter lock for up to the switch interval (5 ms by
        # default) once its insert returns; a shorter interval bounds how long an answer waits.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self.db = db
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="question-log", daemon=True)
        self._thread.start()

    def submit(self, record: QuestionRecord) -> None:
        self._queue.put(question_row(record))

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            rows = [self._queue.get()]
            deadline = time.monotonic() + GATHER_SECONDS  # fewer, larger writes: fewer interruptions
            while len(rows) < BATCH and rows[-1] is not _STOP:
                try:
                    rows.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            stopping = rows[-1] is _STOP
            rows = [r for r in rows if r is not _STOP]
            if rows:
                try:
                    with self.db.engine.begin() as conn:
                        conn.execute(insert(QuestionLog), rows)
                except Exception:  # a logging failure must not take answering down with it
                    log.exception("could not log %d questions", len(rows))
