"""Not a question, the reply language, `answered` on hand-off entries, hand-off wording, sources."""

from __future__ import annotations

import re

import pytest

from handlers.faq import FaqService, looks_english
from handlers.i18n import t
from knowledge.live import LiveKnowledge


@pytest.fixture(scope="module")
def faq() -> FaqService:
    return FaqService(LiveKnowledge())


@pytest.mark.parametrize("text", ["1", "3", "9", " 42 ", "1.", "あ", "Q", "?1"])
def test_digits_or_one_character_get_a_clarification_not_an_entry(faq: FaqService, text: str) -> None:
    result = faq.ask(text)
    assert result.rejected and result.entry_id is None and not result.answered
    assert result.answer == t("faq.not_question")


@pytest.mark.parametrize("text", ["test", "テスト", "了解しました", "承知いたしました。", "おはようございます!", "OK"])
def test_a_greeting_probe_or_acknowledgement_alone_gets_no_entry(faq: FaqService, text: str) -> None:
    result = faq.ask(text)
    assert result.rejected and result.entry_id is None and not result.answered
    assert result.answer == t("faq.small_talk")


def test_two_characters_are_a_question(faq: FaqService) -> None:
    assert not faq.ask("締切").rejected


@pytest.mark.parametrize(("text", "english"), [
    ("<b>応募資格</b>を教えて", False),
    ("SELECT * FROM labs WHERE 応募資格", False),
    ("<script>alert(1)</script>応募できる?", False),
    ("応募資格 please", False),
    ("Who can apply?", True),
    ("<p>Who can apply to the lab?</p>", True),
    ("SELECT * FROM users", False),
])
def test_reply_language_follows_the_words_not_the_markup(text: str, english: bool) -> None:
    assert looks_english(text) is english


def test_a_japanese_question_with_markup_gets_a_japanese_reply(faq: FaqService) -> None:
    result = faq.ask("<b>会社だけで応募できますか?</b>")
    assert not result.answer.startswith(("Sorry", "In English"))
    assert "In English" not in result.answer
    assert faq.ask("会社だけで応募できますか?", lang="en").answer != result.answer


def test_a_hand_off_entry_is_answered_and_escalates(faq: FaqService) -> None:
    engine = faq.knowledge.engine
    handoff = next(e for e in engine.kb.entries if e.handoff)
    result = faq.answer_entry(handoff.id)
    assert result is not None and result.answered and result.escalate
    declined = faq.ask("明後日の札幌の降水確率は何パーセント?")
    assert not declined.answered and declined.escalate


def _sentences(text: str) -> set[str]:
    return {s.strip() for s in re.split(r"[。\n]", text) if len(s.strip()) > 4}


def test_a_hand_off_answer_and_the_hand_off_line_do_not_repeat_each_other(faq: FaqService) -> None:
    line = t("faq.handoff_offer")
    for entry in (e for e in faq.knowledge.engine.kb.entries if e.handoff):
        assert not _sentences(entry.answer) & _sentences(line), entry.id
        assert "担当者が確認してお答えします" not in line


def test_secondary_sources_are_labelled_and_urls_kept(faq: FaqService) -> None:
    engine = faq.knowledge.engine
    entry = next(e for e in engine.kb.entries
                 if any(not c.source.primary for c in e.sources) and any(c.source.primary for c in e.sources))
    result = faq.answer_entry(entry.id)
    assert result is not None and result.source_line
    assert "報道・解説記事" in result.source_line
    kinds = [s["kind"] for s in result.sources]
    assert kinds == sorted(kinds, key=lambda k: k != "primary")  # primary sources first
    assert all("url" in s for s in result.sources)
    assert any(s["url"] for s in result.sources)
