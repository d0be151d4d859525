"""Readiness: can the bot do its work right now? (`/healthz` stays a cheap liveness check.)"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.db.session import Database

_running: weakref.WeakKeyDictionary[Database, threading.Thread] = weakref.WeakKeyDictionary()
_running_lock = threading.Lock()


def check_database(db: Database, timeout_s: float = 1.0) -> tuple[bool, str]:
    """(ready, why) within about `timeout_s`, however the database misbehaves.

    PostgreSQL (and any other server) must answer `SELECT 1`. SQLite must grant a write lock on a
    separate connection with a short busy timeout: a writer holding the database (a stuck
    transaction, another process) makes the bot unable to log or take work even though reads pass.
    The probe runs on a thread; if it has not returned in time the answer is "not ready", and
    until that probe returns, later checks say so at once instead of piling up threads."""
    with _running_lock:
        previous = _running.get(db)
        if previous is not None and previous.is_alive():
            return False, "the previous database check has not returned yet"
        outcome: list[tuple[bool, str]] = []
        thread = threading.Thread(target=_probe, args=(db, timeout_s, outcome), name="readyz-db", daemon=True)
        _running[db] = thread
        thread.start()
    thread.join(timeout_s)
    if not outcome:
        return False, f"the database did not answer within {timeout_s:g} s"
    return outcome[0]


def _probe(db: Database, timeout_s: float, outcome: list[tuple[bool, str]]) -> None:
    try:
        url = make_url(db.url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            _sqlite_write_lock(url.database, busy_s=timeout_s / 4)
        else:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        outcome.append((True, "ok"))
    except Exception as exc:  # any failure is the answer, not a crash of the probe
        outcome.append((False, f"{type(exc).__name__}: {exc}".splitlines()[0]))


def _sqlite_write_lock(path: str, busy_s: float) -> None:
    # mode=rw: a missing file is an error here, not a new empty database.
    conn = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=rw", uri=True, timeout=busy_s, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    finally:
        conn.close()
