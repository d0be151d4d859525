"""The inbox's group commit: concurrent deliveries share a transaction, each gets its own answer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from unittest import mock

from sqlalchemy import func, select

from bot.db.models import InboxItem
from bot.db.repos import inbox
from bot.db.session import Database
from bot.inbox_intake import InboxIntake


async def test_a_burst_is_kept_in_few_transactions_and_repeats_are_told_apart(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'i.db'}")
    intake = InboxIntake(db)
    batches: list[int] = []
    real = inbox.accept_many

    def counting(db_: Database, rows: list[tuple[str, str, str]], now):  # type: ignore[no-untyped-def]
        batches.append(len(rows))
        return real(db_, rows, now)

    with mock.patch.object(inbox, "accept_many", counting):
        keys = [f"k{n}" for n in range(100)] + ["k1", "k2"]  # two repeats inside the burst
        results = await asyncio.gather(*(intake.accept(k, "slack", "{}") for k in keys))
        again = await intake.accept("k3", "slack", "{}")
    assert results == [True] * 100 + [False, False] and again is False
    assert sum(batches) == 103 and len(batches) <= 4, batches
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(InboxItem)) == 100
    db.dispose()


async def test_a_failing_batch_is_written_row_by_row(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'i.db'}")
    intake = InboxIntake(db)
    real = inbox.accept_many

    def poisoned(db_: Database, rows: list[tuple[str, str, str]], now):  # type: ignore[no-untyped-def]
        if any(key == "bad" for key, _, _ in rows):
            raise RuntimeError("this row cannot be stored")
        return real(db_, rows, now)

    with mock.patch.object(inbox, "accept_many", poisoned):
        results = await asyncio.gather(*(intake.accept(k, "slack", "{}") for k in ("a", "bad", "b")),
                                       return_exceptions=True)
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], RuntimeError)
    db.dispose()
