"""Announcement broadcast to 800 lab channels: the whole path (audience over the directory, recipients and
outbox rows written in one transaction, the outbox worker, the Slack sender) against the fake Slack Web API
on 127.0.0.1, SQLite.

1. Zero-latency Slack, no rate limit (DXLAB_SEND_RATE=0): compose time and messages/s (target ≥ 200 msg/s).
2. Realistic pacing: the default DXLAB_SEND_RATE (5 msg/s per workspace, under Slack's ~1 msg/s per channel
   and its per-workspace burst limits) and 100 ms per Slack call. Measured with a smaller N (not to wait
   minutes) and extrapolated to 800; printed beside the arithmetic bound 800 / rate.
3. Live count: after the zero-latency broadcast, REFRESHES rounds of edits of every copy pending at once (the
   refresh steps of windows the worker fell behind on): only the newest of each copy may reach Slack
   (800 chat.update calls, not 800 × REFRESHES), and how long the worker takes to sort and send them.
Run: `python -m benchmarks.bench_broadcast` (or `make bench`).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.slack_sender import SlackSender
from bot.db.repos.outbox_worker import SqlOutboxQueue
from bot.db.session import Database
from bot.db.uow import UnitsOfWork
from bot.directory.service import import_files
from handlers.address import Address
from handlers.calendar import BusinessCalendar
from handlers.events import broadcast
from handlers.events.model import EventSettings
from handlers.messages import Reply
from handlers.outcome import Send
from scheduler.outbox import DEFAULT_SEND_RATE, OutboxWorker, utc_now
from tests.events_helpers import many_labs
from tests.fake_slack import BOT_TOKEN, FakeSlack

CHANNELS = 800
PACED_SAMPLE = 40  # channels actually sent at the realistic pace (≈ 8 s), then extrapolated
SLACK_LATENCY_S = 0.1
TARGET_MSG_S = 200.0
REFRESHES = 3


def compose(units: UnitsOfWork) -> tuple[int, float]:
    started = time.perf_counter()
    with units() as uow:
        desk = broadcast.Desk(uow, utc_now(), BusinessCalendar(), EventSettings())
        _, count, sends = broadcast.compose(desk, "交流会のお知らせ", "全ラボの皆さまへ", "all", "bench")
        for send in sends:
            uow.outbox.enqueue(send, desk.now)
        uow.commit()
    return count, time.perf_counter() - started


def enqueue_refreshes(units: UnitsOfWork, rounds: int) -> None:
    """`rounds` edits of every copy of announcement 1, each round in its own transaction (as steps are)."""
    with units() as uow:
        copies = [r for r in uow.events.recipients(1) if r.address_json]
    for n in range(1, rounds + 1):
        with units() as uow:
            for r in copies:
                original = broadcast.announce_key(1, r.target)
                uow.outbox.enqueue(Send(Address.from_json(r.address_json), Reply(text=f"参加 {n}名"),
                                        f"{original}:refresh:{n}", edits=original), utc_now())
            uow.commit()


async def run(folder: Path, name: str, labs: int, send_rate: float, latency_s: float, refreshes: int = 0
              ) -> tuple[int, float, float, int, tuple[int, float]]:
    """(recipients, compose seconds, delivery seconds, channels holding exactly one copy,
    (chat.update calls, -1 if one was not the newest edit; seconds) for `refreshes` rounds of pending edits)"""
    fake = await FakeSlack(delays={"chat.postMessage": latency_s}).start()
    db = Database(f"sqlite:///{folder / name}.db")
    units = UnitsOfWork(db)
    import_files(units, [("labs.yaml", many_labs(labs))], "bench")
    count, composed = compose(units)
    sender = SlackSender(AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url, timeout=10))
    worker = OutboxWorker(SqlOutboxQueue(db), {"slack": sender}, send_rate=send_rate)
    started = time.perf_counter()
    await worker.drain()
    elapsed = time.perf_counter() - started
    once = sum(len(messages) == 1 for messages in fake.history.values())
    enqueue_refreshes(units, refreshes)
    started = time.perf_counter()
    await worker.drain()
    updates = fake.calls_to("chat.update")
    newest = all(u["text"] == f"参加 {refreshes}名" for u in updates)
    edited = (len(updates) if newest else -1, time.perf_counter() - started)
    await sender.close()
    await fake.close()
    db.dispose()
    return count, composed, elapsed, once, edited


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        count, composed, elapsed, once, (updates, edit_s) = await run(Path(tmp), "fast", CHANNELS, 0, 0.0, REFRESHES)
        rate = count / elapsed
        print(f"broadcast, zero-latency Slack, no rate limit: {count} lab channels; compose {composed:.2f} s; "
              f"delivered in {elapsed:.2f} s = {rate:.0f} msg/s (target >= {TARGET_MSG_S:.0f}); "
              f"channels with exactly one copy {once}")
        print(f"live count, {REFRESHES} refreshes of every copy pending at once: {updates} chat.update calls "
              f"(target {count}: the newest edit of each copy only) in {edit_s:.2f} s")
        ok = rate >= TARGET_MSG_S and count == CHANNELS and once == CHANNELS and updates == count
        count, _, elapsed, once, _ = await run(Path(tmp), "paced", PACED_SAMPLE, DEFAULT_SEND_RATE, SLACK_LATENCY_S)
        # the first `rate` messages go at once (the token bucket starts full); the rest at the steady pace
        burst = int(DEFAULT_SEND_RATE)
        steady = elapsed / (count - burst)
        print(f"broadcast, realistic pacing ({DEFAULT_SEND_RATE:g} msg/s per workspace, "
              f"{SLACK_LATENCY_S * 1000:.0f} ms per Slack call): measured {count} channels in {elapsed:.1f} s "
              f"({1 / steady:.2f} msg/s steady); extrapolated to {CHANNELS}: {steady * (CHANNELS - burst) / 60:.1f} "
              f"min (bound {CHANNELS / DEFAULT_SEND_RATE / 60:.1f} min = {CHANNELS} / {DEFAULT_SEND_RATE:g} per s); "
              f"exactly one copy {once}/{count}")
        ok &= once == count
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
