"""The neutral bot: answers with buttons, feedback, hand-off, suggestions and help."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bot.app import Core, build_core
from handlers.messages import Action, ActionName, Inbound
from tests.helpers import settings_for


@pytest.fixture
def core(tmp_path: Path) -> Core:
    core = build_core(settings_for(tmp_path))
    yield core
    core.close()


def _msg(text: str, command: bool = False) -> Inbound:
    return Inbound("web", "u1", "conv1", text, is_command=command)


async def test_answer_has_source_feedback_and_handoff(core: Core) -> None:
    reply = await core.bot.on_message(_msg("地域DX推進ラボとは何ですか"))
    assert reply.meta["answered"] is True
    assert reply.source and "出典" in reply.source and "時点" in reply.source
    assert [b.action for b in reply.buttons] == [ActionName.FEEDBACK_UP, ActionName.FEEDBACK_DOWN,
                                                 ActionName.HANDOFF]


async def test_feedback_and_handoff_are_stored(core: Core) -> None:
    reply = await core.bot.on_message(_msg("地域DX推進ラボとは何ですか"))
    log_id = str(reply.meta["log_id"])
    down = await core.bot.on_action(Action("web", "u1", "conv1", ActionName.FEEDBACK_DOWN, log_id))
    assert down.ephemeral and down.buttons[0].action == ActionName.HANDOFF
    handoff = await core.bot.on_action(Action("web", "u1", "conv1", ActionName.HANDOFF, log_id))
    assert "受付番号 DX-" in handoff.text
    again = await core.bot.on_action(Action("web", "u1", "conv1", ActionName.HANDOFF, log_id))
    assert "すでに受け付けて" in again.text
    with core.db.engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM feedback")).scalar_one() == -1
        assert conn.execute(text("SELECT count(*) FROM handoff_request")).scalar_one() == 1


async def test_declined_question_offers_a_person_and_is_logged(core: Core) -> None:
    reply = await core.bot.on_message(_msg("今日の天気はどうですか"))
    assert reply.meta["answered"] is False
    assert [b.action for b in reply.buttons] == [ActionName.HANDOFF]
    with core.db.engine.connect() as conn:
        assert conn.execute(text("SELECT answered FROM question_log")).scalar_one() in (0, False)


async def test_suggestion_button_answers_that_entry(core: Core) -> None:
    reply = await core.bot.on_action(Action("web", "u1", "conv1", ActionName.ASK, "overview.what-is"))
    assert reply.meta["entry_id"] == "overview.what-is"
    missing = await core.bot.on_action(Action("web", "u1", "conv1", ActionName.ASK, "no.such"))
    assert missing.ephemeral


async def test_help_and_commands(core: Core) -> None:
    assert (await core.bot.on_message(_msg("help"))).meta["kind"] == "help"
    assert (await core.bot.on_message(_msg("", command=True))).meta["kind"] == "help"
    unknown = await core.bot.on_message(_msg("frobnicate now", command=True))
    assert "「frobnicate」というコマンドはありません" in unknown.text and "/dxlab ask" in unknown.text
    asked = await core.bot.on_message(_msg("ask 地域DX推進ラボとは何ですか", command=True))
    assert asked.meta["answered"] is True


async def test_oversized_message_is_refused_politely(core: Core) -> None:
    reply = await core.bot.on_message(_msg("質問" * 30_000))
    assert reply.ephemeral and "長すぎる" in reply.text


async def test_thanks_is_acknowledged_not_declined(core: Core) -> None:
    reply = await core.bot.on_message(_msg("ありがとうございました!"))
    assert reply.meta["kind"] == "thanks" and "どういたしまして" in reply.text
