"""Readiness of the database: a locked SQLite file or a silent server is "not ready" in time."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.db.session import Database
from bot.health import check_database

PG_URL = os.environ.get("DXLAB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _timed(db: Database, timeout_s: float = 1.0) -> tuple[bool, str, float]:
    start = time.monotonic()
    ok, why = check_database(db, timeout_s)
    return ok, why, time.monotonic() - start


def test_sqlite_ready_then_locked_by_another_connection_then_ready(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = Database(f"sqlite:///{path}")
    try:
        assert _timed(db)[:2] == (True, "ok")
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            ok, why, took = _timed(db)
            assert not ok and "locked" in why and took < 1.5
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert check_database(db) == (True, "ok")
    finally:
        db.dispose()


def test_a_missing_sqlite_file_is_not_ready_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    db = Database(f"sqlite:///{path}", migrate=False)
    ok, why = check_database(db)
    assert not ok and "unable to open" in why
    assert not path.exists()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP peer that accepts connections and never says a word (a frozen database server)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def test_a_server_that_never_answers_is_not_ready_within_the_timeout(silent_server: int) -> None:
    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:{silent_server}/test", migrate=False)
    try:
        ok, why, took = _timed(db, 0.5)
        assert not ok and "did not answer within 0.5 s" in why and took < 1.0
        # The stuck probe is not joined by another one: the next check answers at once.
        ok, why, took = _timed(db, 0.5)
        assert not ok and "previous database check" in why and took < 0.1
    finally:
        db.dispose()


def test_postgresql_ready() -> None:
    db = Database(PG_URL, migrate=False)
    try:
        ok, why = check_database(db, 2.0)
        if not ok and os.environ.get("CI") != "true" and "did not answer" not in why:
            pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {why}")
        assert (ok, why) == (True, "ok")
    finally:
        db.dispose()
