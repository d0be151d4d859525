"""The announcement and event pages under /admin over HTTP: compose → preview → send with the CSRF token,
refused without it or without a login, the delivery report and its CSV, attendance marked from the event
page (surveys go out), RSVP against attendance as CSV."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.app import Core
from bot.db.models import OutboxMessage
from bot.web.admin import admin_routes
from bot.web.events_admin import PAGES, events_admin_routes
from handlers.address import Address
from handlers.messages import Action
from tests.conftest import serve_on_loopback
from tests.events_helpers import dxlab

pytest_plugins = ["tests.events_fixtures"]

Serve = Callable[[Core], Awaitable[str]]
TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    runners: list[web.AppRunner] = []

    async def start(core: Core) -> str:
        app = web.Application()
        app.add_routes(admin_routes(core.units, core.settings, pages=PAGES))
        app.add_routes(events_admin_routes(core.units, core.settings))
        runner, url = await serve_on_loopback(app)
        runners.append(runner)
        return url
    yield start
    for runner in runners:
        await runner.cleanup()


def outbox_keys(core: Core) -> list[str]:
    with core.db.session() as session:
        return sorted(session.scalars(select(OutboxMessage.key)))


async def test_compose_preview_send_report_and_csv(core: Core, serve: Serve, http: aiohttp.ClientSession) -> None:
    base = await serve(core)
    async with http.get(f"{base}/admin/announcements/new") as r:
        assert r.status == 200
        token = TOKEN.search(await r.text()).group(1)  # type: ignore[union-attr]
    form = {"audience": "region:中部", "title": "公募のお知らせ", "text": "<b>第4弾</b>の公募です", "at": ""}
    async with http.post(f"{base}/admin/announcements/new", data=form, allow_redirects=False) as r:
        assert r.status == 403  # no CSRF token
    async with http.post(f"{base}/admin/announcements/new", data={**form, "csrf": "forged"},
                         allow_redirects=False) as r:
        assert r.status == 403
    async with http.post(f"{base}/admin/announcements/new", data={**form, "csrf": token}) as r:
        assert r.status == 200 and str(r.url).endswith("/admin/announcements/1")
        preview = await r.text()
    assert "&lt;b&gt;第4弾&lt;/b&gt;" in preview and "<b>第4弾" not in preview  # escaped
    assert "配信先: 2件" in preview and outbox_keys(core) == []  # a draft: nothing sent yet
    async with http.post(f"{base}/admin/announcements/1/confirm", data={"csrf": token}) as r:
        assert r.status == 200 and "送信待ち: 2件" in await r.text()
    assert outbox_keys(core) == ["announce:1:gifu", "announce:1:nagano"]
    async with http.get(f"{base}/admin/announcements") as r:
        listing = await r.text()
    assert "公募のお知らせ" in listing and "配信済み" in listing
    async with http.get(f"{base}/admin/announcements/1.csv") as r:
        assert r.content_type == "text/csv"
        rows = (await r.text()).lstrip("\ufeff").splitlines()
    assert rows == ["target,state,reason,acknowledged", "gifu,pending,,False", "nagano,pending,,False"]
    async with http.post(f"{base}/admin/announcements/1/cancel", data={"csrf": token}) as r:
        assert r.status == 200  # too late to cancel: the state stays
    _, report = await dxlab("announce", "report", "1", "--json")
    assert report["state"] == "sent"


async def test_pages_need_the_login_when_a_token_is_set(core: Core, serve: Serve, http: aiohttp.ClientSession) -> None:
    guarded = replace(core, settings=replace(core.settings, admin_token="s3cret-token"))
    base = await serve(guarded)
    for path in ("/admin/announcements/new", "/admin/announcements/1", "/admin/events/1.csv"):
        async with http.get(f"{base}{path}", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/admin/login"
    async with http.post(f"{base}/admin/announcements/1/confirm", data={"csrf": "x"}, allow_redirects=False) as r:
        assert r.status == 303


async def test_attendance_from_the_event_page_sends_surveys(core: Core, serve: Serve, http: aiohttp.ClientSession,
                                                            tmp_path: Path) -> None:
    events = tmp_path / "events.yaml"
    events.write_text("events:\n  - {title: 中部交流会, start: 2031-06-10 14:00, end: 2031-06-10 16:00, venue: 長野市, "
                      "organiser: 事務局, audience: 'region:中部'}\n", encoding="utf-8")
    assert (await dxlab("events", "import", str(events)))[0] == 0
    for who in ("U0NC", "U0GL"):
        await core.dispatcher.action(Action(Address("slack", "C0LAB001", who), "event.rsvp", "1:yes"))
    base = await serve(core)
    async with http.get(f"{base}/admin/events/1") as r:
        page = await r.text()
        token = TOKEN.search(page).group(1)  # type: ignore[union-attr]
    assert 'value="nagano-co"' in page and 'value="gifu-lead"' in page
    async with http.post(f"{base}/admin/events/1/attendance", data={"csrf": token, "present": "nagano-co"}) as r:
        assert r.status == 200
    assert [k for k in outbox_keys(core) if k.startswith("event:1:survey:")] == ["event:1:survey:nagano-co"]
    async with http.get(f"{base}/admin/events/1.csv") as r:
        rows = (await r.text()).lstrip("\ufeff").splitlines()
    assert rows[0] == "person,name,lab_id,answer,status,answered_at,attended,score,comment"
    assert {row.split(",")[0]: row.split(",")[6] for row in rows[1:]} == {"nagano-co": "True", "gifu-lead": "False"}
    async with http.get(f"{base}/admin/events") as r:
        assert "中部交流会" in await r.text()


async def test_with_a_login_the_session_token_guards_the_forms(core: Core, serve: Serve,
                                                               http: aiohttp.ClientSession) -> None:
    guarded = replace(core, settings=replace(core.settings, admin_token="s3cret-token"))
    base = await serve(guarded)
    async with http.get(f"{base}/admin/login") as r:
        login = TOKEN.search(await r.text()).group(1)  # type: ignore[union-attr]
    async with http.post(f"{base}/admin/login", data={"csrf": login, "token": "s3cret-token"}) as r:
        assert r.status == 200
    async with http.get(f"{base}/admin/events/new") as r:
        token = TOKEN.search(await r.text()).group(1)  # type: ignore[union-attr]
    event = {"title": "オンライン交流会", "start": "2031-06-12 15:00", "end": "2031-06-12 14:00",
             "online_url": "https://meet.example.jp/x", "organiser": "事務局", "audience": "round:3", "capacity": "20"}
    async with http.post(f"{base}/admin/events/new", data={**event, "csrf": token}) as r:
        assert "end is before start" in await r.text()  # the events file's own checks
    async with http.post(f"{base}/admin/events/new", data={**event, "end": "2031-06-12 16:00", "csrf": "forged"},
                         allow_redirects=False) as r:
        assert r.status == 403
    async with http.post(f"{base}/admin/events/new", data={**event, "end": "2031-06-12 16:00", "csrf": token}) as r:
        assert r.status == 200 and str(r.url).endswith("/admin/events/1")
    assert outbox_keys(core) == ["announce:1:gifu", "announce:1:osaka"]
    await core.dispatcher.action(Action(Address("slack", "C0LAB003", "U0OC"), "event.rsvp", "1:yes"))
    async with http.post(f"{base}/admin/events/1/cancel", data={"csrf": token}) as r:
        assert r.status == 200
    assert "event:1:cancel:osaka-co" in outbox_keys(core)
