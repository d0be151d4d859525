"""Slack end to end: signed HTTP requests into our real server (bolt inside), a fake Slack Web API out."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, text

from bot.config import Settings
from bot.db.models import ConsultCase, Feedback, HandoffRequest
from handlers.i18n import t
from tests.conftest import Running, ServerFactory, settled
from tests.fake_slack import (
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    FakeSlack,
    block_action,
    event_envelope,
    form_request,
    json_request,
    mention,
    message,
    slash_command,
    socket_envelope,
)

QUESTION = "会社単独で応募できますか?"


async def post(http: aiohttp.ClientSession, server: Running, body: bytes, headers: dict[str, str]) -> int:
    async with http.post(f"{server.url}/slack/events", data=body, headers=headers) as response:
        await response.read()
        return response.status


async def send_event(http: aiohttp.ClientSession, server: Running, event: dict[str, Any], event_id: str,
                     headers: dict[str, str] | None = None) -> int:
    body, signed = json_request(event_envelope(event, event_id))
    return await post(http, server, body, signed | (headers or {}))


async def settle(server: Running) -> None:
    """Wait until every delivery kept so far has been answered and every answer sent."""
    await settled(server.core)


def button(blocks: list[dict[str, Any]], action: str) -> dict[str, Any]:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("type") == "button" and element["action_id"].startswith(f"{action}:"):
                return element
    raise AssertionError(f"no {action} button in {blocks}")


def context_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]


@pytest.fixture
async def server(start_server: ServerFactory, slack_settings: Settings) -> Running:
    return await start_server(slack_settings)


async def test_mention_is_answered_in_its_thread_with_source(http, server, fake_slack: FakeSlack) -> None:
    assert await send_event(http, server, mention(QUESTION, ts="1700000001.000100"), "Ev1") == 200
    [answer] = await fake_slack.wait_for("chat.postMessage")
    assert answer["channel"] == "C0000001"
    assert answer["thread_ts"] == "1700000001.000100"
    assert any(text.startswith("出典") for text in context_texts(answer["blocks"]))
    assert button(answer["blocks"], "feedback_up")["text"]["text"] == t("button.feedback_up")
    assert button(answer["blocks"], "handoff")["text"]["text"] == t("button.handoff")
    assert fake_slack.calls_to("auth.test"), "bolt identifies the bot before dispatching"


async def test_mention_inside_a_thread_is_answered_in_that_thread(http, server, fake_slack) -> None:
    event = mention(QUESTION, ts="1700000005.000100", thread_ts="1700000001.000100")
    assert await send_event(http, server, event, "Ev1") == 200
    [answer] = await fake_slack.wait_for("chat.postMessage")
    assert answer["thread_ts"] == "1700000001.000100"


async def test_direct_message_is_answered_in_the_dm(http, server, fake_slack) -> None:
    event = message(QUESTION, channel="D0000001", channel_type="im")
    assert await send_event(http, server, event, "Ev1") == 200
    [answer] = await fake_slack.wait_for("chat.postMessage")
    assert answer["channel"] == "D0000001"
    assert "thread_ts" not in answer or answer["thread_ts"] is None
    assert "出典" in answer["text"]


async def test_follow_up_in_the_bots_thread_is_answered_there(http, server, fake_slack) -> None:
    await send_event(http, server, mention(QUESTION, ts="1700000001.000100"), "Ev1")
    await fake_slack.wait_for("chat.postMessage")
    follow_up = message("選定されるとどんな支援がありますか?", ts="1700000003.000100", thread_ts="1700000001.000100")
    stranger = message("選定されるとどんな支援がありますか?", ts="1700000004.000100", thread_ts="1700000009.000100")
    assert await send_event(http, server, follow_up, "Ev2") == 200
    assert await send_event(http, server, stranger, "Ev3") == 200
    await settle(server)
    answers = fake_slack.calls_to("chat.postMessage")
    assert [a["thread_ts"] for a in answers] == ["1700000001.000100", "1700000001.000100"]


async def test_retried_delivery_is_acknowledged_and_answered_once(http, server, fake_slack) -> None:
    event = mention(QUESTION)
    assert await send_event(http, server, event, "EvSame") == 200
    assert await send_event(http, server, event, "EvSame",
                            {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}) == 200
    await settle(server)
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


async def test_retry_after_a_restart_is_not_answered_again(http, start_server, slack_settings, fake_slack) -> None:
    first = await start_server(slack_settings)
    assert await send_event(http, first, mention(QUESTION), "EvRestart") == 200
    await fake_slack.wait_for("chat.postMessage")
    await first.stop()
    second = await start_server(slack_settings)  # same database
    assert await send_event(http, second, mention(QUESTION), "EvRestart", {"X-Slack-Retry-Num": "2"}) == 200
    await settle(second)
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize("tamper", ["wrong secret", "no signature", "not a number", "replayed"])
async def test_unsigned_or_stale_requests_are_refused(http, server, fake_slack, tamper: str) -> None:
    envelope = event_envelope(mention(QUESTION), "EvBad")
    sign_args: dict[str, Any] = {
        "wrong secret": {"secret": "not-the-secret"},
        "replayed": {"timestamp": int(time.time()) - 6 * 60},
    }.get(tamper, {})
    body, headers = json_request(envelope, **sign_args)
    if tamper == "no signature":
        del headers["X-Slack-Signature"]
    if tamper == "not a number":
        headers["X-Slack-Request-Timestamp"] = "yesterday"
    assert await post(http, server, body, headers) == 401
    await settle(server)
    assert fake_slack.calls == [], "nothing is done for a request that is not from Slack"


@pytest.mark.parametrize(("body", "content_type"), [
    (b'{"type": "event_callback", "event": ', "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b'{"no": "type"}', "application/json"),
    (b"payload=%7Bnot+json", "application/x-www-form-urlencoded"),
    (b"payload=%5B1%5D", "application/x-www-form-urlencoded"),
    (b"a&&=b", "application/x-www-form-urlencoded"),
    (b"user_id=U1&text=hello", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00garbage", "application/json"),
    # Fields bolt reads as text or an object: a boolean made it fail with a TypeError (a 500).
    (b'{"type": "event_callback", "event_id": "Ev1", "enterprise": true, "event": {"type": "app_mention"}}',
     "application/json"),
    (b'{"type": "block_actions", "trigger_id": "t", "user": {"id": "U1"}, "channel": false}', "application/json"),
])
async def test_malformed_bodies_are_400(http, server, fake_slack, body: bytes, content_type: str) -> None:
    from tests.fake_slack import sign

    async with http.post(f"{server.url}/slack/events", data=body,
                         headers={"Content-Type": content_type, **sign(body)}) as response:
        assert response.status == 400
        assert "Traceback" not in await response.text()
    assert fake_slack.posts() == []


async def test_a_60000_character_message_gets_a_polite_too_long_reply(http, server, fake_slack) -> None:
    huge = "あ" * 60_000
    assert await send_event(http, server, mention(huge), "EvHuge") == 200
    [reply] = await fake_slack.wait_for("chat.postEphemeral")
    limit = server.core.settings.max_question_chars
    assert reply["text"] == t("faq.too_long", limit=limit, length=60_000)
    assert reply["user"] == "U0000001"
    assert reply["thread_ts"] == "1700000001.000100"
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_feedback_button_is_stored_and_thanked_privately(http, server, fake_slack) -> None:
    await send_event(http, server, mention(QUESTION), "Ev1")
    [answer] = await fake_slack.wait_for("chat.postMessage")
    up = button(answer["blocks"], "feedback_up")
    body, headers = form_request(block_action(up["action_id"], up["value"], fake_slack.response_url(),
                                              user="U0000002", thread_ts=answer["thread_ts"]))
    assert await post(http, server, body, headers) == 200
    [thanks] = await fake_slack.wait_for("response_url")
    assert thanks["text"] == t("feedback.thanks") and thanks["response_type"] == "ephemeral"
    with server.core.db.session() as s:
        [row] = s.scalars(select(Feedback)).all()
    assert (row.question_log_id, row.user_ref, row.value) == (int(up["value"]), "U0000002", 1)


async def test_handoff_button_tells_the_secretariat_and_says_so_in_the_thread(
        http, start_server, slack_settings, fake_slack) -> None:
    server = await start_server(replace(slack_settings, secretariat_slack_channel="C0SECRET"))
    await send_event(http, server, mention(QUESTION), "Ev1")
    [answer] = await fake_slack.wait_for("chat.postMessage")
    handoff = button(answer["blocks"], "handoff")
    body, headers = form_request(block_action(handoff["action_id"], handoff["value"], fake_slack.response_url(),
                                              thread_ts=answer["thread_ts"]))
    assert await post(http, server, body, headers) == 200
    posts = await fake_slack.wait_for("chat.postMessage", count=3)
    with server.core.db.session() as s:
        [request] = s.scalars(select(HandoffRequest)).all()
        [case] = s.scalars(select(ConsultCase)).all()
    ref = f"DX-{case.year}-{case.seq:04d}"  # the consultation it opened (handlers/consult)
    [said] = [p for p in posts if p["channel"] == "C0000001" and ref in p["text"]]
    assert said["thread_ts"] == answer["thread_ts"] and "事務局に知らせました" in said["text"]
    [notice] = [p for p in posts if p["channel"] == "C0SECRET"]
    assert ref in notice["text"] and QUESTION not in notice["text"], "a shared channel never gets the text"
    assert case.text == QUESTION and case.question_log_id == request.question_log_id
    assert (request.channel, request.user_ref, request.conversation_ref, request.thread_ref) == (
        "slack", "U0000001", f"slack:C0000001:{answer['thread_ts']}", answer["thread_ts"])
    assert request.question == QUESTION
    await settle(server)
    assert len(fake_slack.calls_to("chat.postMessage")) == 3, "nothing is sent twice"


async def test_slash_help_is_shown_only_to_the_user(http, server, fake_slack) -> None:
    body, headers = form_request(slash_command("help", fake_slack.response_url("help")))
    assert await post(http, server, body, headers) == 200
    [reply] = await fake_slack.wait_for("response_url")
    assert reply["response_type"] == "ephemeral"
    assert t("help.title") in reply["text"] and t("help.usage_ask") in reply["text"]


async def test_slash_ask_answer_is_posted_for_the_channel(http, server, fake_slack) -> None:
    body, headers = form_request(slash_command(f"ask {QUESTION}", fake_slack.response_url("ask")))
    assert await post(http, server, body, headers) == 200
    [reply] = await fake_slack.wait_for("chat.postMessage")
    assert reply["channel"] == "C0000001"
    assert reply["blocks"][0]["text"]["text"] == f"*{t('faq.asked', question=QUESTION)}*"
    assert any(c.startswith("出典") for c in context_texts(reply["blocks"]))


async def test_messages_that_are_not_a_person_writing_are_ignored(http, server, fake_slack) -> None:
    await send_event(http, server, mention(QUESTION, ts="1700000001.000100"), "Ev0")
    await fake_slack.wait_for("chat.postMessage")
    in_thread = {"thread_ts": "1700000001.000100"}
    ignored = [
        message(QUESTION, channel="D0000001", channel_type="im", bot_id="BOTHER", subtype="bot_message"),
        message(QUESTION, channel="D0000001", channel_type="im", user=BOT_USER_ID, bot_id=BOT_ID),
        message(QUESTION, subtype="message_changed", **in_thread),
        message(QUESTION, subtype="message_deleted", **in_thread),
        message("<@U0000001> has joined the channel", subtype="channel_join", **in_thread),
        message(f"<@{BOT_USER_ID}> {QUESTION}", **in_thread),  # the app_mention event answers this one
    ]
    for n, event in enumerate(ignored, 1):
        assert await send_event(http, server, event, f"EvIgnored{n}") == 200
    await settle(server)
    assert len(fake_slack.posts()) == 1


async def test_app_home_is_published(http, server, fake_slack) -> None:
    event = {"type": "app_home_opened", "user": "U0000001", "channel": "D0000001", "tab": "home"}
    assert await send_event(http, server, event, "EvHome") == 200
    [published] = await fake_slack.wait_for("views.publish")
    assert published["user_id"] == "U0000001"
    assert published["view"]["type"] == "home"
    assert published["view"]["blocks"][0]["text"]["text"] == t("home.title")


async def test_url_verification_echoes_the_challenge(http, server) -> None:
    body, headers = json_request({"type": "url_verification", "token": "x", "challenge": "c-123"})
    async with http.post(f"{server.url}/slack/events", data=body, headers=headers) as response:
        assert response.status == 200
        assert "c-123" in await response.text()


async def test_a_failure_while_answering_reaches_the_user_as_a_generic_apology(http, server, fake_slack) -> None:
    with server.core.db.engine.begin() as conn:  # the question log is gone: recording the question fails
        conn.execute(text("DROP TABLE feedback"))
        conn.execute(text("DROP TABLE handoff_request"))
        conn.execute(text("DROP TABLE question_log"))
    assert await send_event(http, server, mention(QUESTION), "EvBroken") == 200
    [reply] = await fake_slack.wait_for("chat.postEphemeral")
    assert reply["text"] == t("error.generic")
    assert "Traceback" not in str(reply)


async def test_socket_mode_events_are_acknowledged_and_answered(http, fake_slack, start_server, make_settings) -> None:
    settings = make_settings(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=fake_slack.api_url)
    server = await start_server(settings)  # no signing secret: Socket Mode only
    envelope = event_envelope(mention(QUESTION, ts="1700000001.000100"), "EvSocket")
    assert (await fake_slack.push(socket_envelope(envelope, "env-1")))["envelope_id"] == "env-1"
    [answer] = await fake_slack.wait_for("chat.postMessage")
    assert answer["thread_ts"] == "1700000001.000100"
    await fake_slack.push(socket_envelope(envelope, "env-2", retry_attempt=1))  # a redelivery: acknowledged only
    await settle(server)
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    async with http.post(f"{server.url}/slack/events", data=b"{}") as response:
        assert response.status == 404, "no signing secret: the HTTP endpoint is off"


async def test_suggestions_are_buttons_that_answer_the_chosen_entry(http, server, fake_slack) -> None:
    await send_event(http, server, mention("支援"), "Ev1")
    [answer] = await fake_slack.wait_for("chat.postMessage")
    blocks = answer["blocks"]
    assert {"type": "mrkdwn", "text": t("faq.suggest_intro")} in [b.get("text") for b in blocks]
    action_ids = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert len(action_ids) == len(set(action_ids)), "Slack rejects a message whose action ids repeat"
    chosen = button(blocks, "ask")
    body, headers = form_request(block_action(chosen["action_id"], chosen["value"], fake_slack.response_url(),
                                              thread_ts=answer["thread_ts"]))
    assert await post(http, server, body, headers) == 200
    [_, picked] = await fake_slack.wait_for("chat.postMessage", count=2)
    expected = server.core.faq.answer_entry(chosen["value"])
    assert expected is not None and picked["text"].startswith(expected.answer)
    assert picked["thread_ts"] == answer["thread_ts"]


async def test_a_rate_limited_post_is_retried(http, server, fake_slack) -> None:
    fake_slack.rate_limited.add("chat.postMessage")
    assert await send_event(http, server, mention(QUESTION), "EvLimited") == 200
    [answer] = await fake_slack.wait_for("chat.postMessage")
    assert answer["thread_ts"] == "1700000001.000100"
    assert not fake_slack.rate_limited, "the first attempt met the 429"


async def test_a_form_the_bot_sends_on_its_own_opens_from_its_button(http, server, fake_slack) -> None:
    """No trigger comes with a proactive message: it carries 入力する, which opens the very form it carried,
    for its own recipient only."""
    import datetime as dt

    from handlers.address import Address
    from handlers.messages import Form, FormField, Reply
    from handlers.outcome import Send

    form = Form("survey.test", "アンケート", (FormField("score", "満足度"),), "送信", context="ev-1")
    with server.core.units() as uow:
        uow.outbox.enqueue(Send(Address("slack", "", "U0000001"), Reply(text="ご参加ありがとうございました", form=form),
                                "survey:1"), dt.datetime.now(dt.UTC))
        uow.commit()
    server.core.dispatcher._wake()
    [sent] = await fake_slack.wait_for("chat.postMessage")
    opener = button(sent["blocks"], "form.open")
    assert opener["text"]["text"] == t("form.open")
    stranger = block_action(opener["action_id"], opener["value"], fake_slack.response_url(), user="U0000009",
                            channel="C0000009")
    body, headers = form_request(stranger)
    assert await post(http, server, body, headers) == 200
    await fake_slack.wait_for("chat.postEphemeral")
    assert fake_slack.calls_to("views.open") == [], "someone else's form never opens"
    mine = block_action(opener["action_id"], opener["value"], fake_slack.response_url(), channel=sent["channel"])
    mine["payload"] = mine["payload"].replace('"1.2.3"', '"4.5.6"')  # each press has its own trigger
    body, headers = form_request(mine)
    assert await post(http, server, body, headers) == 200
    [opened] = await fake_slack.wait_for("views.open")
    view = opened["view"] if isinstance(opened["view"], dict) else json.loads(opened["view"])
    assert view["callback_id"] == "survey.test" and view["blocks"][0]["block_id"] == "score"
    assert json.loads(view["private_metadata"])["context"] == "ev-1"
