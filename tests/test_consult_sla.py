"""SLA with a fixed clock through `dxlab jobs run-due --now …` (a fresh process state each run, as after a
restart): the reminder and the next candidate after 4 business hours, escalation after 1 business day,
across a weekend and a national holiday (勤労感謝の日, Monday 2026-11-23); the idle nudge; each once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from handlers.i18n import t
from tests.consult_kit import QUESTION, Bot, Connector, at, buttons, close_bot, connector, make_bot
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack

__all__ = ["connector"]
FRIDAY = at("2026-11-20T16:00:00")


@pytest.fixture
async def bot(make_settings: Any, fake_slack: FakeSlack, connector: Connector, bundled_knowledge: Any,
              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bot]:
    b = await make_bot(make_settings, fake_slack, connector, bundled_knowledge, FRIDAY)
    monkeypatch.chdir(tmp_path)  # no developer .env
    for name, value in {"DXLAB_DATABASE_URL": b.core.settings.database_url, "SLACK_BOT_TOKEN": BOT_TOKEN,
                        "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake_slack.api_url,
                        "DXLAB_KB_WATCH": "false"}.items():
        monkeypatch.setenv(name, value)
    # Each run builds a fresh Core (as a new process would); the knowledge base is shared to keep it fast.
    monkeypatch.setattr("bot.app.LiveKnowledge", lambda *args, **kwargs: bundled_knowledge)
    yield b
    await close_bot(b)


async def run_due(now: str) -> int:
    """`dxlab jobs run-due --now NOW` (Tokyo wall-clock time), off the test's event loop."""
    return await asyncio.to_thread(main, ["jobs", "run-due", "--now", now])


async def test_reminder_and_escalation_skip_the_weekend_and_the_holiday(bot: Bot) -> None:
    await bot.say(bot.slack_user("U0REQ1"), f"相談 {QUESTION}", command=True)
    await bot.deliver()
    ref = bot.ref()
    assert len(bot.slack_posts("D0EXA")) == 1 and not bot.slack_posts("D0EXB")
    for quiet in ("2026-11-20T17:59", "2026-11-21T12:00", "2026-11-22T12:00", "2026-11-23T12:00",
                  "2026-11-24T10:59"):  # Friday's last hour, the weekend, the holiday, Tuesday morning
        assert await run_due(quiet) == 0
        assert len(bot.slack_posts("D0EXA")) == 1 and not bot.slack_posts("D0EXB"), quiet
    assert await run_due("2026-11-24T11:00") == 0  # 2 business hours on Friday + 2 on Tuesday
    assert bot.slack_texts("D0EXA")[-1].endswith(t("consult.offer.reminder", ref=ref))
    [offer_b] = bot.slack_posts("D0EXB")  # the next candidate is asked too
    assert ref in offer_b["text"] and buttons(offer_b, "consult.accept")
    assert not any("1営業日" in x for x in bot.slack_texts("C0SEC"))
    assert await run_due("2026-11-24T15:59") == 0
    assert not any("1営業日" in x for x in bot.slack_texts("C0SEC"))
    assert await run_due("2026-11-24T16:00") == 0  # 9 business hours: one business day
    [escalation] = [p for p in bot.slack_posts("C0SEC") if "1営業日" in p["text"]]
    assert ref in escalation["text"] and QUESTION not in escalation["text"] and "U0EXX" not in str(escalation)
    assert buttons(escalation, "consult.assign")
    before = len(bot.slack.calls_to("chat.postMessage"))
    assert await run_due("2026-11-24T16:00") == 0  # the same instant again, a new process: nothing twice
    assert len(bot.slack.calls_to("chat.postMessage")) == before
    # 専門家B's own 4 business hours ran out at 15:00: B was reminded and 専門家C asked as well.
    assert bot.slack_texts("D0EXB")[-1].endswith(t("consult.offer.reminder", ref=ref))
    assert len(bot.slack_posts("D0EXC")) == 1
    # 専門家B (asked second) accepts first: the case is theirs, 専門家A's offer is withdrawn.
    await bot.press(bot.slack_user("U0EXB"), "consult.accept", str(bot.case().id))
    await bot.deliver(at("2026-11-25T16:05"))
    assert (bot.case().status, bot.case().assignee) == ("active", "ex-b")
    late = await bot.press(bot.slack_user("U0EXA"), "consult.accept", str(bot.case().id))
    assert late is not None and late.text == t("consult.offer.not_yours")


async def test_an_idle_case_nudges_the_assignee_once(bot: Bot) -> None:
    await bot.say(bot.slack_user("U0REQ1"), f"相談 {QUESTION}", command=True)
    await bot.deliver()
    await bot.press(bot.slack_user("U0EXA"), "consult.accept", str(bot.case().id))
    await bot.deliver()
    ref = bot.ref()
    # Accepted Friday 16:00; 5 business days (45 business hours) skip the weekend and the holiday:
    # Fri 2h + Tue–Fri 36h + Mon 30th 7h → Monday 2026-11-30 16:00.
    assert await run_due("2026-11-30T15:59") == 0
    assert not any(ref in x and "5営業日" in x for x in bot.slack_texts("D0EXA"))
    assert await run_due("2026-11-30T16:00") == 0
    assert sum("5営業日" in x for x in bot.slack_texts("D0EXA")) == 1
    assert await run_due("2026-12-07T16:00") == 0
    assert sum("5営業日" in x for x in bot.slack_texts("D0EXA")) == 1


async def test_a_message_resets_the_idle_clock(bot: Bot) -> None:
    me = bot.slack_user("U0REQ1")
    await bot.say(me, f"相談 {QUESTION}", command=True)
    await bot.deliver()
    await bot.press(bot.slack_user("U0EXA"), "consult.accept", str(bot.case().id))
    await bot.deliver()
    bot.now = at("2026-11-27T10:00:00")
    await bot.say(me, "追加の資料を送ります")
    await bot.deliver()
    assert await run_due("2026-11-30T16:00") == 0
    assert not any("5営業日" in x for x in bot.slack_texts("D0EXA")), "the earlier nudge was cancelled"


async def test_an_offer_made_at_night_before_a_long_weekend_waits_for_tuesday_morning(bot: Bot) -> None:
    bot.now = at("2026-11-20T21:00:00")  # Friday night; Monday 11-23 is 勤労感謝の日
    await bot.say(bot.slack_user("U0REQ1"), f"相談 {QUESTION}", command=True)
    await bot.deliver()
    assert bot.slack_posts("C0SEC") and not bot.slack_posts("D0EXA"), "the channel at once, the DM waits"
    assert await run_due("2026-11-23T12:00") == 0
    assert not bot.slack_posts("D0EXA")
    assert await run_due("2026-11-24T08:00") == 0
    assert len(bot.slack_posts("D0EXA")) == 1
