"""The scheduler wrapper and its jobs, on a real AsyncIOScheduler."""

from __future__ import annotations

import asyncio
import datetime as dt
from functools import partial
from pathlib import Path

from sqlalchemy import select, text

from bot.app import build_core
from bot.db.models import InboxItem
from bot.db.repos import deliveries, inbox
from bot.server import _Expiry
from knowledge.live import LiveKnowledge
from scheduler.jobs import purge_processed_events, reload_knowledge_if_changed
from scheduler.runner import Scheduler
from tests.helpers import copy_knowledge, settings_for


async def test_hourly_purge_drops_only_expired_rows(tmp_path: Path) -> None:
    """The server's hourly purge, run on a real scheduler: expired rows go, live ones stay."""
    core = build_core(settings_for(tmp_path))
    now = dt.datetime.now(dt.UTC)
    assert deliveries.claim_once(core.db, "old", dt.timedelta(seconds=-5))
    assert deliveries.claim_once(core.db, "fresh", dt.timedelta(hours=1))
    assert inbox.accept(core.db, "slack:Ev-old", "slack", "{}", now - dt.timedelta(hours=3))
    assert inbox.accept(core.db, "slack:Ev-new", "slack", "{}", now - dt.timedelta(hours=3))
    with core.db.session() as s, s.begin():
        old_id = s.scalar(select(InboxItem.id).where(InboxItem.key == "slack:Ev-old"))
        assert old_id is not None
        inbox.mark_done(s, old_id)  # answered long ago: purged; the other one is still pending: kept
    fired = asyncio.Event()

    async def tick() -> None:
        fired.set()

    scheduler = Scheduler()
    scheduler.run_repeating("purge", partial(purge_processed_events, _Expiry(core)), seconds=3600)
    scheduler.run_repeating("tick", tick, seconds=0.05)  # the first run comes one interval after start
    scheduler.start()
    try:
        await scheduler.run_now("purge")
        await asyncio.wait_for(fired.wait(), timeout=10)
    finally:
        await scheduler.stop()
    with core.db.engine.connect() as conn:
        assert conn.execute(text("SELECT key FROM processed_event")).scalars().all() == ["fresh"]
        assert conn.execute(text("SELECT key FROM inbox")).scalars().all() == ["slack:Ev-new"]
    assert not deliveries.claim_once(core.db, "fresh", dt.timedelta(hours=1))
    core.close()


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
