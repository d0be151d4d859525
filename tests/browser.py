"""Debian's Chromium, headless, for the browser tests (never a downloaded browser): a page whose script
errors fail the test, skipped where Chromium is not installed, but never under CI (`.ci/run` installs it)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
# No background traffic: this machine's network is closed, and Chromium would keep trying.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@asynccontextmanager
async def chromium_page(before_close: Callable[[Any], Awaitable[None]] | None = None) -> AsyncIterator[Any]:
    """A new page (locale ja-JP); `before_close(page)` runs last, e.g. to save a screenshot."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium (see .ci/run)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(locale="ja-JP")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield page
            assert errors == [], f"script errors on the page: {errors}"
        finally:
            if before_close is not None:
                await before_close(page)
            await browser.close()
