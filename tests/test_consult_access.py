"""Who may see and change a case: permission refusals, the privacy of shared-channel posts, the audit of
every view and change, and FAQ drafts that need a second secretariat member and a clean kb lint."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.db import models as m
from bot.web.cases_admin import cases_page
from handlers.i18n import t
from tests.consult_kit import QUESTION, Bot, Connector, at, buttons, close_bot, connector, make_bot
from tests.fake_slack import FakeSlack
from tests.helpers import copy_knowledge

__all__ = ["connector"]
NOW = at("2026-12-02T10:00:00")
PHONE_TEXT = f"{QUESTION}。連絡先は090-1234-5678、taro@example.co.jp です"


@pytest.fixture
async def bot(make_settings: Any, fake_slack: FakeSlack, connector: Connector, bundled_knowledge: Any,
              tmp_path: Path) -> AsyncIterator[Bot]:
    kb = copy_knowledge(tmp_path)
    b = await make_bot(make_settings, fake_slack, connector, bundled_knowledge, NOW,
                       DXLAB_KB_DRAFTS_DIR=str(tmp_path / "drafts"), DXLAB_KNOWLEDGE_DIR=str(kb))
    yield b
    await close_bot(b)


def audit_rows(bot: Bot) -> list[tuple[str, str, str, str]]:
    with bot.core.db.session() as s:
        return [(r.actor, r.action, r.target, r.outcome) for r in s.scalars(select(m.AuditLog).order_by(m.AuditLog.id))
                if r.action.startswith("consult.")]


async def open_and_accept(bot: Bot, text: str = QUESTION) -> str:
    await bot.say(bot.slack_user("U0REQ1"), f"相談 {text}", command=True)
    await bot.deliver()
    await bot.press(bot.slack_user("U0EXA"), "consult.accept", str(bot.case().id))
    await bot.deliver()
    return bot.ref()


async def test_status_is_shown_only_to_those_allowed_and_every_look_is_audited(bot: Bot) -> None:
    ref = await open_and_accept(bot)
    for user in ("U0REQ1", "U0EXA", "U0SEC1"):  # requester, assignee, secretariat
        reply = await bot.say(bot.slack_user(user), f"状況 {ref}", command=True)
        assert reply is not None and QUESTION in reply.text and reply.ephemeral, user
    for user in ("U0EXB", "U0STRANGER"):  # an expert not on the case, the public
        reply = await bot.say(bot.slack_user(user), f"状況 {ref}", command=True)
        assert reply is not None and reply.text == t("consult.show.refused") and QUESTION not in reply.text
    rows = audit_rows(bot)
    assert ("req-slack", "consult.view", ref, "allowed") in rows and ("ex-a", "consult.view", ref, "allowed") in rows
    assert ("sec-1", "consult.view", ref, "allowed") in rows
    assert ("ex-b", "consult.view", ref, "refused") in rows and ("slack:@U0STRANGER", "consult.view", ref,
                                                                    "refused") in rows
    assert ("req-slack", "consult.create", ref, "done") in rows and ("ex-a", "consult.claim", ref, "done") in rows
    missing = await bot.say(bot.slack_user("U0SEC1"), "状況 DX-2026-9999", command=True)
    assert missing is not None and missing.text == t("consult.show.not_found", ref="DX-2026-9999")


async def test_buttons_refuse_everyone_they_were_not_meant_for(bot: Bot) -> None:
    await bot.say(bot.slack_user("U0REQ1"), f"相談 {QUESTION}", command=True)
    await bot.deliver()
    case_id = str(bot.case().id)
    [assign] = buttons(bot.slack_posts("C0SEC")[0], "consult.assign")[:1]
    for user in ("U0REQ1", "U0EXB", "U0STRANGER"):  # only the secretariat assigns
        reply = await bot.press(bot.slack_user(user), "consult.assign", assign["value"])
        assert reply is not None and reply.text == t("consult.refused"), user
    for user in ("U0EXB", "U0STRANGER", "U0REQ1"):  # only the offered expert accepts or declines
        for action in ("consult.accept", "consult.decline"):
            reply = await bot.press(bot.slack_user(user), action, case_id)
            assert reply is not None and reply.text == t("consult.offer.not_yours"), (user, action)
    for user in ("U0EXA", "U0STRANGER"):  # only the requester consents, refines or closes
        reply = await bot.press(bot.slack_user(user), "consult.consent", case_id)
        assert reply is not None and reply.text == t("consult.unknown")
        reply = await bot.submit(bot.slack_user(user), "consult.refine", {"prefecture": "東京都"}, case_id)
        assert reply is not None and reply.text == t("consult.unknown")
    assert bot.case().status == "pending" and bot.case().assignee is None
    # The secretariat's 割り当てる works.
    await bot.press(bot.slack_user("U0SEC1"), "consult.assign", assign["value"])
    await bot.deliver()
    assert (bot.case().status, bot.case().assignee) == ("active", "ex-a")
    for user in ("U0EXB", "U0REQ1"):  # only the assignee marks it answered
        reply = await bot.press(bot.slack_user(user), "consult.answered", case_id)
        assert reply is not None and reply.text == t("consult.offer.not_yours")
    reply = await bot.press(bot.slack_user("U0EXA"), "consult.draft", case_id)
    assert reply is not None and reply.title == t("directory.refused.title")


async def test_shared_channel_posts_never_carry_the_text_and_logs_mask_contacts(bot: Bot) -> None:
    ref = await open_and_accept(bot, PHONE_TEXT)
    for post in bot.slack_posts("C0SEC"):
        body = str(post)
        assert "090-1234-5678" not in body and "taro@example.co.jp" not in body and "見える化" not in body
        assert ref in post["text"]
    assert "090-1234-5678" in bot.slack_texts("D0EXA")[-1], "the assigned expert (consent given) reads it all"
    with bot.core.units() as uow:
        page = cases_page(uow, {})
    assert ref in page and "090-1234-5678" not in page and "見える化" not in page
    # The FAQ's question log keeps no phone number or e-mail (kb gaps reads it).
    asked = "折り返しは03-1234-5678かhanako@example.jpにお願いします。応募資格は?"
    await bot.say(bot.slack_user("U0REQ1", channel="C0GEN"), asked)
    with bot.core.db.session() as s:
        logged = [q.question for q in s.scalars(select(m.QuestionLog))]
    assert logged and all("03-1234-5678" not in q and "hanako@example.jp" not in q for q in logged)
    assert any("[電話番号]" in q and "[メール]" in q for q in logged)


async def test_an_answer_becomes_a_draft_published_only_by_a_second_member_after_lint(bot: Bot, tmp_path: Path
                                                                                        ) -> None:
    ref = await open_and_accept(bot)
    case_id = str(bot.case().id)
    await bot.say(bot.slack_user("U0EXA"), "稼働データは、まず設備に後付けのセンサーで取るのがおすすめです。")
    await bot.press(bot.slack_user("U0EXA"), "consult.answered", case_id)
    await bot.deliver()
    [notice] = [p for p in bot.slack_posts("C0SEC") if "回答しました" in p["text"]]
    [add] = buttons(notice, "consult.draft")
    made = await bot.press(bot.slack_user("U0SEC1"), "consult.draft", add["value"])
    assert made is not None and made.text == t("consult.draft.created", ref=ref, draft=ref)
    path = tmp_path / "drafts" / f"{ref}.yaml"
    draft = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert draft["draft"]["source"] == f"consultation {ref}" and draft["draft"]["status"] == "draft"
    assert "後付けのセンサー" in draft["entry"]["answer"]
    [approve] = [b for b in made.buttons if b.action == "consult.approve"]
    same = await bot.press(bot.slack_user("U0SEC1"), "consult.approve", approve.value)
    assert same is not None and same.text == t("consult.draft.same_person")
    outsider = await bot.press(bot.slack_user("U0EXA"), "consult.approve", approve.value)
    assert outsider is not None and outsider.title == t("directory.refused.title")
    published = tmp_path / "kb" / "content" / "ja" / "consultations.yaml"
    # A draft that fails lint (too few phrasings after an edit) is not published.
    broken = {**draft, "entry": {**draft["entry"], "questions": ["一つだけ"]}}
    path.write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    failed = await bot.press(bot.slack_user("U0SEC2"), "consult.approve", approve.value)
    assert failed is not None and failed.text.startswith(t("consult.draft.lint_failed", draft=ref, errors="")[:20])
    assert not published.exists()
    fixed = {**draft, "entry": {**draft["entry"], "questions": [
        "工場の稼働データはどう取ればよいですか", "設備の稼働を見える化したい", "稼働データの取り方"]}}
    path.write_text(yaml.safe_dump(fixed, allow_unicode=True), encoding="utf-8")
    done = await bot.press(bot.slack_user("U0SEC2"), "consult.approve", approve.value)
    assert done is not None and done.text == t("consult.draft.approved", draft=ref, path=published)
    entries = yaml.safe_load(published.read_text(encoding="utf-8"))["entries"]
    assert [e["id"] for e in entries] == [f"consultation.{ref.lower()}"]
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["draft"]["approved_by"] == "sec-2"
    from knowledge.lint import lint
    assert not lint(tmp_path / "kb", dt.date(2026, 12, 2), 100_000).errors


async def test_the_admin_cases_page_lists_cases_without_their_text(bot: Bot) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from bot.web.admin import admin_routes
    from bot.web.cases_admin import CASES_PAGE

    ref = await open_and_accept(bot, PHONE_TEXT)
    app = web.Application()
    app.add_routes(admin_routes(bot.core.units, bot.core.settings, pages=[CASES_PAGE]))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/admin/cases?status=active")
        html = await response.text()
        assert response.status == 200 and ref in html and "対応中" in html and "ex-a" in html
        assert "090-1234-5678" not in html and "見える化" not in html
        empty = await (await client.get("/admin/cases?status=closed")).text()
        assert ref not in empty
        labs = await (await client.get("/admin/labs")).text()
        assert 'href="/admin/cases"' in labs, "the page is in the nav"
    assert ("admin:web", "consult.list", "cases:active", "done") in audit_rows(bot)
