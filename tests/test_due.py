"""Due work with a fixed clock, leader election, and `dxlab outbox status`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.channels.slack_sender import SlackSender
from bot.cli import main
from bot.config import Settings
from bot.db.models import DueWork
from bot.db.repos.leader import LeaseLeader, PgAdvisoryLeader
from bot.db.repos.outbox_worker import mark_done_sql
from bot.db.repos.work import SqlDueWriter, SqlOutboxWriter
from bot.db.session import Database
from bot.outbound import run_due_at
from handlers.address import Address
from handlers.messages import Reply
from handlers.outcome import Send
from scheduler.due import DueRow
from scheduler.runner import Scheduler
from tests.fake_slack import BOT_TOKEN, FakeSlack
from tests.pg import pg_database

T = dt.datetime(2031, 4, 7, 0, 0, tzinfo=dt.UTC)  # Monday 09:00 in Tokyo
LAB = Address("slack", "C0000001", workspace="T1")
Step = Callable[[DueRow, SqlOutboxWriter, SqlDueWriter], None]


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(DXLAB_SEND_RATE="0", DXLAB_OUTBOX_MAX_ATTEMPTS="3")


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
async def slack(fake_slack: FakeSlack) -> AsyncIterator[SlackSender]:
    sender = SlackSender(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url, timeout=5))
    yield sender
    await sender.close()


def executor(db: Database, step: Step, now: dt.datetime) -> Callable[[DueRow], asyncio.Future[None]]:
    """What the dispatcher does: the step's writes and "done" in one transaction."""
    async def execute(row: DueRow) -> None:
        def work() -> None:
            with db.session() as session:
                step(row, SqlOutboxWriter(session), SqlDueWriter(session))
                assert mark_done_sql(session, row.id, now)
                session.commit()
        await asyncio.to_thread(work)
    return execute  # type: ignore[return-value]


def schedule(db: Database, kind: str, key: str, due_at: dt.datetime, **payload: object) -> None:
    with db.session() as session:
        SqlDueWriter(session).schedule(kind, key, due_at, payload)
        session.commit()


def remind(row: DueRow, outbox: SqlOutboxWriter, due: SqlDueWriter) -> None:
    outbox.enqueue(Send(LAB, Reply(text=f"リマインド: {row.payload['what']}"), f"msg:{row.key}"), T)


def states(db: Database) -> dict[str, str]:
    with db.session() as session:
        return {r.key: r.state for r in session.scalars(select(DueWork))}


async def test_run_twice_at_one_instant_sends_nothing_twice(db: Database, settings: Settings, slack: SlackSender,
                                                            fake_slack: FakeSlack) -> None:
    schedule(db, "remind", "kpi:lab1:FY2031-Q1", T, what="KPI報告")
    schedule(db, "remind", "kpi:lab1:later", T + dt.timedelta(hours=1), what="まだ")
    first = await run_due_at(db, {"slack": slack}, executor(db, remind, T), settings, T)
    second = await run_due_at(db, {"slack": slack}, executor(db, remind, T), settings, T)
    assert first["steps"]["ran"] == 1 and first["outbox"]["sent"] == 1  # type: ignore[index]
    assert second["steps"]["ran"] == 0 and second["outbox"]["sent"] == 0  # type: ignore[index]
    assert [p["text"] for p in fake_slack.calls_to("chat.postMessage")] == ["リマインド: KPI報告"]
    assert states(db) == {"kpi:lab1:FY2031-Q1": "done", "kpi:lab1:later": "pending"}


async def test_a_step_made_due_at_the_same_instant_runs_too(db: Database, settings: Settings, slack: SlackSender,
                                                            fake_slack: FakeSlack) -> None:
    def escalate(row: DueRow, outbox: SqlOutboxWriter, due: SqlDueWriter) -> None:
        if row.kind == "sla":
            due.schedule("remind", "case-7:escalated", T, {"what": "未対応の相談"})
        else:
            remind(row, outbox, due)

    schedule(db, "sla", "case-7:sla", T)
    summary = await run_due_at(db, {"slack": slack}, executor(db, escalate, T), settings, T)
    assert summary["steps"]["ran"] == 2 and summary["outbox"]["sent"] == 1  # type: ignore[index]
    assert states(db) == {"case-7:sla": "done", "case-7:escalated": "done"}


async def test_a_failing_step_is_retried_later_then_given_up(db: Database, settings: Settings,
                                                             slack: SlackSender) -> None:
    async def broken(row: DueRow) -> None:
        raise RuntimeError("handler bug")

    schedule(db, "remind", "broken", T)
    at, given_up = T, []
    for _ in range(3):  # DXLAB_OUTBOX_MAX_ATTEMPTS=3
        summary = await run_due_at(db, {"slack": slack}, broken, settings, at)
        assert (await run_due_at(db, {"slack": slack}, broken, settings, at))["steps"]["retried"] == 0  # type: ignore[index]
        given_up = summary["steps"]["given_up"]  # type: ignore[index]
        at += dt.timedelta(hours=2)  # past any backoff
    assert states(db) == {"broken": "failed"}
    assert given_up[0]["attempts"] == 3 and "handler bug" in given_up[0]["error"]


def test_a_new_leader_takes_over_after_the_lease_expires(db: Database) -> None:
    now = [T]
    a = LeaseLeader(db, lease_s=30, clock=lambda: now[0], holder="a")
    b = LeaseLeader(db, lease_s=30, clock=lambda: now[0], holder="b")
    assert a.acquire() and not b.acquire()
    now[0] += dt.timedelta(seconds=20)
    assert a.acquire() and not b.acquire()  # renewed: still a's
    now[0] += dt.timedelta(seconds=31)  # a stopped renewing (died)
    assert b.acquire() and not a.acquire()
    b.release()
    assert a.acquire()


async def test_only_the_leader_runs_leader_only_jobs(db: Database) -> None:
    ran: list[str] = []
    holder = LeaseLeader(db, holder="other")
    assert holder.acquire()
    scheduler = Scheduler(leadership=LeaseLeader(db, holder="me"))

    async def due_tick() -> None:
        ran.append("due")

    async def drain() -> None:
        ran.append("drain")

    scheduler.run_repeating("due", due_tick, 3600, leader_only=True)
    scheduler.run_repeating("drain", drain, 3600)
    assert not await scheduler.renew()
    await scheduler.run_now("due")
    await scheduler.run_now("drain")
    holder.release()
    assert await scheduler.renew()
    await scheduler.run_now("due")
    await scheduler.stop()
    assert ran == ["drain", "due"]


def test_postgresql_advisory_lock_has_one_holder() -> None:
    with pg_database() as url:
        first, second = Database(url), Database(url)
        try:
            a, b = PgAdvisoryLeader(first), PgAdvisoryLeader(second)
            assert a.acquire() and a.acquire() and not b.acquire()
            a.release()
            assert b.acquire() and not a.acquire()
            b.release()
        finally:
            first.dispose()
            second.dispose()


def test_outbox_status_command_shows_a_given_up_row(db: Database, settings: Settings, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with db.session() as session:
        SqlOutboxWriter(session).enqueue(Send(LAB, Reply(text="x"), "k-dead"), T)
        session.commit()
    from bot.db.repos.outbox_worker import SqlOutboxQueue
    from scheduler.outbox import Settled

    queue = SqlOutboxQueue(db)
    (row,) = queue.claim("w", T, 10, 45)
    queue.settle("w", T, [Settled(row.id, "failed", error="permanent: chat_postMessage: not_in_channel")])
    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.setenv("DXLAB_DATABASE_URL", settings.database_url)
    assert main(["outbox", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["counts"]["failed"] == 1 and status["counts"]["pending"] == 0
    assert status["last_errors"][0]["key"] == "k-dead" and "not_in_channel" in status["last_errors"][0]["error"]
