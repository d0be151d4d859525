"""The server as a whole: health, which endpoints are on where, admin reload, the knowledge watcher,
and shutdown (`dxlab serve` as a process: test_server_process.py)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import pytest

from bot.channels.teams import TeamsChannel
from bot.config import Settings
from tests.conftest import Running, ServerFactory, SettingsFactory
from tests.fake_slack import FakeSlack, event_envelope, json_request, mention
from tests.helpers import copy_knowledge

CONTACT_QUESTION = "地域DX推進ラボの問い合わせ窓口はどこですか?"
CONTACT_ANSWER_START = "問い合わせは、制度を共同で運営する"


def messages_handler(server: Running) -> object:
    [route] = [r for r in server.app.router.routes() if r.resource and r.resource.canonical == "/api/messages"]
    return route.handler


async def ask(http, server: Running, question: str) -> dict:  # type: ignore[no-untyped-def]
    async with http.post(f"{server.url}/webchat/api/message", json={"text": question}) as response:
        assert response.status == 200
        return await response.json()


async def test_healthz_is_200_once_ready(http, start_server: ServerFactory, make_settings: SettingsFactory) -> None:
    server = await start_server(make_settings())
    async with http.get(f"{server.url}/healthz") as response:
        assert response.status == 200
        assert (await response.json())["status"] == "ok"


async def test_without_any_credentials_the_server_still_runs_the_web_chat(http, start_server, make_settings) -> None:
    server = await start_server(make_settings())
    async with http.post(f"{server.url}/slack/events", data=b"{}") as response:
        assert response.status == 404
        assert "error" in await response.json()
    assert "出典" in (await ask(http, server, CONTACT_QUESTION))["source"]


@pytest.mark.parametrize(("host", "env", "on"), [
    ("127.0.0.1", {}, True),
    ("0.0.0.0", {}, False),
    ("0.0.0.0", {"DXLAB_WEBCHAT": "on"}, True),
    ("::1", {"DXLAB_WEBCHAT": "off"}, False),
])
async def test_web_chat_is_on_by_default_only_on_loopback(http, start_server, make_settings, host, env, on) -> None:
    server = await start_server(make_settings(**env), host=host)
    async with http.get(f"{server.url}/") as response:
        assert response.status == (200 if on else 404)


async def test_teams_without_app_id_runs_as_emulator_on_loopback(start_server, make_settings) -> None:
    server = await start_server(make_settings(), host="127.0.0.1")
    handler = messages_handler(server)
    assert isinstance(getattr(handler, "__self__", None), TeamsChannel)


async def test_teams_without_app_id_is_off_on_a_public_address(http, start_server, make_settings, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.server"):
        server = await start_server(make_settings(), host="0.0.0.0")
    async with http.post(f"{server.url}/api/messages", json={"type": "message"}) as response:
        assert response.status == 503
        assert "MICROSOFT_APP_ID" in (await response.json())["error"]
    assert any("MICROSOFT_APP_ID" in r.message and "--allow-unauthenticated" in r.message for r in caplog.records)
    async with http.get(f"{server.url}/healthz") as response:
        assert response.status == 200, "the server starts anyway"


@pytest.mark.parametrize(("env", "allow"), [({}, True), ({"MICROSOFT_APP_ID": "11111111-2222-3333-4444-555555555555",
                                                         "MICROSOFT_APP_PASSWORD": "secret"}, False)])
async def test_teams_is_on_for_a_public_address_with_auth_or_when_allowed(start_server, make_settings, env,
                                                                         allow) -> None:
    server = await start_server(make_settings(**env), host="0.0.0.0", allow_unauthenticated=allow)
    assert isinstance(getattr(messages_handler(server), "__self__", None), TeamsChannel)


async def test_admin_reload_from_this_machine(http, start_server, make_settings) -> None:
    server = await start_server(make_settings())
    async with http.post(f"{server.url}/admin/reload", json={}) as response:
        assert response.status == 200
        result = await response.json()
    assert result["ok"] is True and result["entries"] > 0 and result["problems"] == []


async def test_admin_reload_cannot_be_triggered_by_a_web_page(http, start_server, make_settings) -> None:
    """A page in the visitor's browser can send a simple POST to 127.0.0.1, but not a JSON one."""
    server = await start_server(make_settings())
    async with http.post(f"{server.url}/admin/reload", data="x=1",
                         headers={"Content-Type": "application/x-www-form-urlencoded"}) as response:
        assert response.status == 403


async def test_readyz_reports_the_database(http, start_server, make_settings) -> None:
    server = await start_server(make_settings())
    async with http.get(f"{server.url}/readyz") as response:
        assert response.status == 200 and (await response.json())["database"] is True
    locker = sqlite3.connect(server.core.db.engine.url.database, timeout=0.1)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        async with http.get(f"{server.url}/readyz") as response:
            assert response.status == 503
        async with http.get(f"{server.url}/healthz") as response:
            assert response.status == 200, "liveness stays cheap: it does not ask the database"
    finally:
        locker.rollback()
        locker.close()


async def test_admin_reload_through_a_proxy_needs_the_token(http, start_server, make_settings) -> None:
    server = await start_server(make_settings(DXLAB_ADMIN_TOKEN="s3cret-token"))
    proxied = {"X-Forwarded-For": "203.0.113.9"}
    async with http.post(f"{server.url}/admin/reload", headers=proxied) as response:
        assert response.status == 403
    async with http.post(f"{server.url}/admin/reload", headers=proxied | {"Authorization": "Bearer wrong"}) as response:
        assert response.status == 403
    async with http.post(f"{server.url}/admin/reload",
                         headers=proxied | {"Authorization": "Bearer s3cret-token"}) as response:
        assert response.status == 200


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    return copy_knowledge(tmp_path)


def edit_contact_answer(root: Path, new_start: str) -> None:
    path = root / "content" / "ja" / "contact.yaml"
    text = path.read_text(encoding="utf-8")
    assert CONTACT_ANSWER_START in text
    path.write_text(text.replace(CONTACT_ANSWER_START, new_start, 1), encoding="utf-8")


async def wait_until(condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_knowledge_edits_are_picked_up_and_bad_edits_refused(http, start_server, make_settings,
                                                                  knowledge_copy: Path) -> None:
    settings = make_settings(DXLAB_KNOWLEDGE_DIR=str(knowledge_copy), DXLAB_KB_WATCH="true")
    server = await start_server(settings, kb_poll_seconds=0.05)
    assert (await ask(http, server, CONTACT_QUESTION))["text"].startswith(CONTACT_ANSWER_START)

    edit_contact_answer(knowledge_copy, "【改訂】" + CONTACT_ANSWER_START)

    async def revised() -> bool:
        return (await ask(http, server, CONTACT_QUESTION))["text"].startswith("【改訂】")
    await wait_until(revised)

    (knowledge_copy / "content" / "ja" / "broken.yaml").write_text("entries: [ {id: 'x'", encoding="utf-8")
    async with http.post(f"{server.url}/admin/reload", json={}) as response:
        assert response.status == 422
        result = await response.json()
    assert result["ok"] is False and any("broken.yaml" in p for p in result["problems"])
    assert await revised(), "a refused edit leaves the previous content serving"


async def test_shutdown_waits_for_answers_under_way(http, start_server, slack_settings: Settings,
                                                    fake_slack: FakeSlack) -> None:
    fake_slack.delays["chat.postMessage"] = 0.5
    server = await start_server(slack_settings)
    body, headers = json_request(event_envelope(mention(CONTACT_QUESTION), "EvShutdown"))
    async with http.post(f"{server.url}/slack/events", data=body, headers=headers) as response:
        assert response.status == 200
    assert fake_slack.calls_to("chat.postMessage") == []
    await server.stop()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
