"""Outbox throughput: 800 lab channels × 1 message through the worker, the Slack sender and a SQLite
outbox, against the fake Slack Web API on 127.0.0.1 (zero latency).

1. No rate limit (DXLAB_SEND_RATE=0): messages per second. Target ≥ 200 msg/s on 2 cores.
2. 10% of posts answered 429 (Retry-After 1 s, pausing the whole workspace): 0 lost, 0 duplicated,
   total time printed.
Run: `python -m benchmarks.bench_outbox` (or `make bench`).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.slack_sender import SlackSender
from bot.db.repos.outbox_worker import SqlOutboxQueue
from bot.db.repos.work import SqlOutboxWriter
from bot.db.session import Database
from handlers.address import Address
from handlers.messages import Reply
from handlers.outcome import Lane, Send
from scheduler.outbox import OutboxWorker, utc_now
from tests.fake_slack import BOT_TOKEN, FakeSlack

CHANNELS = 800
TARGET_MSG_S = 200.0


async def run(folder: Path, name: str, chaos_429: float) -> tuple[float, Counter[str], int]:
    fake = await FakeSlack(chaos_429=chaos_429).start()
    db = Database(f"sqlite:///{folder / name}.db")
    with db.session() as session:
        writer = SqlOutboxWriter(session)
        for n in range(CHANNELS):
            to = Address("slack", f"C{n:08d}", workspace="T0000001")
            writer.enqueue(Send(to, Reply(text=f"交流会のお知らせ ({n})"), f"event-42:{n}", lane=Lane.BULK), utc_now())
        session.commit()
    sender = SlackSender(AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url, timeout=10))
    worker = OutboxWorker(SqlOutboxQueue(db), {"slack": sender}, send_rate=0)
    started = time.perf_counter()
    report = await worker.drain()
    elapsed = time.perf_counter() - started
    keys = Counter(c["metadata"]["event_payload"]["key"] for c in fake.calls_to("chat.postMessage"))
    status = await worker.status()
    await sender.close()
    await fake.close()
    db.dispose()
    assert report.sent + len(report.failed) <= CHANNELS
    return elapsed, keys, int(status["counts"]["sent"])  # type: ignore[index]


async def main() -> int:
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, keys, sent = await run(Path(tmp), "plain", 0.0)
        rate = CHANNELS / elapsed
        print(f"outbox, no rate limit: {CHANNELS} messages in {elapsed:.2f} s = {rate:.0f} msg/s "
              f"(target >= {TARGET_MSG_S:.0f}); rows sent {sent}")
        ok &= rate >= TARGET_MSG_S and sent == CHANNELS and len(keys) == CHANNELS
        elapsed, keys, sent = await run(Path(tmp), "chaos", 0.10)
        lost = CHANNELS - len(keys)
        duplicated = sum(n - 1 for n in keys.values())
        print(f"outbox, 10% answered 429 (Retry-After 1 s): {CHANNELS} messages in {elapsed:.2f} s; "
              f"lost {lost}, duplicated {duplicated}, rows sent {sent}")
        ok &= lost == 0 and duplicated == 0 and sent == CHANNELS
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
