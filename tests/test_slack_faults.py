"""Slack under faults: a slow Web API, a locked database, replayed requests. Real server, fake Slack."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.db.models import Feedback
from tests.conftest import Running, ServerFactory, settled
from tests.fake_slack import (
    FakeSlack,
    block_action,
    event_envelope,
    form_request,
    json_request,
    mention,
    slash_command,
)

ACK_LIMIT_S = 3.0  # Slack gives up on an acknowledgement after 3 s


async def timed_post(http: aiohttp.ClientSession, server: Running, body: bytes,
                     headers: dict[str, str]) -> tuple[int, float]:
    start = time.monotonic()
    async with http.post(f"{server.url}/slack/events", data=body, headers=headers) as response:
        await response.read()
        return response.status, time.monotonic() - start


def threads_answered(fake: FakeSlack) -> list[str]:
    return [str(c.get("thread_ts")) for c in fake.calls_to("chat.postMessage")]


@pytest.fixture
async def server(start_server: ServerFactory, slack_settings: Settings) -> Running:
    return await start_server(slack_settings)


async def test_a_slow_web_api_does_not_delay_the_acknowledgement(http, server, fake_slack: FakeSlack) -> None:
    # auth.test has never succeeded yet (bolt's authorization would call it before any listener acks),
    # and posting hangs: neither may hold the acknowledgement.
    fake_slack.delays |= {"auth.test": 4.0, "chat.postMessage": 4.0}
    requests = [json_request(event_envelope(mention("応募資格は?", ts=f"1700000100.00000{n}"), f"EvSlow{n}"))
                for n in range(5)]
    results = await asyncio.gather(*(timed_post(http, server, body, headers) for body, headers in requests))

    assert [status for status, _ in results] == [200] * 5
    assert max(elapsed for _, elapsed in results) < ACK_LIMIT_S, results
    assert not fake_slack.calls_to("chat.postMessage")  # acknowledged long before any answer
    await settled(server.core, timeout=30)
    assert sorted(threads_answered(fake_slack)) == [f"1700000100.00000{n}" for n in range(5)]


async def test_a_hanging_auth_test_does_not_delay_the_acknowledgement(http, server, fake_slack: FakeSlack) -> None:
    fake_slack.faults["auth.test"] = ["hang"]
    status, elapsed = await timed_post(http, server, *json_request(event_envelope(mention("応募資格は?"), "EvHang")))
    assert (status, elapsed < ACK_LIMIT_S) == (200, True), elapsed
    await fake_slack.wait_for("auth.test")  # the inbox worker is waiting on it now, not the acknowledgement
    status, elapsed = await timed_post(http, server, *json_request(event_envelope(
        mention("会社単独で応募できますか?", ts="1700000002.000100"), "EvHang2")))
    assert (status, elapsed < ACK_LIMIT_S) == (200, True), elapsed


def _sqlite_path(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


async def test_a_locked_database_gets_503_then_the_retry_is_answered_once(
        http, server, slack_settings: Settings, fake_slack: FakeSlack) -> None:
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        conn = sqlite3.connect(_sqlite_path(slack_settings), timeout=10)
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(10)
        conn.rollback()
        conn.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert await asyncio.to_thread(locked.wait, 5)
        envelope = event_envelope(mention("応募資格は?", ts="1700000300.000100"), "EvLocked")
        status, elapsed = await timed_post(http, server, *json_request(envelope))
        assert status == 503
        assert elapsed < 2.5, elapsed  # the 1.5 s budget, not the database's 5 s busy timeout
        await asyncio.sleep(0.5)  # still locked: Slack's first retry comes about a minute later
    finally:
        release.set()
        await asyncio.to_thread(holder.join)

    headers_retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    body, headers = json_request(envelope)
    status, _ = await timed_post(http, server, body, headers | headers_retry)
    assert status == 200
    await settled(server.core)
    await asyncio.sleep(0.3)  # room for a second, wrong answer to show up
    assert threads_answered(fake_slack) == ["1700000300.000100"]


async def _replayed(http: aiohttp.ClientSession, server: Running, request: tuple[bytes, dict[str, str]],
                    times: int) -> list[int]:
    """The very same signed request sent `times` times (a replay inside the 5-minute window)."""
    return [(await timed_post(http, server, *request))[0] for _ in range(times)]


def _command(fake: FakeSlack, trigger: str) -> dict[str, str]:
    return slash_command("help", fake.response_url(trigger)) | {"trigger_id": trigger}


def _press(up: dict[str, Any], fake: FakeSlack, trigger: str, thread_ts: str | None = None) -> dict[str, str]:
    fields = block_action(up["action_id"], up["value"], fake.response_url(trigger), thread_ts=thread_ts)
    payload: dict[str, Any] = json.loads(fields["payload"])
    return {"payload": json.dumps(payload | {"trigger_id": trigger}, ensure_ascii=False)}


def _paths(fake: FakeSlack) -> list[str]:
    return [c.path for c in fake.posts() if c.method == "response_url"]


async def test_a_replayed_slash_command_is_answered_once(http, server, fake_slack: FakeSlack) -> None:
    assert await _replayed(http, server, form_request(_command(fake_slack, "111.222.aaa")), 3) == [200] * 3
    assert await _replayed(http, server, form_request(_command(fake_slack, "111.222.bbb")), 1) == [200]
    await settled(server.core)
    await asyncio.sleep(0.3)  # room for a second, wrong answer to show up
    assert _paths(fake_slack).count("/response/111.222.aaa") == 1
    assert _paths(fake_slack).count("/response/111.222.bbb") == 1  # another trigger: answered too


async def test_a_replayed_button_press_is_handled_once(http, server, fake_slack: FakeSlack) -> None:
    status, _ = await timed_post(http, server, *json_request(event_envelope(mention("応募資格は?"), "EvQ")))
    assert status == 200
    [answer] = await fake_slack.wait_for("chat.postMessage")
    up = next(e for b in answer["blocks"] for e in b.get("elements", [])
              if e.get("type") == "button" and e["action_id"].startswith("feedback_up:"))
    request = form_request(_press(up, fake_slack, "333.444.ccc", answer["thread_ts"]))
    assert await _replayed(http, server, request, 3) == [200] * 3
    await settled(server.core)
    await asyncio.sleep(0.3)
    assert _paths(fake_slack).count("/response/333.444.ccc") == 1  # thanked once
    with server.core.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Feedback)) == 1


@pytest.mark.parametrize("kind", ["command", "block_actions", "view_submission"])
async def test_a_request_without_a_trigger_id_is_refused_not_silently_dropped(
        http, server, fake_slack: FakeSlack, kind: str) -> None:
    if kind == "command":
        fields = {k: v for k, v in _command(fake_slack, "x").items() if k != "trigger_id"}
    else:
        up = {"action_id": "feedback_up:1", "value": "1"}
        payload: dict[str, Any] = json.loads(_press(up, fake_slack, "x")["payload"])
        payload.pop("trigger_id")
        if kind == "view_submission":
            payload |= {"type": "view_submission", "view": {"id": "V1", "callback_id": "f", "state": {"values": {}}}}
        fields = {"payload": json.dumps(payload)}
    status, _ = await timed_post(http, server, *form_request(fields))
    assert status == 400
