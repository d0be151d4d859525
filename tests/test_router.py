"""The neutral bot: answers with buttons, feedback, hand-off, suggestions and help."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bot.app import Core, build_core
from handlers.address import Address
from handlers.i18n import t
from handlers.messages import Action, ActionName, Inbound, ReplyKind
from tests.helpers import settings_for


@pytest.fixture
def core(tmp_path: Path) -> Core:
    core = build_core(settings_for(tmp_path))
    yield core
    core.close()


HERE = Address("web", "conv1", "u1")


def _msg(text: str, command: bool = False) -> Inbound:
    return Inbound(HERE, text, is_command=command)


async def test_answer_has_source_feedback_and_handoff(core: Core) -> None:
    reply = await core.dispatcher.message(_msg("地域DX推進ラボとは何ですか"))
    assert reply.answer.answered is True
    assert reply.source and "出典" in reply.source and "時点" in reply.source
    assert [b.action for b in reply.buttons] == [ActionName.FEEDBACK_UP, ActionName.FEEDBACK_DOWN,
                                                 ActionName.HANDOFF]


async def test_feedback_and_handoff_are_stored(core: Core) -> None:
    reply = await core.dispatcher.message(_msg("地域DX推進ラボとは何ですか"))
    log_id = str(reply.answer.log_id)
    down = await core.dispatcher.action(Action(HERE, ActionName.FEEDBACK_DOWN, log_id))
    assert down.ephemeral and down.buttons[0].action == ActionName.HANDOFF
    handoff = await core.dispatcher.action(Action(HERE, ActionName.HANDOFF, log_id))
    assert "受付番号 DX-" in handoff.text
    again = await core.dispatcher.action(Action(HERE, ActionName.HANDOFF, log_id))
    assert "すでに受け付けて" in again.text
    with core.db.engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM feedback")).scalar_one() == -1
        assert conn.execute(text("SELECT count(*) FROM handoff_request")).scalar_one() == 1


async def test_declined_question_offers_a_person_and_is_logged(core: Core) -> None:
    reply = await core.dispatcher.message(_msg("今日の天気はどうですか"))
    assert reply.answer.answered is False
    assert [b.action for b in reply.buttons] == [ActionName.HANDOFF]
    with core.db.engine.connect() as conn:
        assert conn.execute(text("SELECT answered FROM question_log")).scalar_one() in (0, False)


async def test_suggestion_button_answers_that_entry(core: Core) -> None:
    reply = await core.dispatcher.action(Action(HERE, ActionName.ASK, "overview.what-is"))
    assert reply.answer.entry_id == "overview.what-is"
    missing = await core.dispatcher.action(Action(HERE, ActionName.ASK, "no.such"))
    assert missing.ephemeral


async def test_help_and_commands(core: Core) -> None:
    assert (await core.dispatcher.message(_msg("help"))).kind == ReplyKind.HELP
    assert (await core.dispatcher.message(_msg("", command=True))).kind == ReplyKind.HELP
    unknown = await core.dispatcher.message(_msg("frobnicate now", command=True))
    assert "「frobnicate」というコマンドはありません" in unknown.text and t("help.usage_ask") in unknown.text
    asked = await core.dispatcher.message(_msg("ask 地域DX推進ラボとは何ですか", command=True))
    assert asked.answer.answered is True


async def test_oversized_message_is_refused_politely(core: Core) -> None:
    reply = await core.dispatcher.message(_msg("質問" * 30_000))
    assert reply.ephemeral and "長すぎる" in reply.text


async def test_thanks_is_acknowledged_not_declined(core: Core) -> None:
    reply = await core.dispatcher.message(_msg("ありがとうございました!"))
    assert reply.kind == ReplyKind.NOTICE and "どういたしまして" in reply.text


async def test_a_button_from_another_conversation_is_refused(core: Core) -> None:
    reply = await core.dispatcher.message(_msg("地域DX推進ラボとは何ですか"))
    elsewhere = Address("web", "someone-else", "u2")
    for name in (ActionName.FEEDBACK_UP, ActionName.HANDOFF):
        refused = await core.dispatcher.action(Action(elsewhere, name, str(reply.answer.log_id)))
        assert refused.ephemeral and "記録できませんでした" in refused.text
    with core.db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM handoff_request")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM feedback")).scalar_one() == 0


async def test_a_double_press_is_answered_once_and_stored_once(core: Core) -> None:
    import asyncio

    reply = await core.dispatcher.message(_msg("地域DX推進ラボとは何ですか"))
    log_id = str(reply.answer.log_id)
    presses = await asyncio.gather(*(core.dispatcher.action(Action(HERE, ActionName.FEEDBACK_UP, log_id))
                                     for _ in range(4)))
    assert all("ありがとう" in r.text for r in presses)
    with core.db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM feedback")).scalar_one() == 1


async def test_handoff_posts_to_the_secretariat_through_the_outbox(tmp_path: Path) -> None:
    core = build_core(settings_for(tmp_path, DXLAB_SECRETARIAT_SLACK_CHANNEL="C0SECRET"))
    try:
        reply = await core.dispatcher.message(_msg("地域DX推進ラボとは何ですか"))
        handoff = await core.dispatcher.action(Action(HERE, ActionName.HANDOFF, str(reply.answer.log_id)))
        assert "事務局に知らせました" in handoff.text
        with core.db.engine.connect() as conn:
            rows = conn.execute(text("SELECT address, payload FROM outbox")).all()
        # The secretariat's channel gets the case number, topic and region, never the question itself.
        assert len(rows) == 1 and "C0SECRET" in rows[0][0] and "地域DX推進ラボとは何ですか" not in rows[0][1]
        assert "DX-" in rows[0][1]
    finally:
        core.close()


async def test_handoff_without_a_secretariat_says_nobody_is_told(core: Core) -> None:
    reply = await core.dispatcher.message(_msg("地域DX推進ラボとは何ですか"))
    handoff = await core.dispatcher.action(Action(HERE, ActionName.HANDOFF, str(reply.answer.log_id)))
    assert "自動では届きません" in handoff.text
