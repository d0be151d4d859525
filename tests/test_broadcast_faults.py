"""A broadcast to 800 lab channels survives a hostile Slack and a killed worker: injected 429s and 5xx,
one "posted but the answer was lost" per 100, the worker process SIGKILLed mid-broadcast and another
started → every lab channel has exactly one copy, none lost, and the delivery report says so."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections import Counter

from bot.app import Core
from bot.db.repos.outbox_worker import SqlOutboxQueue
from bot.directory.service import import_files
from scheduler.outbox import OutboxWorker, utc_now
from tests.events_helpers import dxlab, many_labs
from tests.fake_slack import BOT_TOKEN, FakeSlack
from tests.helpers import REPO
from tests.test_outbox import sender

pytest_plugins = ["tests.events_fixtures"]

LABS = 800
WORKER = """
import asyncio, sys
from slack_sdk.web.async_client import AsyncWebClient
from bot.channels.slack_sender import SlackSender
from bot.db.repos.outbox_worker import SqlOutboxQueue
from bot.db.session import Database
from scheduler.outbox import OutboxWorker
sender = SlackSender(AsyncWebClient(token=sys.argv[3], base_url=sys.argv[2], timeout=600))
worker = OutboxWorker(SqlOutboxQueue(Database(sys.argv[1])), {"slack": sender}, send_rate=0, backoff_base_s=0.05)
asyncio.run(worker.drain())
"""


async def test_800_channels_exactly_once_through_faults_and_a_killed_worker(core: Core, fake_slack: FakeSlack) -> None:
    plan = import_files(core.units, [("labs.yaml", many_labs(LABS))], "test", prune=True)
    assert not plan.errors
    code, sent = await dxlab("announce", "send", "--to", "all", "--title", "全ラボへのお知らせ",
                             "--text", "交流会の参加者を募集しています。", "--json")
    assert code == 0 and sent["recipients"] == LABS
    script: list[str] = []
    for n in range(1, 1200):
        script.append("drop" if n % 100 == 0 else "500" if n % 100 == 50 else "429:0" if n % 100 == 75 else "")
    fake_slack.faults["chat.postMessage"] = script
    fake_slack.chaos_429, fake_slack.chaos_retry_after = 0.005, "1"  # and a few real Retry-After pauses
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", WORKER, core.settings.database_url, fake_slack.api_url,
                                BOT_TOKEN], cwd=REPO, env=env)
    try:
        await fake_slack.wait_for("chat.postMessage", count=300, timeout=40)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    posted_before_kill = len(fake_slack.calls_to("chat.postMessage"))
    assert posted_before_kill < LABS  # killed mid-broadcast, holding claims on rows it may have posted
    status = SqlOutboxQueue(core.db).status(utc_now())
    print(f"posted before the kill: {posted_before_kill}; outbox then: {status['counts']}")
    assert status["counts"]["claimed"] > 0  # type: ignore[index]
    later = dt.timedelta(seconds=60)  # the dead worker's claims have expired by then
    restarted = OutboxWorker(SqlOutboxQueue(core.db), {"slack": sender(fake_slack)}, send_rate=0,
                             backoff_base_s=0.05, clock=lambda: utc_now() + later)
    report = await restarted.drain()
    assert not report.failed
    copies = Counter(m["metadata"]["event_payload"]["key"] for channel in fake_slack.history.values()
                     for m in channel)
    assert len(copies) == LABS and set(copies.values()) == {1}  # every channel once, none twice
    assert all(len(fake_slack.messages_in(f"C{n:07d}")) == 1 for n in range(LABS))
    assert len(fake_slack.calls_to("conversations.history")) >= 8  # the lost answers were looked up, not resent
    code, delivery = await dxlab("announce", "report", "1", "--json")
    assert (delivery["recipients"], delivery["sent"], delivery["failed"], delivery["pending"]) == (LABS, LABS, 0, 0)
