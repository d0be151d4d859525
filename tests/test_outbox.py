"""The outbox worker against the fake Slack Web API on 127.0.0.1: sends, pacing, retries, reconcile, claims."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.channels.slack_sender import EVENT_TYPE, SlackSender
from bot.db.models import OutboxMessage
from bot.db.repos.outbox_worker import SqlOutboxQueue
from bot.db.repos.work import SqlOutboxWriter
from bot.db.session import Database
from handlers.address import Address
from handlers.messages import Reply
from handlers.outcome import Lane, Send
from scheduler.outbox import OutboxWorker, utc_now
from tests.fake_slack import BOT_TOKEN, FakeSlack
from tests.helpers import REPO
from tests.pg import pg_database

CHANNEL = Address("slack", "C0000001", workspace="T1")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'outbox.db'}")
    yield database
    database.dispose()


OPEN: list[SlackSender] = []


@pytest.fixture(autouse=True)
async def close_senders() -> AsyncIterator[None]:
    yield
    while OPEN:
        await OPEN.pop().close()


def sender(fake: FakeSlack, timeout: int = 5) -> SlackSender:
    OPEN.append(SlackSender(AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url, timeout=timeout)))
    return OPEN[-1]


def worker(db: Database, fake: FakeSlack, **options: object) -> OutboxWorker:
    defaults: dict[str, object] = {"backoff_base_s": 0.05, "send_rate": 0}
    return OutboxWorker(SqlOutboxQueue(db), {"slack": sender(fake)}, **(defaults | options))  # type: ignore[arg-type]


def enqueue(db: Database, *sends: Send) -> None:
    with db.session() as session:
        writer = SqlOutboxWriter(session)
        for send in sends:
            writer.enqueue(send, utc_now())
        session.commit()


def send(key: str, to: Address = CHANNEL, text: str = "お知らせです。", lane: Lane = Lane.REPLY) -> Send:
    return Send(to, Reply(text=text), key, lane=lane)


def rows(db: Database) -> dict[str, OutboxMessage]:
    with db.session() as session:
        return {r.key: r for r in session.scalars(select(OutboxMessage))}


async def test_sends_to_a_channel_a_thread_and_a_dm(db: Database, fake_slack: FakeSlack) -> None:
    enqueue(db, send("k-channel"), send("k-thread", CHANNEL.in_thread("1700000001.000100")),
            send("k-dm", Address("slack", user="U0000042", workspace="T1")))
    report = await worker(db, fake_slack).drain()
    assert report.sent == 3 and not report.failed
    posts = {p["metadata"]["event_payload"]["key"]: p for p in fake_slack.calls_to("chat.postMessage")}
    assert posts["k-channel"]["channel"] == "C0000001" and "thread_ts" not in posts["k-channel"]
    assert (posts["k-thread"]["channel"], posts["k-thread"]["thread_ts"]) == ("C0000001", "1700000001.000100")
    assert fake_slack.calls_to("conversations.open") == [{"users": "U0000042"}]
    assert posts["k-dm"]["channel"] == "D0000042"
    assert all(p["metadata"]["event_type"] == EVENT_TYPE and p["text"] == "お知らせです。" for p in posts.values())
    stored = rows(db)
    assert {k: r.state for k, r in stored.items()} == {"k-channel": "sent", "k-thread": "sent", "k-dm": "sent"}
    posted_ts = {m["ts"] for m in fake_slack.messages_in("C0000001")}
    assert stored["k-channel"].platform_id in posted_ts and stored["k-thread"].platform_id in posted_ts


async def test_private_reply_goes_ephemeral_or_to_the_response_url(db: Database, fake_slack: FakeSlack) -> None:
    user_here = Address("slack", "C0000001", "U0000007", workspace="T1")
    hook = Address("slack", "C0000001", "U0000007", workspace="T1", response_url=fake_slack.response_url("h1"))
    enqueue(db, Send(user_here, Reply(text="あなただけに").private(), "k-eph"),
            Send(hook, Reply(text="フックで").private(), "k-hook"))
    assert (await worker(db, fake_slack).drain()).sent == 2
    (ephemeral,) = fake_slack.calls_to("chat.postEphemeral")
    assert (ephemeral["channel"], ephemeral["user"]) == ("C0000001", "U0000007")
    (hooked,) = fake_slack.calls_to("response_url")
    assert hooked["response_type"] == "ephemeral" and hooked["text"] == "フックで"
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_429_pauses_the_workspace_for_retry_after(db: Database, fake_slack: FakeSlack) -> None:
    fake_slack.faults["chat.postMessage"] = ["429:1"]
    enqueue(db, send("k1"), send("k2", Address("slack", "C0000002", workspace="T1")))
    started = time.monotonic()
    report = await worker(db, fake_slack, in_flight=1).drain()  # one at a time: the second is not yet out
    assert report.sent == 2
    posts = [c for c in fake_slack.calls if c.method == "chat.postMessage"]
    assert len(posts) == 2  # the refused one was sent again, once
    assert min(c.at for c in posts) - started >= 0.95  # neither went before Retry-After ran out
    assert {r.attempts for r in rows(db).values()} == {1}  # a 429 is not a failed attempt


async def test_5xx_is_retried_after_looking_for_the_message(db: Database, fake_slack: FakeSlack) -> None:
    fake_slack.faults["chat.postMessage"] = ["500"]
    enqueue(db, send("k-5xx"))
    report = await worker(db, fake_slack).drain()
    assert report.sent == 1 and report.retried == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # the 500 did not post
    assert len(fake_slack.calls_to("conversations.history")) == 1  # reconciled first: not found, so sent
    row = rows(db)["k-5xx"]
    assert (row.state, row.attempts) == ("sent", 2)


@pytest.mark.parametrize("where", ["channel", "thread"])
async def test_sent_but_answer_lost_is_reconciled_without_a_duplicate(db: Database, fake_slack: FakeSlack,
                                                                      where: str) -> None:
    to = CHANNEL if where == "channel" else CHANNEL.in_thread("1700000001.000100")
    enqueue(db, send("k-other", Address("slack", "C0000001", workspace="T1"), "別件"))
    await worker(db, fake_slack).drain()
    fake_slack.faults["chat.postMessage"] = ["drop"]
    enqueue(db, send("k-lost", to))
    report = await worker(db, fake_slack).drain()
    assert report.sent == 1 and report.retried == 1
    keys = [p["metadata"]["event_payload"]["key"] for p in fake_slack.calls_to("chat.postMessage")]
    assert keys.count("k-lost") == 1
    lookup = "conversations.history" if where == "channel" else "conversations.replies"
    (asked,) = fake_slack.calls_to(lookup)
    assert asked["channel"] == "C0000001" and asked["include_all_metadata"] in (True, "1", "true")
    row = rows(db)["k-lost"]
    posted = next(m for m in fake_slack.messages_in("C0000001") if m["metadata"]["event_payload"]["key"] == "k-lost")
    assert (row.state, row.platform_id) == ("sent", posted["ts"])


async def test_a_row_given_up_after_n_tries_shows_in_status(db: Database, fake_slack: FakeSlack) -> None:
    fake_slack.faults["chat.postMessage"] = ["500"] * 3
    fake_slack.fail_methods.add("chat.postEphemeral")
    enqueue(db, send("k-flaky"), Send(Address("slack", "C0000009", "U1"), Reply(text="x").private(), "k-gone"))
    w = worker(db, fake_slack, max_attempts=3)
    report = await w.drain()
    assert sorted(f["key"] for f in report.failed) == ["k-flaky", "k-gone"]
    status = await w.status()
    assert status["counts"]["failed"] == 2 and status["counts"]["pending"] == 0  # type: ignore[index]
    errors = {e["key"]: e for e in status["last_errors"]}  # type: ignore[attr-defined]
    assert errors["k-flaky"]["attempts"] == 3 and "HTTP 500" in errors["k-flaky"]["error"]
    assert errors["k-gone"]["attempts"] == 1 and "channel_not_found" in errors["k-gone"]["error"]


async def test_bulk_rows_to_one_channel_go_at_least_a_second_apart(db: Database, fake_slack: FakeSlack) -> None:
    enqueue(db, send("b1", lane=Lane.BULK), send("b2", lane=Lane.BULK),
            send("b3", Address("slack", "C0000002", workspace="T1"), lane=Lane.BULK))
    await worker(db, fake_slack).drain()
    at = {c.args["metadata"]["event_payload"]["key"]: c.at for c in fake_slack.calls if c.method == "chat.postMessage"}
    assert abs(at["b2"] - at["b1"]) >= 0.95
    assert abs(at["b3"] - min(at["b1"], at["b2"])) < 0.5  # another channel is not held back


async def test_send_rate_limits_a_workspace(db: Database, fake_slack: FakeSlack) -> None:
    enqueue(db, *(send(f"r{i}", Address("slack", f"C{i:07d}", workspace="T1"), lane=Lane.BULK) for i in range(8)))
    started = time.monotonic()
    await worker(db, fake_slack, send_rate=4).drain()
    at = sorted(c.at - started for c in fake_slack.calls if c.method == "chat.postMessage")
    assert len(at) == 8
    assert at[-1] >= 0.9  # 4 at once (the bucket), then 4 more at 4 per second


async def test_two_workers_on_postgresql_never_send_one_row_twice(fake_slack: FakeSlack) -> None:
    with pg_database() as url:
        first, second = Database(url), Database(url)
        try:
            enqueue(first, *(send(f"pg{i}", Address("slack", f"C{i:07d}", workspace="T1")) for i in range(300)))
            # No post is answered before 26 are in flight, more than one worker's batch of 25: so both
            # workers have claimed rows, however the two are scheduled on a loaded machine (a delay per
            # post, 0.02 s and then 0.1 s, still let one worker drain all 300 alone under load).
            fake_slack.hold_until["chat.postMessage"] = 26
            a, b = worker(first, fake_slack, batch=25), worker(second, fake_slack, batch=25)
            ra, rb = await asyncio.gather(a.drain(), b.drain())
            assert ra.sent + rb.sent == 300 and ra.sent > 0 and rb.sent > 0
            keys = [p["metadata"]["event_payload"]["key"] for p in fake_slack.calls_to("chat.postMessage")]
            assert len(keys) == 300 and len(set(keys)) == 300
        finally:
            first.dispose()
            second.dispose()


async def test_two_workers_on_one_sqlite_file_never_send_one_row_twice(db: Database, fake_slack: FakeSlack) -> None:
    other = Database(db.url)
    enqueue(db, *(send(f"sq{i}", Address("slack", f"C{i:07d}", workspace="T1")) for i in range(200)))
    ra, rb = await asyncio.gather(worker(db, fake_slack, batch=20).drain(),
                                  worker(other, fake_slack, batch=20).drain())
    other.dispose()
    keys = [p["metadata"]["event_payload"]["key"] for p in fake_slack.calls_to("chat.postMessage")]
    assert ra.sent + rb.sent == 200 and len(keys) == 200 and len(set(keys)) == 200


WORKER_SCRIPT = """
import asyncio, sys
from slack_sdk.web.async_client import AsyncWebClient
from bot.channels.slack_sender import SlackSender
from bot.db.repos.outbox_worker import SqlOutboxQueue
from bot.db.session import Database
from scheduler.outbox import OutboxWorker
sender = SlackSender(AsyncWebClient(token=sys.argv[3], base_url=sys.argv[2], timeout=600))
asyncio.run(OutboxWorker(SqlOutboxQueue(Database(sys.argv[1])), {"slack": sender}).deliver_ready())
"""


async def test_worker_killed_between_send_and_commit_sends_nothing_twice(db: Database, fake_slack: FakeSlack) -> None:
    fake_slack.faults["chat.postMessage"] = ["hang"]  # posted, then the answer never comes back
    enqueue(db, send("k-crash"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, db.url, fake_slack.api_url, BOT_TOKEN],
                               cwd=REPO, env=env)
    try:
        await fake_slack.wait_for("chat.postMessage", timeout=30)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert rows(db)["k-crash"].state == "claimed"  # the dead worker's claim
    later = utc_now() + dt.timedelta(seconds=60)  # its claim has expired by then
    report = await worker(db, fake_slack, clock=lambda: later).drain(until_empty=False)
    assert report.sent == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert len(fake_slack.calls_to("conversations.history")) == 1
    row = rows(db)["k-crash"]
    assert (row.state, row.platform_id) == ("sent", fake_slack.messages_in("C0000001")[0]["ts"])
