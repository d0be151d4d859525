"""`dxlab jobs run-due --now …` and `dxlab outbox …` through the real CLI: a fixed clock, nothing sent twice."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from bot.db.session import Database
from bot.db.uow import UnitsOfWork
from handlers.address import Address
from handlers.messages import Reply
from handlers.outcome import Send
from tests.fake_slack import BOT_TOKEN, FakeSlack

JST = dt.timezone(dt.timedelta(hours=9))
MONDAY_9 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=JST)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_slack: FakeSlack) -> Settings:
    for name, value in {"DXLAB_DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}", "SLACK_BOT_TOKEN": BOT_TOKEN,
                        "SLACK_API_URL": fake_slack.api_url, "DXLAB_LOG_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return Settings(database_url=f"sqlite:///{tmp_path / 'jobs.db'}", port=0)


def enqueue(settings: Settings, send: Send) -> None:
    db = Database(settings.database_url)
    with UnitsOfWork(db)() as uow:
        uow.outbox.enqueue(send, dt.datetime.now(dt.UTC))
        uow.commit()
    db.dispose()


async def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    import asyncio

    code = await asyncio.to_thread(main, args)  # the CLI runs its own event loop
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out.strip().splitlines()[-1])


async def test_a_message_for_monday_waits_for_monday_and_goes_once(env: Settings, fake_slack: FakeSlack,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    notice = Send(Address("slack", "C0LAB001"), Reply(text="月曜のお知らせ"), "notice:1", not_before=MONDAY_9)
    enqueue(env, notice)
    friday = (MONDAY_9 - dt.timedelta(days=3, hours=-9)).isoformat()
    assert (await run(["jobs", "run-due", "--now", friday, "--json"], capsys))["outbox"]["sent"] == 0
    assert fake_slack.calls_to("chat.postMessage") == []
    for _ in range(2):  # the same instant twice: the second run finds nothing to send
        await run(["jobs", "run-due", "--now", MONDAY_9.isoformat(), "--json"], capsys)
    [posted] = fake_slack.calls_to("chat.postMessage")
    assert posted["channel"] == "C0LAB001" and posted["text"] == "月曜のお知らせ"
    status = await run(["outbox", "status", "--json"], capsys)
    assert status["counts"]["sent"] == 1 and not status["counts"].get("pending")
