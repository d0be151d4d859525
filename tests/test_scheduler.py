"""The scheduler wrapper and its jobs, on a real AsyncIOScheduler."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from bot.db.session import Database
from bot.db.store import SqlStore
from knowledge.live import LiveKnowledge
from scheduler.jobs import purge_processed_events, reload_knowledge_if_changed
from scheduler.runner import Scheduler
from tests.helpers import copy_knowledge


async def test_run_now_and_repeating_jobs_fire(tmp_path: Path) -> None:
    store = SqlStore(Database(f"sqlite:///{tmp_path / 's.db'}"))
    store.claim_event("old", dt.timedelta(seconds=-5))
    fired = asyncio.Event()

    async def tick() -> None:
        fired.set()

    scheduler = Scheduler()
    scheduler.run_repeating("purge", lambda: purge_processed_events(store), seconds=3600)
    scheduler.run_repeating("tick", tick, seconds=0.05)  # the first run comes one interval after start
    scheduler.start()
    try:
        await scheduler.run_now("purge")
        await asyncio.wait_for(fired.wait(), timeout=10)
    finally:
        await scheduler.stop()
    assert store.claim_event("old", dt.timedelta(hours=1))  # the expired row was purged


async def test_failing_job_is_contained(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    async def boom() -> None:
        raise RuntimeError("job failed on purpose")

    scheduler = Scheduler()
    scheduler.run_repeating("boom", boom, seconds=3600)
    scheduler.start()
    try:
        await scheduler.run_now("boom")
    finally:
        await scheduler.stop()
    assert "scheduled job boom failed" in caplog.text


async def test_knowledge_reload_job(tmp_path: Path) -> None:
    root = copy_knowledge(tmp_path)
    live = LiveKnowledge(root)
    assert not await reload_knowledge_if_changed(live)
    (root / "synonyms.yaml").write_text((root / "synonyms.yaml").read_text(encoding="utf-8") + "\n",
                                        encoding="utf-8")
    assert await reload_knowledge_if_changed(live)
