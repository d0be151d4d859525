"""Property-based fuzzing over HTTP: whatever a peer posts, our server answers below 500, without a traceback.

- /slack/events: signed JSON objects and forms with random fields, shapes near Slack's own and far from them;
- /api/messages: random activities (emulator mode on loopback: no token needed, so the body is what is tested);
- /webchat/api/message: random JSON.

Hypothesis runs on a worker thread and hands each request to the server's own event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from tests.conftest import Running, ServerFactory, SettingsFactory
from tests.fake_slack import FakeSlack, block_action, event_envelope, mention, sign, slash_command

FUZZ = settings(max_examples=int(os.environ.get("DXLAB_FUZZ_EXAMPLES", "120")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

TEXT = st.text(max_size=30)
SCALARS = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | TEXT
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=12)
FIELDS = st.dictionaries(st.sampled_from(["type", "event", "event_id", "text", "user", "channel", "ts",
                                          "thread_ts", "subtype", "bot_id", "team_id", "trigger_id", "command",
                                          "user_id", "channel_id", "actions", "view", "payload", "response_url",
                                          "challenge", "token", "ssl_check", "tab", "channel_type", "container",
                                          "message", "value", "id"]) | TEXT, JSON, max_size=6)


def _mutated(base: dict[str, Any], changes: dict[str, Any], nested: str | None = None) -> dict[str, Any]:
    out = dict(base)
    if nested and isinstance(out.get(nested), dict):
        out[nested] = {**out[nested], **changes}
    else:
        out.update(changes)
    return out


SLACK_JSON = st.one_of(
    st.dictionaries(TEXT, JSON, max_size=5),
    FIELDS,
    st.builds(lambda changes, where: _mutated(event_envelope(mention("応募資格は?"), "EvFuzz"), changes, where),
              FIELDS, st.sampled_from([None, "event"])),
)
ANY_TEXT = st.text(max_size=40)
SLACK_FORM = st.one_of(
    st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=5),
    st.builds(lambda changes: slash_command("help", "http://127.0.0.1:9/r") | changes,
              st.dictionaries(st.sampled_from(["command", "text", "user_id", "channel_id", "trigger_id",
                                               "response_url", "team_id"]), ANY_TEXT, max_size=3)),
    st.builds(lambda payload: {"payload": json.dumps(payload)}, SLACK_JSON),
    st.builds(lambda changes, where: {"payload": json.dumps(_mutated(
        json.loads(block_action("feedback_up:1", "1", "http://127.0.0.1:9/r")["payload"]), changes, where))},
        FIELDS, st.sampled_from([None, "message", "container", "user"])),
)


CONNECTOR = "http://127.0.0.1:{port}/"  # set by the Teams test: a connector that takes every activity


def _activity_base() -> dict[str, Any]:
    return {"type": "message", "id": "a1", "channelId": "msteams", "serviceUrl": CONNECTOR,
            "text": "応募資格は?", "from": {"id": "29:u"}, "recipient": {"id": "28:bot"},
            "conversation": {"id": "a:c", "conversationType": "personal"}}


ACTIVITY_FIELDS = st.dictionaries(
    st.sampled_from(["type", "id", "channelId", "serviceUrl", "text", "from", "recipient", "conversation", "value",
                     "entities", "attachments", "membersAdded", "action", "name", "timestamp", "locale",
                     "channelData", "replyToId", "textFormat"]) | TEXT, JSON, max_size=4)
ACTIVITIES = st.one_of(
    st.dictionaries(TEXT, JSON, max_size=5),
    st.builds(lambda changes, where: _mutated(_activity_base(), changes, where), ACTIVITY_FIELDS,
              st.sampled_from([None, "from", "recipient", "conversation"])),
)
WEB_BODIES = st.one_of(
    JSON,
    st.dictionaries(st.sampled_from(["text", "action", "value", "form", "values", "context"]), JSON, max_size=4),
)


async def _post(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with http.post(url, data=body, headers=headers) as response:
        return response.status, await response.text()


def _fuzz(loop: asyncio.AbstractEventLoop, http: aiohttp.ClientSession, url: str,
          strategy: st.SearchStrategy[Any], encode: Callable[[Any], tuple[bytes, dict[str, str]]]) -> None:
    @FUZZ
    @given(strategy)
    def check(value: Any) -> None:
        body, headers = encode(value)
        future = asyncio.run_coroutine_threadsafe(_post(http, url, body, headers), loop)
        status, text = future.result(timeout=30)
        assert status < 500, (status, text[:500], body[:500])
        assert "Traceback" not in text, text[:500]

    check()


def _slack_json(value: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(value, ensure_ascii=False).encode()
    return body, {"Content-Type": "application/json", **sign(body)}


def _slack_form(value: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    body = urlencode(value).encode()
    return body, {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}


def _json(value: Any) -> tuple[bytes, dict[str, str]]:
    return json.dumps(value, ensure_ascii=False).encode(), {"Content-Type": "application/json"}


async def test_signed_slack_json_bodies_never_fail_the_server(
        http, start_server: ServerFactory, slack_settings: Settings, fake_slack: FakeSlack) -> None:
    server: Running = await start_server(slack_settings)
    loop = asyncio.get_running_loop()
    await asyncio.to_thread(_fuzz, loop, http, f"{server.url}/slack/events", SLACK_JSON, _slack_json)


async def test_signed_slack_forms_never_fail_the_server(
        http, start_server: ServerFactory, slack_settings: Settings, fake_slack: FakeSlack) -> None:
    server: Running = await start_server(slack_settings)
    loop = asyncio.get_running_loop()
    await asyncio.to_thread(_fuzz, loop, http, f"{server.url}/slack/events", SLACK_FORM, _slack_form)


async def test_random_activities_never_fail_the_teams_endpoint(
        http, start_server: ServerFactory, make_settings: SettingsFactory) -> None:
    global CONNECTOR
    # The typing indicator goes to the activity's serviceUrl: a connector that takes anything, at once.
    connector = web.Application()
    connector.router.add_route("*", "/{tail:.*}", lambda _: web.json_response({"id": "sent"}))
    runner = web.AppRunner(connector, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    CONNECTOR = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    try:
        server: Running = await start_server(make_settings())  # no app id: emulator mode on loopback
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(_fuzz, loop, http, f"{server.url}/api/messages", ACTIVITIES, _json)
    finally:
        await runner.cleanup()


async def test_random_json_never_fails_the_web_chat(
        http, start_server: ServerFactory, make_settings: SettingsFactory) -> None:
    server: Running = await start_server(make_settings())
    loop = asyncio.get_running_loop()
    await asyncio.to_thread(_fuzz, loop, http, f"{server.url}/webchat/api/message", WEB_BODIES, _json)
