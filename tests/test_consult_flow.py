"""Consultations end to end: each door → match → offer → accept → relay both ways → close → rating, through
the real dispatcher, outbox and senders, to the fake Slack Web API and the fake Bot Framework connector."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from handlers.i18n import t
from tests.consult_kit import QUESTION, Bot, Connector, at, buttons, close_bot, connector, make_bot
from tests.fake_slack import FakeSlack

__all__ = ["connector"]
ASKED = "会社単独で応募できますか?"  # an FAQ question the knowledge base answers
NOW = at("2026-12-02T10:00:00")  # a Wednesday, in business hours


@pytest.fixture
async def bot(make_settings: Any, fake_slack: FakeSlack, connector: Connector, bundled_knowledge: Any
              ) -> AsyncIterator[Bot]:
    b = await make_bot(make_settings, fake_slack, connector, bundled_knowledge, NOW)
    yield b
    await close_bot(b)


async def accept_and_talk(bot: Bot, requester_texts: Any, requester: Any) -> str:
    """The offered expert (専門家A) accepts; one message each way; the expert marks it answered."""
    ref = bot.ref()
    offer = bot.slack_posts("D0EXA")[0]
    assert ref in offer["text"]
    [accept] = buttons(offer, "consult.accept")
    await bot.press(bot.slack_user("U0EXA"), "consult.accept", accept["value"])
    await bot.deliver()
    assert any(t("consult.requester.assigned", ref=ref, who="専門家A") in x for x in requester_texts())
    assert any(f"{ref} は 専門家A さんが担当します" in x for x in bot.slack_texts("C0SEC"))
    await bot.say(requester, "従業員は30名で、設備は10台です")
    await bot.deliver()
    assert any("従業員は30名で、設備は10台です" in x for x in bot.slack_texts("D0EXA"))
    await bot.say(bot.slack_user("U0EXA"), "まず稼働データの取り方から始めましょう")
    await bot.deliver()
    assert any("まず稼働データの取り方から始めましょう" in x for x in requester_texts())
    await bot.press(bot.slack_user("U0EXA"), "consult.answered", str(bot.case().id))
    await bot.deliver()
    assert bot.case().status == "answered"
    return ref


async def close_with_rating(bot: Bot, requester: Any, requester_texts: Any) -> None:
    case = bot.case()
    reply = await bot.press(requester, "consult.close", str(case.id))
    assert reply is not None and reply.form is not None and reply.form.id == "consult.close"
    await bot.submit(requester, "consult.close", {"rating": "5", "comment": "助かりました"}, str(case.id))
    await bot.deliver()
    row = bot.case()
    assert (row.status, row.rating, row.comment) == ("closed", 5, "助かりました")
    assert any("評価: 5" in x for x in bot.slack_texts("C0SEC"))
    assert any(t("consult.requester.closed", ref=bot.ref()) in x for x in requester_texts())


async def test_command_door_from_slack_to_a_slack_expert_and_back(bot: Bot) -> None:
    me = bot.slack_user("U0REQ1")
    reply = await bot.say(me, f"相談 {QUESTION}", command=True)
    assert reply is not None and reply.title is not None
    ref = bot.ref()
    assert ref.startswith("DX-2026-") and ref in reply.title
    assert t("consult.opened.consent_given") in reply.text  # typing the command is consent
    await bot.deliver()
    [post] = bot.slack_posts("C0SEC")
    # The shared channel: number, topic and region with the top three mentioned, never the text.
    assert ref in post["text"] and "生産管理" in post["text"] and "長野県" in post["text"]
    assert QUESTION not in post["text"] and QUESTION not in str(post.get("blocks"))
    assert "<@U0EXA>" in post["text"] and "<@U0EXB>" in post["text"] and "<@U0EXC>" in post["text"]
    assert "U0EXX" not in str(post), "the expert excluded from 山田製作所 is never offered"
    assert "同じ長野県・製造業・生産管理" in post["text"]
    assert len(buttons(post, "consult.assign")) == 3
    [offer] = bot.slack_posts("D0EXA")
    assert QUESTION in offer["text"], "with consent, the offered expert reads the text"
    assert not bot.slack_posts("D0EXX")
    await accept_and_talk(bot, lambda: bot.slack_texts("D0REQ1"), me)
    await close_with_rating(bot, me, lambda: bot.slack_texts("D0REQ1"))


async def test_button_door_teams_requester_with_a_slack_expert(bot: Bot, connector: Connector) -> None:
    me = bot.teams_user("aad-req-2")
    answer = await bot.say(me, ASKED)
    assert answer is not None and answer.answer is not None and answer.answer.answered
    reply = await bot.press(me, "handoff", str(answer.answer.log_id))
    assert reply is not None and reply.title is not None
    ref = bot.ref()
    assert ref in reply.title and t("consult.opened.consent_needed") in reply.text
    [consent] = [b for b in reply.buttons if b.action == "consult.consent"]
    await bot.deliver()
    [offer] = bot.slack_posts("D0EXA")
    assert ASKED not in offer["text"], "no consent yet: topic and region only"
    assert t("consult.offer.text_hidden") in offer["text"]
    await bot.press(me, "consult.consent", consent.value)
    await bot.deliver()
    shared = bot.slack_texts("D0EXA")[-1]
    assert ASKED in shared and "ボットがFAQからお答えした内容" in shared
    again = await bot.press(me, "handoff", str(answer.answer.log_id))
    assert again is not None and t("consult.opened.exists", ref=ref) == again.text

    def requester_texts() -> list[str]:
        return connector.texts("a:personal-req-2")

    await accept_and_talk(bot, requester_texts, me)
    await close_with_rating(bot, me, requester_texts)


async def test_words_door_in_a_channel_thread(bot: Bot) -> None:
    thread = bot.slack_user("U0REQ1", channel="C0LAB", thread="1700000001.000100")
    reply = await bot.say(thread, "うちの工場の生産管理について専門家に相談したい")
    assert reply is not None and reply.title is not None and bot.ref() in reply.title
    await bot.deliver()

    def requester_texts() -> list[str]:
        return [c.get("text") or "" for c in bot.slack.calls_to("chat.postMessage")
                if c.get("channel") == "C0LAB" and c.get("thread_ts") == "1700000001.000100"]

    await accept_and_talk(bot, requester_texts, thread)
    # Writing again after 回答済 reopens the case (再開) and reaches the expert.
    await bot.say(thread, "もう一点、センサーの費用感も知りたいです")
    await bot.deliver()
    assert bot.case().status == "active" and bot.case().reopened == 1
    assert any("センサーの費用感" in x for x in bot.slack_texts("D0EXA"))
    assert any(f"{bot.ref()} が再開されました" in x for x in bot.slack_texts("C0SEC"))


async def test_decline_moves_to_the_next_candidate_and_the_conflicted_expert_never_comes(bot: Bot) -> None:
    await bot.say(bot.slack_user("U0REQ1"), f"相談 {QUESTION}", command=True)
    await bot.deliver()
    case_id = str(bot.case().id)
    asked = []
    for user in ("U0EXA", "U0EXB", "U0EXC"):
        assert bot.slack_posts("D" + user.lstrip("U")), f"{user} was offered the case"
        asked.append(user)
        reply = await bot.press(bot.slack_user(user), "consult.decline", case_id)
        assert reply is not None and t("consult.offer.declined", ref=bot.ref()) == reply.text
        await bot.deliver()
    assert any(f"{bot.ref()} を 専門家A さんが辞退しました" in x for x in bot.slack_texts("C0SEC"))
    others = {"ex-sub": bot.slack_user("U0EXS"), "ex-away": bot.slack_user("U0EXD"),
              "ex-teams": bot.teams_user("aad-ex-t", conversation="a:personal-ex-t")}
    while bot.case().offered_to and len(asked) < 10:  # the rest, whoever they are, decline as well
        person = bot.case().offered_to
        asked.append(person)
        await bot.press(others[person], "consult.decline", case_id)
        await bot.deliver()
    assert not bot.slack_posts("D0EXX"), "the expert excluded from the requester's organisation is never offered"
    assert any(t("consult.secretariat.exhausted", ref=bot.ref()) in x for x in bot.slack_texts("C0SEC"))
    # A decline from someone never asked, or twice, changes nothing.
    reply = await bot.press(bot.slack_user("U0EXX"), "consult.accept", case_id)
    assert reply is not None and reply.text == t("consult.offer.not_yours")


async def test_the_absent_experts_substitute_is_offered(bot: Bot) -> None:
    await bot.say(bot.slack_user("U0PUB"), "相談 岐阜県の食品会社です。ECサイトで販路開拓をしたい", command=True)
    await bot.deliver()
    row = bot.case()
    assert (row.topic, row.prefecture, row.industry) == ("EC・販路開拓", "岐阜県", "食品")
    assert row.offered_to == "ex-sub"
    assert bot.slack_posts("D0EXS") and not bot.slack_posts("D0EXD")
    assert "不在Dさん(不在)の代理" in bot.slack_texts("C0SEC")[0]


async def test_unsure_message_asks_and_the_choice_is_kept(bot: Bot) -> None:
    me = bot.slack_user("U0REQ1")
    reply = await bot.say(me, "ITコーディネータに相談できますか?")
    assert reply is not None and [b.action for b in reply.buttons] == ["consult.as_faq", "consult.as_consult"]
    opened = await bot.press(me, "consult.as_consult", "1")
    assert opened is not None and opened.title is not None and bot.ref() in opened.title
    assert bot.case().text == "ITコーディネータに相談できますか?"
    stale = await bot.press(me, "consult.as_faq", "1")
    assert stale is not None and stale.text == t("consult.unsure.expired")


async def test_a_slack_requester_with_a_teams_expert(bot: Bot, connector: Connector) -> None:
    expert = bot.teams_user("aad-ex-t", conversation="a:personal-ex-t")
    await bot.say(expert, "こんにちは")  # the bot learns where to reach this expert on Teams
    me = bot.slack_user("U0REQ1")
    await bot.say(me, "相談 長野県でスマート農業を始めたい農家です。圃場のデータ活用を相談したい", command=True)
    await bot.deliver()
    assert bot.case().offered_to == "ex-teams"
    assert any(bot.ref() in x for x in connector.texts("a:personal-ex-t")), "the offer reaches Teams"
    await bot.press(expert, "consult.accept", str(bot.case().id))
    await bot.say(expert, "まず圃場ごとの収量を記録しましょう")
    await bot.deliver()
    assert any("まず圃場ごとの収量を記録しましょう" in x for x in bot.slack_texts("D0REQ1"))
    await bot.say(me, "記録用のアプリは何がよいですか")
    await bot.deliver()
    assert any("記録用のアプリは何がよいですか" in x for x in connector.texts("a:personal-ex-t"))
