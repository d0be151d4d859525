"""Edits through the outbox against the fake Slack Web API on 127.0.0.1, at fixed instants, on SQLite and
PostgreSQL: an edit waits for its unsent original (no attempt spent), is given up with it, and only the
newest of several goes."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.channels.slack_sender import SlackSender
from bot.channels.web_sender import WebSender
from bot.db.models import OutboxMessage
from bot.db.repos.outbox_worker import SqlOutboxQueue
from bot.db.repos.web_mail import delivered_since
from bot.db.repos.work import SqlOutboxWriter
from bot.db.session import Database
from handlers.address import Address
from handlers.messages import Reply
from handlers.outcome import Lane, Send
from scheduler.outbox import EDIT_RECHECK_S, OutboxWorker, Settled
from tests.fake_slack import BOT_TOKEN, FakeSlack
from tests.pg import pg_database

CHANNEL = Address("slack", "C0000001", workspace="T1")
T0 = dt.datetime(2031, 6, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(pg_database()) if request.param == "postgresql" else \
            f"sqlite:///{tmp_path / 'outbox.db'}"
        database = Database(url)
        yield database
        database.dispose()


@pytest.fixture
async def slack(fake_slack: FakeSlack) -> AsyncIterator[SlackSender]:
    sender = SlackSender(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url))
    yield sender
    await sender.close()


def enqueue(db: Database, *sends: Send, at: dt.datetime = T0) -> None:
    with db.session() as session:
        for send in sends:
            SqlOutboxWriter(session).enqueue(send, at)
        session.commit()


def rows(db: Database) -> dict[str, OutboxMessage]:
    with db.session() as session:
        return {r.key: r for r in session.scalars(select(OutboxMessage))}


async def deliver_at(db: Database, sender: SlackSender | WebSender, now: dt.datetime, platform: str = "slack") -> None:
    worker = OutboxWorker(SqlOutboxQueue(db), {platform: sender}, clock=lambda: now, send_rate=0,  # type: ignore[dict-item]
                          max_attempts=1)
    await worker.deliver_ready()


def invitation(text: str, key: str = "invite", **options: object) -> Send:
    return Send(CHANNEL, Reply(text=text), key, **options)  # type: ignore[arg-type]


def edit(text: str, key: str, lane: Lane = Lane.BULK) -> Send:
    return Send(CHANNEL, Reply(text=text), key, lane=lane, edits="invite")


async def test_an_edit_waits_for_its_unsent_original(db: Database, slack: SlackSender, fake_slack: FakeSlack) -> None:
    later = T0 + dt.timedelta(hours=1)
    enqueue(db, invitation("参加 0名", not_before=later), edit("参加 1名", "invite:live:1", Lane.REPLY))
    await deliver_at(db, slack, T0)
    await deliver_at(db, slack, T0)  # asked again at the same instant: still waiting, no attempt spent
    assert fake_slack.calls == []
    waiting = rows(db)["invite:live:1"]
    assert (waiting.state, waiting.attempts) == ("pending", 0)
    await deliver_at(db, slack, later)  # the original goes, then its edit, in that order
    assert [c.method for c in fake_slack.calls] == ["chat.postMessage", "chat.update"]
    (posted,) = fake_slack.calls_to("chat.postMessage")
    (updated,) = fake_slack.calls_to("chat.update")
    ts = rows(db)["invite"].platform_id
    assert (updated["channel"], updated["ts"], updated["text"]) == ("C0000001", ts, "参加 1名")
    assert fake_slack.messages_in("C0000001")[0]["text"] == "参加 1名"
    assert rows(db)["invite:live:1"].state == "sent" and posted["text"] == "参加 0名"


async def test_only_the_newest_pending_edit_goes(db: Database, slack: SlackSender, fake_slack: FakeSlack) -> None:
    enqueue(db, invitation("参加 0名"))
    await deliver_at(db, slack, T0)
    enqueue(db, *(edit(f"参加 {n}名", f"invite:live:{n}") for n in range(1, 51)))
    await deliver_at(db, slack, T0)
    (updated,) = fake_slack.calls_to("chat.update")
    assert updated["text"] == "参加 50名"
    states = [rows(db)[f"invite:live:{n}"].state for n in range(1, 51)]
    assert states == ["superseded"] * 49 + ["sent"]
    enqueue(db, edit("参加 49名", "invite:live:51"))  # a newer edit after a sent one goes too
    await deliver_at(db, slack, T0)
    assert [u["text"] for u in fake_slack.calls_to("chat.update")] == ["参加 50名", "参加 49名"]


async def test_an_edit_of_a_given_up_message_is_given_up(db: Database, slack: SlackSender,
                                                         fake_slack: FakeSlack) -> None:
    fake_slack.fail_methods = {"chat.postMessage"}  # channel_not_found: permanent
    enqueue(db, invitation("参加 0名"), edit("参加 1名", "invite:live:1"),
            Send(CHANNEL, Reply(text="x"), "stray:live:1", edits="no-such-key"))
    await deliver_at(db, slack, T0)
    found = rows(db)
    assert (found["invite"].state, found["invite:live:1"].state, found["stray:live:1"].state) == ("failed",) * 3
    assert found["invite:live:1"].last_error == "edit of invite: the original was given up (failed)"
    assert found["stray:live:1"].last_error == "edit of no-such-key: no such message"
    assert fake_slack.calls_to("chat.update") == []


async def test_the_web_chat_shows_an_edit_in_place_of_its_original(db: Database) -> None:
    here = Address("web", "browser-0000000000000001", "visitor")
    enqueue(db, Send(here, Reply(text="参加 0名"), "invite"))
    await deliver_at(db, WebSender(), T0, "web")
    enqueue(db, Send(here, Reply(text="参加 1名"), "invite:live:1", edits="invite"))
    await deliver_at(db, WebSender(), T0, "web")
    shown = delivered_since(db, [here.pacing_key], 0)
    original = rows(db)["invite"].id
    assert [(replaces, '"参加 1名"' in payload) for _, payload, replaces in shown] == [(None, False), (original, True)]


async def test_a_newer_edit_waits_while_an_older_one_is_in_another_workers_hands(db: Database) -> None:
    enqueue(db, invitation("参加 0名"))
    queue = SqlOutboxQueue(db)
    (original,) = queue.claim("w-a", T0, 10, 45.0)
    queue.settle("w-a", T0, [Settled(original.id, "sent", platform_id="1.000001")])
    enqueue(db, edit("参加 1名", "invite:live:1"))
    (older,) = queue.claim("w-a", T0, 10, 45.0)  # w-a is sending it…
    enqueue(db, edit("参加 2名", "invite:live:2"))
    assert queue.claim("w-b", T0, 10, 45.0) == []  # …so w-b leaves the newer one, without spending an attempt
    waiting = rows(db)["invite:live:2"]
    assert (waiting.state, waiting.attempts) == ("pending", 0)
    queue.settle("w-a", T0, [Settled(older.id, "sent", platform_id="1.000001")])
    later = T0 + dt.timedelta(seconds=EDIT_RECHECK_S)
    (newer,) = queue.claim("w-b", later, 10, 45.0)
    assert newer.key == "invite:live:2" and newer.original is not None and newer.original.platform_id == "1.000001"
