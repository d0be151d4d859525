"""A small world for the KPI tests: two labs with their staff, a secretariat, four quarterly indicators,
helpers to run the cycle with a fixed clock (in process, like `dxlab kpi run --now`), and the fixtures
`kpi_settings` and `core` (a pytest plugin: `pytest_plugins = ["tests.kpi_world"]`)."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.app import Core, build_core
from bot.config import Settings
from bot.directory.service import import_files
from handlers.address import Address
from handlers.kpi.charts import TARGET
from handlers.kpi.cycle import KINDS
from handlers.messages import Action, Inbound, Reply, Submission
from knowledge.live import LiveKnowledge
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack

JST = dt.timezone(dt.timedelta(hours=9))

DIRECTORY = """\
secretariat: {slack_channel: C0SEC}
labs:
  - {id: shiojiri, name: 塩尻市, prefecture: 長野県, slack_channel: C0LAB1}
  - {id: tsuyama, name: 津山市, prefecture: 岡山県, slack_channel: C0LAB2}
people:
  - {id: s-coord, name: 山田, roles: [coordinator], labs: [shiojiri], slack_user: U0001}
  - {id: s-lead, name: 佐藤, roles: [lead], labs: [shiojiri], slack_user: U0002}
  - {id: t-coord, name: 田中, roles: [coordinator], labs: [tsuyama], slack_user: U0003}
  - {id: t-lead, name: 鈴木, roles: [lead], labs: [tsuyama], slack_user: U0004}
  - {id: t-company, name: 高橋, roles: [company], labs: [tsuyama], slack_user: U0005}
  - {id: sec, name: 事務局 花子, roles: [secretariat], slack_user: U0009}
"""

INDICATORS = """\
indicators:
  - {lab: shiojiri, id: members, name: 参加企業数, unit: 社, type: integer, target: 50, direction: higher,
     cadence: quarterly, due_days: 15, from: FY2030-Q1}
  - {lab: shiojiri, id: seminars, name: セミナー開催数, unit: 回, type: integer, target: 8, cadence: quarterly,
     due_days: 15, from: FY2030-Q1}
  - {lab: tsuyama, id: members, name: 参加企業数, unit: 社, type: integer, target: 30, cadence: quarterly,
     due_days: 15}
  - {lab: tsuyama, id: rate, name: DX実施率, unit: "%", type: percent, target: 40, cadence: quarterly, due_days: 15}
"""

COORD_S, LEAD_S, COORD_T, LEAD_T, COMPANY_T, SEC = "U0001", "U0002", "U0003", "U0004", "U0005", "U0009"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def at(text: str) -> dt.datetime:
    """`2030-07-01 08:00` in Japan time."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=JST)


def dm(user: str) -> Address:
    return Address("slack", "D" + user.lstrip("U"), user=user)


def load_directory(core: Core) -> None:
    plan = import_files(core.units, [("directory.yaml", DIRECTORY)], "test")
    assert not plan.errors, plan.errors


def write(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return str(path)


async def run(core: Core, when: str) -> dict[str, Any]:
    summary = await core.run_due(at(when), KINDS)
    assert not summary["steps"]["given_up"] and not summary["outbox"]["given_up"], summary  # type: ignore[index]
    return summary


def posted(fake: FakeSlack) -> list[tuple[str, str]]:
    """(channel, text) of every chat.postMessage so far."""
    return [(str(c["channel"]), str(c["text"])) for c in fake.calls_to("chat.postMessage")]


def bars_in(png: bytes) -> int:
    """How many bars the overdue chart shows: the most runs of the bars' colour along one row of pixels."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colour = tuple(int(TARGET[i:i + 2], 16) for i in (1, 3, 5))
    width, height = image.size
    pixels = image.load()
    assert pixels is not None
    most = 0
    for y in range(height):
        runs, inside = 0, False
        for x in range(width):
            hit = all(abs(a - b) <= 12 for a, b in zip(pixels[x, y], colour, strict=True))
            runs += hit and not inside
            inside = hit
        most = max(most, runs)
    return most


def actions_of(call: dict[str, Any]) -> list[str]:
    blocks = call.get("blocks")
    blocks = json.loads(blocks) if isinstance(blocks, str) else (blocks or [])
    return [e.get("action_id", "") for b in blocks if b.get("type") == "actions" for e in b.get("elements", [])]


async def say(core: Core, user: str, text: str, when: str) -> Reply:
    core.dispatcher.clock = lambda: at(when)
    reply = await core.dispatcher.message(Inbound(dm(user), text, is_command=True))
    assert reply is not None
    return reply


async def press(core: Core, user: str, name: str, value: str, when: str) -> Reply:
    core.dispatcher.clock = lambda: at(when)
    reply = await core.dispatcher.action(Action(dm(user), name, value))
    assert reply is not None
    return reply


async def submit(core: Core, user: str, form: str, values: dict[str, str], context: str, when: str) -> Reply:
    core.dispatcher.clock = lambda: at(when)
    reply = await core.dispatcher.submission(Submission(dm(user), form, values, context))
    assert reply is not None
    return reply


@pytest.fixture
def kpi_settings(make_settings, fake_slack: FakeSlack) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                         SLACK_API_URL=fake_slack.api_url, DXLAB_SEND_RATE="0")


@pytest.fixture
async def core(kpi_settings: Settings, bundled_knowledge: LiveKnowledge) -> AsyncIterator[Core]:
    """The bot with the directory loaded, its Slack sender on the fake Slack Web API."""
    built = build_core(kpi_settings, bundled_knowledge)
    load_directory(built)
    yield built
    for sender in built.senders.values():
        close = getattr(sender, "close", None)
        if close is not None:
            await close()
    built.close()
