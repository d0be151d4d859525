"""A consultation through our real Slack endpoint (signed HTTP in, bolt inside) and the fake Slack Web API
out: `/dxlab 相談 …` → the secretariat's channel and the expert's DM → 受ける pressed in Slack → messages
typed in the two DMs relayed both ways."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any

import aiohttp

from bot.directory.service import import_files
from handlers.calendar import JST, BusinessCalendar
from tests.conftest import ServerFactory, settled
from tests.consult_kit import DIRECTORY, QUESTION, buttons
from tests.fake_slack import (
    FakeSlack,
    block_action,
    event_envelope,
    form_request,
    json_request,
    message,
    slash_command,
)


def latest_business_minute() -> dt.datetime:
    """The case's clock. The server's own due timer and outbox run on the real clock, so a fixed date
    does not do: in the past, the case's reminders (a few business hours on) fall due during the test;
    in the future, its messages are not yet allowed out. The latest business-hours minute that DMs
    may go out in, before the real clock, gives both."""
    cal = BusinessCalendar()
    moment = dt.datetime.now(JST).replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
    while not cal.is_business_time(moment) or cal.is_quiet(moment):
        moment -= dt.timedelta(minutes=15)
    return moment


NOW = latest_business_minute()


async def post(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> int:
    async with http.post(f"{url}/slack/events", data=body, headers=headers) as response:
        await response.read()
        return response.status


def dm_posts(fake: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [c for c in fake.calls_to("chat.postMessage") if c.get("channel") == channel]


async def test_a_slash_command_case_through_slack(http: aiohttp.ClientSession, start_server: ServerFactory,
                                                  slack_settings: Any, fake_slack: FakeSlack) -> None:
    server = await start_server(replace(slack_settings, secretariat_slack_channel=""))
    assert not import_files(server.core.units, [("d.yaml", DIRECTORY)], "test").errors
    server.core.dispatcher.clock = lambda: NOW.astimezone(dt.UTC)
    body, headers = form_request(slash_command(f"相談 {QUESTION}", fake_slack.response_url(), user="U0REQ1"))
    assert await post(http, server.url, body, headers) == 200
    await settled(server.core)
    [secretariat] = dm_posts(fake_slack, "C0SEC")
    assert "生産管理" in secretariat["text"] and QUESTION not in str(secretariat)
    [offer] = dm_posts(fake_slack, "D0EXA")
    [accept] = buttons(offer, "consult.accept")
    pressed = block_action(accept["action_id"], accept["value"], fake_slack.response_url("r2"), channel="D0EXA",
                           user="U0EXA", thread_ts=None)
    payload = json.loads(pressed["payload"]) | {"trigger_id": "2.3.4"}  # each interaction has its own trigger
    body, headers = form_request({"payload": json.dumps(payload, ensure_ascii=False)})
    assert await post(http, server.url, body, headers) == 200
    await settled(server.core)
    assert any("専門家A" in c["text"] for c in dm_posts(fake_slack, "C0000001")), "the requester is told"
    event = message("稼働データの取り方から始めましょう", channel="D0EXA", user="U0EXA", channel_type="im",
                    ts="1700000100.000100")
    body, headers = json_request(event_envelope(event, "EvExpert"))
    assert await post(http, server.url, body, headers) == 200
    await settled(server.core)
    assert any("稼働データの取り方" in c["text"] for c in dm_posts(fake_slack, "C0000001"))
    event = message("ありがとうございます、センサーは3台です", channel="D0REQ1", user="U0REQ1", channel_type="im",
                    ts="1700000200.000100")
    body, headers = json_request(event_envelope(event, "EvRequester"))
    assert await post(http, server.url, body, headers) == 200
    await settled(server.core)
    assert any("センサーは3台です" in c["text"] for c in dm_posts(fake_slack, "D0EXA"))
