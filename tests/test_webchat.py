"""The local web chat: its JSON API, and the page itself driven in headless Chromium."""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select, text
from yarl import URL

from bot.channels.web import COOKIE
from bot.db.models import Feedback, QuestionLog
from handlers.i18n import t
from tests.browser import chromium_page
from tests.conftest import FAILED, Running, ServerFactory, SettingsFactory

QUESTION = "会社単独で応募できますか?"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 3), "orange").save(out, "PNG")
    return out.getvalue()


PNG = _png()  # a 4 × 3 image to attach


@pytest.fixture
async def server(start_server: ServerFactory, make_settings: SettingsFactory) -> Running:
    return await start_server(make_settings())


async def send(http, server: Running, payload: object) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    async with http.post(f"{server.url}/webchat/api/message", json=payload) as response:
        return response.status, await response.json()


async def test_a_question_gets_the_answer_with_source_and_buttons(http, server) -> None:
    status, reply = await send(http, server, {"text": QUESTION})
    assert status == 200
    assert reply["text"] and reply["source"].startswith("出典")
    assert [b["action"] for b in reply["buttons"]] == ["feedback_up", "feedback_down", "handoff"]
    assert reply["ephemeral"] is False


async def test_the_conversation_is_kept_per_browser(http, server) -> None:
    await send(http, server, {"text": QUESTION})
    conversation = http.cookie_jar.filter_cookies(URL(server.url))[COOKIE].value
    await send(http, server, {"text": "選定されるとどんな支援がありますか?"})
    with server.core.db.session() as s:
        refs = s.scalars(select(QuestionLog.conversation_ref)).all()
    assert refs == [f"web:{conversation}", f"web:{conversation}"]


async def test_a_button_press_is_recorded(http, server) -> None:
    _, reply = await send(http, server, {"text": QUESTION})
    up = reply["buttons"][0]
    status, thanks = await send(http, server, {"action": up["action"], "value": up["value"]})
    assert (status, thanks["text"], thanks["ephemeral"]) == (200, t("feedback.thanks"), True)
    with server.core.db.session() as s:
        [row] = s.scalars(select(Feedback)).all()
    assert (row.question_log_id, row.value) == (int(up["value"]), 1)


async def test_a_too_long_question_is_declined_politely(http, server) -> None:
    status, reply = await send(http, server, {"text": "あ" * 60_000})
    assert status == 200
    assert reply["text"] == t("faq.too_long", limit=server.core.settings.max_question_chars, length=60_000)


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b'{"text": ', "application/json", 400),
    (b'["text"]', "application/json", 400),
    (b'{"text": 42}', "application/json", 400),
    (b'{"action": "format disk!", "value": "1"}', "application/json", 400),
    (b'{"form": "x", "values": {"a": 1}}', "application/json", 400),
    (b'{"action": ["feedback_up"], "value": "1"}', "application/json", 400),
    (b'{"action": "feedback_up", "value": 1}', "application/json", 400),
    (b"text=hello", "application/x-www-form-urlencoded", 415),
])
async def test_malformed_requests_are_4xx(http, server, body: bytes, content_type: str, status: int) -> None:
    async with http.post(f"{server.url}/webchat/api/message", data=body,
                         headers={"Content-Type": content_type}) as response:
        assert response.status == status
        assert "Traceback" not in await response.text()


async def test_an_action_nobody_routes_is_answered_with_help(http, server) -> None:
    status, reply = await send(http, server, {"action": "format_disk", "value": "1"})
    assert status == 200 and t("help.title") in reply["text"]


async def test_messages_the_bot_sends_later_reach_the_page(http, server) -> None:
    """A proactive message to this browser's conversation goes through the outbox and is polled."""
    from handlers.address import Address
    from handlers.messages import Attachment, Reply
    from handlers.outcome import Send
    from tests.conftest import settled

    await send(http, server, {"text": QUESTION})
    conversation = http.cookie_jar.filter_cookies(URL(server.url))[COOKIE].value
    chart = Attachment("chart.png", "グラフ", "image/png", PNG)
    with server.core.units() as uow:
        uow.outbox.enqueue(Send(Address("web", conversation, conversation), Reply(text="お知らせです",
                                                                                 attachment=chart), "t:1"),
                           dt.datetime.now(dt.UTC))
        uow.commit()
    server.core.dispatcher._wake()
    await settled(server.core)
    async with http.get(f"{server.url}/webchat/api/updates?after=0") as response:
        messages = (await response.json())["messages"]
    assert [m["text"] for m in messages] == ["お知らせです"]
    assert messages[0]["image"] == {"src": "data:image/png;base64," + base64.b64encode(PNG).decode(), "title": "グラフ"}
    async with http.get(f"{server.url}/webchat/api/updates?after={messages[0]['id']}") as response:
        assert (await response.json())["messages"] == []


async def test_a_failure_shows_the_generic_apology(http, server) -> None:
    with server.core.db.engine.begin() as conn:
        conn.execute(text("DROP TABLE feedback"))
        conn.execute(text("DROP TABLE handoff_request"))
        conn.execute(text("DROP TABLE question_log"))
    status, reply = await send(http, server, {"text": QUESTION})
    assert (status, reply["text"]) == (500, t("error.generic"))


async def test_the_page_carries_its_strings_and_a_strict_policy(http, server) -> None:
    async with http.get(f"{server.url}/") as response:
        assert response.status == 200
        page = await response.text()
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert f"<title>{t('web.title')}</title>" in page
    assert t("web.placeholder") in page
    for asset in ("app.js", "style.css"):
        async with http.get(f"{server.url}/webchat/{asset}") as response:
            assert response.status == 200


# -- the page in a real browser ---------------------------------------------------------------

@pytest.fixture
async def browser_page(artifacts: Path, request: pytest.FixtureRequest) -> AsyncIterator[object]:
    async def keep_evidence(page) -> None:  # type: ignore[no-untyped-def]
        if request.node.stash.get(FAILED, False):
            await page.screenshot(path=str(artifacts / f"{request.node.name}.png"), full_page=True)

    async with chromium_page(keep_evidence) as page:
        yield page


async def test_typing_a_question_shows_the_answer_with_its_source(server, browser_page) -> None:
    page = browser_page
    await page.goto(f"{server.url}/")
    assert await page.title() == t("web.title")
    await page.get_by_placeholder(t("web.placeholder")).fill(QUESTION)
    await page.keyboard.press("Enter")
    answer = page.locator(".msg.bot").filter(has=page.locator(".source")).last
    await answer.wait_for()
    assert (await answer.locator(".source").inner_text()).startswith("出典")
    assert await page.locator(".msg.user .text").last.inner_text() == QUESTION
    await answer.get_by_role("button", name=t("button.feedback_up")).click()
    await page.get_by_text(t("feedback.thanks")).wait_for()
    assert await answer.get_by_role("button", name=t("button.feedback_down")).is_disabled()


async def test_markup_in_a_question_is_shown_as_text(server, browser_page) -> None:
    page = browser_page
    hostile = '<img src=x onerror="document.title=\'pwned\'"><b>太字</b>'
    await page.goto(f"{server.url}/")
    await page.get_by_placeholder(t("web.placeholder")).fill(hostile)
    await page.get_by_role("button", name=t("web.send")).click()
    await page.locator(".msg.bot:not(.thinking)").nth(1).wait_for()
    assert await page.locator(".msg.user .text").last.inner_text() == hostile
    assert await page.locator(".log img, .log b").count() == 0
    assert await page.title() == t("web.title")



async def test_the_newest_answer_is_fully_visible_and_the_conversation_survives_a_reload(
        server, browser_page) -> None:
    page = browser_page
    await page.set_viewport_size({"width": 800, "height": 600})
    await page.goto(f"{server.url}/")
    for question in (QUESTION, "選定されるとどんな支援がありますか?", "DX認定とは何ですか?"):
        await page.get_by_placeholder(t("web.placeholder")).fill(question)
        await page.keyboard.press("Enter")
        await page.locator(".msg.user .text", has_text=question).wait_for()
        await page.locator(".msg.bot.thinking").wait_for(state="detached")
    newest = page.locator(".msg.bot").last
    box, bar = await newest.bounding_box(), await page.locator("#composer").bounding_box()
    assert box is not None and bar is not None
    assert box["y"] + box["height"] <= bar["y"] + 1, "the newest answer's buttons sit under the input bar"
    shown = await page.locator(".msg .text").all_inner_texts()
    await page.reload()
    await page.locator(".msg.user").last.wait_for()
    assert await page.locator(".msg .text").all_inner_texts() == shown


async def test_a_form_is_filled_in_on_the_page(server, browser_page) -> None:
    """A form reply renders as a form whose submission reaches the dispatcher (a form nobody routes is
    answered as a stale form)."""
    from bot.channels.web import reply_json
    from handlers.messages import Form, FormField, Reply

    page = browser_page
    await page.goto(f"{server.url}/")
    form = Form("nobody.routes.this", "テスト", (FormField("note", "メモ"),), "送る")
    await page.evaluate("r => showReply(r)", reply_json(Reply(text="入力してください", form=form)))
    await page.get_by_label("メモ").fill("こんにちは")
    await page.get_by_role("button", name="送る").click()
    await page.get_by_text(t("error.stale_form")).wait_for()


async def test_an_attached_image_is_shown_on_the_page(server, browser_page) -> None:
    """The image arrives as a data: URL, which the page's Content-Security-Policy lets load."""
    from bot.channels.web import reply_json
    from handlers.messages import Attachment, Reply

    page = browser_page
    await page.goto(f"{server.url}/")
    chart = Attachment("chart.png", "グラフ", "image/png", PNG)
    await page.evaluate("r => showReply(r)", reply_json(Reply(text="グラフです", attachment=chart)))
    await page.wait_for_function("() => document.querySelector('img.attachment')?.naturalWidth === 4")
    assert await page.get_by_alt_text("グラフ").count() == 1
