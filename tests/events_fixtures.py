"""Fixtures for the announcement and event tests (a pytest plugin: `pytest_plugins = ["tests.events_fixtures"]`):
settings on a fresh database whose environment the `dxlab` CLI sees too, and a Core with the test directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import bot.app
from bot.app import Core, build_core
from bot.config import Settings
from bot.directory.service import import_files
from knowledge.live import LiveKnowledge
from tests.conftest import SettingsFactory
from tests.events_helpers import DIRECTORY
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack


@pytest.fixture
def settings(make_settings: SettingsFactory, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch,
             tmp_path: Path) -> Settings:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake_slack.api_url,
           "DXLAB_SEND_RATE": "0", "DXLAB_OUTBOX_MAX_ATTEMPTS": "1",
           "DXLAB_PUBLIC_URL": "https://dxlab.example.jp", "DXLAB_KB_WATCH": "0"}
    settings = make_settings(**env)
    monkeypatch.chdir(tmp_path)  # no developer .env
    for name, value in {**env, "DXLAB_DATABASE_URL": settings.database_url}.items():
        monkeypatch.setenv(name, value)
    return settings


@pytest.fixture
async def core(settings: Settings, bundled_knowledge: LiveKnowledge, monkeypatch: pytest.MonkeyPatch
               ) -> AsyncIterator[Core]:
    # `dxlab jobs run-due` builds its own Core: let it share the knowledge base already loaded (1 s saved a run)
    original = bot.app.build_core
    monkeypatch.setattr(bot.app, "build_core", lambda settings=None, knowledge=None:
                        original(settings, knowledge or bundled_knowledge))
    core = build_core(settings, bundled_knowledge)
    plan = import_files(core.units, [("directory.yaml", DIRECTORY)], "test")
    assert not plan.errors, plan.errors
    yield core
    core.close()
