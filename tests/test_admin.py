"""The read-only secretariat pages (/admin): login with the token, filters, refusals; the page is
driven in headless Chromium."""

from __future__ import annotations

import os
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

TOKEN = "s3cret-admin-token"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
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
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

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
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(locale="ja-JP")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield page
            assert errors == []
        finally:
            await browser.close()


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
