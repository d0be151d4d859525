"""The read-only secretariat pages (/admin): login with the token, filters, refusals; the page is
driven in headless Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.config import Settings, load_settings
from bot.db.session import Database
from bot.db.uow import UnitsOfWork
from bot.directory.demo import load_demo_if_empty
from bot.web.admin import COOKIE, admin_routes
from handlers.i18n import t
from tests.browser import chromium_page
from tests.conftest import serve_on_loopback

TOKEN = "s3cret-admin-token"
Start = Callable[[str], Awaitable[str]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    units = UnitsOfWork(Database(f"sqlite:///{tmp_path / 'admin.db'}"))
    load_demo_if_empty(units)
    runners: list[web.AppRunner] = []

    async def run(token: str) -> str:
        settings: Settings = load_settings(env={"DXLAB_ADMIN_TOKEN": token}, dotenv_path=Path("/nonexistent"))
        app = web.Application()
        app.add_routes(admin_routes(units, settings))
        runner, url = await serve_on_loopback(app)
        runners.append(runner)
        return url

    yield run
    for runner in runners:
        await runner.cleanup()
    units.db.dispose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def test_without_a_session_the_pages_send_you_to_the_login(start: Start, http: aiohttp.ClientSession) -> None:
    url = await start(TOKEN)
    async with http.get(f"{url}/admin/people", allow_redirects=False) as response:
        assert (response.status, response.headers["Location"]) == (303, "/admin/login")
    async with http.post(f"{url}/admin/login", data={"token": TOKEN}, allow_redirects=False) as response:
        assert response.status == 403  # no CSRF token: refused even with the right admin token
        assert t("admin.login.expired") in await response.text()
    http.cookie_jar.update_cookies({COOKIE: "9999999999.forged"})
    async with http.get(f"{url}/admin/labs", allow_redirects=False) as response:
        assert response.status == 303


async def test_without_a_token_only_this_machine_gets_in(start: Start, http: aiohttp.ClientSession) -> None:
    url = await start("")
    async with http.get(f"{url}/admin/labs") as response:
        assert response.status == 200 and "岡山県津山市" in await response.text()
    async with http.get(f"{url}/admin/labs", headers={"X-Forwarded-For": "203.0.113.9"}) as response:
        assert response.status == 403 and t("admin.forbidden") in await response.text()


@pytest.fixture
async def page() -> AsyncIterator[object]:
    async with chromium_page() as opened:
        yield opened


async def test_login_filter_and_logout_in_a_browser(start: Start, page) -> None:  # type: ignore[no-untyped-def]
    url = await start(TOKEN)
    await page.goto(f"{url}/admin")
    assert await page.title() == t("admin.login.title")
    await page.get_by_label(t("admin.login.token")).fill("wrong")
    await page.get_by_role("button", name=t("admin.login.submit")).click()
    await page.get_by_text(t("admin.login.failed")).wait_for()
    await page.get_by_label(t("admin.login.token")).fill(TOKEN)
    await page.get_by_role("button", name=t("admin.login.submit")).click()
    await page.wait_for_url(f"{url}/admin/labs")
    assert await page.locator("tbody tr").count() == 36
    await page.get_by_label(t("admin.filter.region")).select_option("北海道")
    await page.get_by_role("button", name=t("admin.filter.submit")).click()
    await page.wait_for_url("**region=*")
    assert await page.locator("tbody tr").count() == 5
    await page.get_by_role("link", name=t("admin.nav.experts")).click()
    await page.get_by_label(t("admin.filter.topic")).fill("IoT")
    await page.get_by_label(t("admin.filter.prefecture")).select_option("長野県")
    await page.get_by_role("button", name=t("admin.filter.submit")).click()
    await page.wait_for_url("**topic=IoT*")
    names = await page.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert names == ["試験 三郎", "見本 誠"]  # named in 長野県 first, then by region block
    await page.get_by_role("link", name=t("admin.nav.people")).click()
    await page.get_by_label(t("admin.filter.role")).select_option("secretariat")
    await page.get_by_role("button", name=t("admin.filter.submit")).click()
    await page.wait_for_url("**role=secretariat*")
    assert await page.locator("tbody tr td:nth-child(2)").all_inner_texts() == ["見本 太郎"]
    cookie = next(c for c in await page.context.cookies() if c["name"] == COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    await page.get_by_role("button", name=t("admin.login.logout")).click()
    await page.wait_for_url(f"{url}/admin/login")
    await page.goto(f"{url}/admin/people")
    assert await page.title() == t("admin.login.title")
