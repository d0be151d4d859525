"""Shared fixtures: Settings on a temporary database, our real server on 127.0.0.1, a fake Slack.

Platform fakes for other channels (a Bot Framework connector, …) belong in their own test files;
`start_server` serves whatever the Settings switch on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.app import Core, build_core
from bot.config import Settings, load_settings
from bot.server import build_app
from knowledge.live import LiveKnowledge
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack

# Fixture modules used as plugins by several test files: rewrite their asserts whichever imports first.
pytest.register_assert_rewrite("tests.kpi_world", "tests.events_fixtures")


async def serve_on_loopback(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve `app` on 127.0.0.1 at a free port: its runner (`cleanup()` stops it) and its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"

SettingsFactory = Callable[..., Settings]
FAILED = pytest.StashKey[bool]()  # set on a test item whose call phase failed (fixtures save evidence)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report: pytest.TestReport = yield  # type: ignore[misc]
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report  # type: ignore[return-value]


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    """Settings from the given environment (names as in bot.config.ENV_NAMES) on this test's own database."""
    def make(**env: str) -> Settings:
        base = {"DXLAB_DATABASE_URL": f"sqlite:///{tmp_path / 'dxlab.db'}", "DXLAB_KB_WATCH": "false",
                "DXLAB_LOG_LEVEL": "INFO"}
        return load_settings(env=base | env, dotenv_path=Path("/nonexistent"))
    return make


@dataclass
class Running:
    """One of our servers, listening on 127.0.0.1."""

    url: str
    app: web.Application
    core: Core
    runner: web.AppRunner

    async def stop(self) -> None:
        await self.runner.cleanup()
        self.core.close()


ServerFactory = Callable[..., Awaitable[Running]]


@pytest.fixture(scope="session")
def bundled_knowledge() -> LiveKnowledge:
    """The shipped knowledge base, loaded once for the whole run (loading it takes about a second)."""
    return LiveKnowledge()


@pytest.fixture
async def start_server(bundled_knowledge: LiveKnowledge) -> AsyncIterator[ServerFactory]:
    """`await start_server(settings, host=…)`: build_app on a fresh Core, served on an ephemeral port.

    `host` is the address the server believes it serves (it decides the loopback-only parts); the
    socket itself always listens on 127.0.0.1.
    """
    running: list[Running] = []

    async def start(settings: Settings, host: str = "127.0.0.1", **options: object) -> Running:
        shared = None if settings.knowledge_dir or settings.answer_threshold is not None else bundled_knowledge
        core = build_core(settings, shared)
        app = build_app(core, host, **options)  # type: ignore[arg-type]
        runner, url = await serve_on_loopback(app)
        server = Running(url, app, core, runner)
        running.append(server)
        return server

    yield start
    for server in running:
        if server.runner.server is not None:  # not stopped by the test itself
            await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe=True: keep cookies from an IP-address host such as 127.0.0.1 (aiohttp drops them by default).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    yield fake
    await fake.close()


@pytest.fixture
def slack_settings(make_settings: SettingsFactory, fake_slack: FakeSlack) -> Settings:
    return make_settings(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                         SLACK_API_URL=fake_slack.api_url)


async def settled(core: Core, timeout: float = 15.0, *, outbox: bool = True) -> None:
    """Wait until nothing is left in the inbox or the outbox (answered, sent, or given up); with
    `outbox=False` the inbox only (a test that sends the outbox itself, at a fixed instant)."""
    from sqlalchemy import text

    tables = ("inbox", "outbox") if outbox else ("inbox",)
    query = text("SELECT " + " + ".join(f"(SELECT count(*) FROM {table} WHERE state IN ('pending', 'claimed'))"
                                        for table in tables))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        with core.db.engine.connect() as conn:
            busy = conn.execute(query).scalar()
        if not busy:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{'/'.join(tables)} still busy after {timeout} s")


@pytest.fixture
def artifacts() -> Iterator[Path]:
    """test-artifacts/ (git-ignored): screenshots and other evidence of a failure."""
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    yield path
