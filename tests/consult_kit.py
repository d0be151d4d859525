"""Shared set-up for the consultation tests: a directory, a Core on SQLite with a fixed clock, delivery of
the outbox to the fake Slack Web API and the fake Bot Framework connector, and the doors in."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.app import Core, build_core
from bot.db import models as m
from bot.directory.service import import_files
from bot.outbound import run_due_at
from handlers.address import Address
from handlers.messages import Action, Inbound, Reply, Submission
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.fake_teams import serving

JST = dt.timezone(dt.timedelta(hours=9))
SERVICE = "teams-service"  # replaced by the connector's URL
DIRECTORY = """\
secretariat: {slack_channel: C0SEC}
labs:
  - {id: nagano-pref, name: 長野県, prefecture: 長野県, round: 1, slack_channel: C0LAB}
people:
  - {id: sec-1, name: 事務局一, roles: [secretariat], slack_user: U0SEC1}
  - {id: sec-2, name: 事務局二, roles: [secretariat], slack_user: U0SEC2}
  - {id: req-slack, name: 山田依頼, org: 山田製作所, prefecture: 長野県, industry: 製造業, roles: [company],
     labs: [nagano-pref], slack_user: U0REQ1}
  - {id: req-teams, name: 佐藤依頼, org: 佐藤金属, prefecture: 長野県, industry: 製造業, roles: [company],
     labs: [nagano-pref], teams_user: aad-req-2}
  - {id: ex-a, name: 専門家A, org: A事務所, roles: [expert], slack_user: U0EXA}
  - {id: ex-b, name: 専門家B, org: B事務所, roles: [expert], slack_user: U0EXB}
  - {id: ex-c, name: 専門家C, org: C事務所, roles: [expert], slack_user: U0EXC}
  - {id: ex-x, name: 利害関係X, org: X事務所, roles: [expert], slack_user: U0EXX}
  - {id: ex-away, name: 不在D, org: D事務所, roles: [expert], slack_user: U0EXD}
  - {id: ex-sub, name: 代理S, org: S事務所, roles: [expert], slack_user: U0EXS}
  - {id: ex-teams, name: 農業T, org: T農園, roles: [expert], teams_user: aad-ex-t}
experts:
  - {person: ex-x, kind: ITコーディネータ, prefectures: [長野県], industries: [製造業], topics: [生産管理, IoT],
     capacity: 5, excluded_orgs: [山田製作所, 佐藤金属]}
  - {person: ex-a, kind: ITコーディネータ, prefectures: [長野県], industries: [製造業], topics: [生産管理, IoT],
     capacity: 3}
  - {person: ex-b, kind: 公設試, regions: [中部], industries: [製造業], topics: [生産管理], capacity: 3}
  - {person: ex-c, kind: メンター, national: true, topics: [生産管理, DX戦略], capacity: 3}
  - {person: ex-away, kind: ITコーディネータ, prefectures: [岐阜県], industries: [食品], topics: [EC・販路開拓],
     capacity: 3, absent_from: 2026-01-01, absent_until: 2027-12-31, substitute: ex-sub}
  - {person: ex-sub, kind: メンター, national: true, topics: [DX戦略], capacity: 3}
  - {person: ex-teams, kind: 公設試, prefectures: [長野県], industries: [農林水産業], topics: [農業DX], capacity: 2}
"""
QUESTION = "工場の生産管理をIoTで見える化したいので、専門家に相談したい"


def at(text: str) -> dt.datetime:
    """A Tokyo wall-clock time as an aware datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=JST)


@dataclass
class Connector:
    """The Bot Framework connector proactive messages go to: records each activity."""

    url: str = ""
    posted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def receive(self, request: web.Request) -> web.Response:
        self.posted.append((request.match_info["conversation"], await request.json()))
        return web.json_response({"id": f"activity-{len(self.posted)}"})

    def texts(self, conversation: str) -> list[str]:
        return [json.dumps(a, ensure_ascii=False) for c, a in self.posted if c == conversation]


@pytest.fixture
async def connector() -> AsyncIterator[Connector]:
    async with serving(Connector()) as fake:
        yield fake


class Bot:
    """A Core (real dispatcher, SQLite, real senders) on a fixed clock."""

    def __init__(self, core: Core, slack: FakeSlack, connector: Connector, now: dt.datetime):
        self.core, self.slack, self.connector, self.now = core, slack, connector, now
        core.dispatcher.clock = lambda: self.now

    # -- doors and presses -------------------------------------------------------------------
    def slack_user(self, user: str, channel: str = "", thread: str | None = None) -> Address:
        return Address("slack", channel or "D" + user.lstrip("U"), user, thread, "T0000001")

    def teams_user(self, aad: str, conversation: str = "a:personal-req-2") -> Address:
        return Address("teams", conversation, aad, None, "tenant-1", self.connector.url)

    async def say(self, where: Address, text: str, command: bool = False) -> Reply | None:
        return await self.core.dispatcher.message(Inbound(where, text, command))

    async def press(self, where: Address, name: str, value: str) -> Reply | None:
        return await self.core.dispatcher.action(Action(where, name, value))

    async def submit(self, where: Address, form: str, values: dict[str, str], context: str) -> Reply | None:
        return await self.core.dispatcher.submission(Submission(where, form, values, context))

    # -- time and delivery ---------------------------------------------------------------------
    async def deliver(self, now: dt.datetime | None = None) -> dict[str, object]:
        """Run what is due at `now` (default: the current fixed instant) and send the outbox."""
        if now is not None:
            self.now = now
        return await run_due_at(self.core.db, self.core.senders, self.core.run_due_step, self.core.settings,
                                self.now.astimezone(dt.UTC))

    def slack_texts(self, channel: str) -> list[str]:
        return [c.get("text") or "" for c in self.slack.calls_to("chat.postMessage") if c.get("channel") == channel]

    def slack_posts(self, channel: str) -> list[dict[str, Any]]:
        return [c for c in self.slack.calls_to("chat.postMessage") if c.get("channel") == channel]

    def case(self, ref: str | None = None) -> m.ConsultCase:
        with self.core.db.session() as s:
            rows = list(s.scalars(select(m.ConsultCase).order_by(m.ConsultCase.id)))
            s.expunge_all()
        return rows[-1] if ref is None else next(r for r in rows if f"DX-{r.year}-{r.seq:04d}" == ref)

    def ref(self) -> str:
        row = self.case()
        return f"DX-{row.year}-{row.seq:04d}"


def buttons(post: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [e for b in post.get("blocks", []) for e in b.get("elements", [])
            if e.get("type") == "button" and str(e.get("action_id", "")).startswith(f"{action}:")]


async def make_bot(make_settings: Any, fake_slack: FakeSlack, connector: Connector, bundled_knowledge: Any,
                   now: dt.datetime, **env: str) -> Bot:
    settings = make_settings(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                             SLACK_API_URL=fake_slack.api_url, **env)
    core = build_core(settings, bundled_knowledge)
    plan = import_files(core.units, [("directory.yaml", DIRECTORY)], "test")
    assert not plan.errors, plan.errors
    return Bot(core, fake_slack, connector, now)


async def close_bot(bot: Bot) -> None:
    for sender in bot.core.senders.values():
        close = getattr(sender, "close", None)
        if close is not None:
            await close()
    bot.core.close()
    await asyncio.sleep(0)
