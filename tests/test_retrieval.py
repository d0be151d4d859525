"""Japanese retrieval: normalisation, readings, synonyms, English, declining and suggestions."""

from __future__ import annotations

import pytest

from handlers.faq import FaqService
from knowledge.live import LiveKnowledge
from knowledge.text import normalize


@pytest.fixture(scope="module")
def faq() -> FaqService:
    return FaqService(LiveKnowledge())


def test_normalize_folds_width_and_case() -> None:
    assert normalize("ﾃﾞｼﾞﾀﾙ　ＤＸ２０２４") == "デジタル dx2024"


@pytest.mark.parametrize(("question", "expected"), [
    ("地域DX推進ラボとは何ですか", "overview.what-is"),
    ("ちいきDXすいしんラボってなに?", "overview.what-is"),  # hiragana for kanji
    ("ｺｳｾﾂｼとは何ですか", "kosetsushi.what"),  # half-width katakana
    ("よろず支援拠点の相談は無料?", "yorozu.cost"),
    ("What is the Regional DX Promotion Lab?", "overview.what-is"),
])
def test_questions_find_their_entry(faq: FaqService, question: str, expected: str) -> None:
    result = faq.ask(question)
    assert result.entry_id == expected, (question, result.as_json())
    assert result.answered
    assert result.sources and result.as_of


def test_synonym_abbreviation_matches_full_name(faq: FaqService) -> None:
    engine = faq.knowledge.engine
    words = engine.index.analyzer.words("DXラボとIoTラボの違い")
    assert "推進" in words and "iot" in words


def test_english_question_gets_an_english_summary(faq: FaqService) -> None:
    result = faq.ask("Who can apply for the Regional DX Lab?")
    assert result.answered
    assert "In English:" in result.answer


@pytest.mark.parametrize("question", ["明日の東京の天気は?", "確定申告のやり方を教えて",
                                      "Pythonでスクレイピングのコードを書いて"])
def test_out_of_scope_is_declined_honestly(faq: FaqService, question: str) -> None:
    result = faq.ask(question)
    assert not result.answered and result.escalate
    assert result.entry_id is None
    assert "お答えできません" in result.answer


def test_handoff_entry_is_answered_and_escalated(faq: FaqService) -> None:
    handoffs = [e for e in faq.knowledge.engine.kb.entries if e.handoff]
    assert handoffs
    result = faq.answer_entry(handoffs[0].id)
    assert result is not None
    assert result.answered and result.escalate  # the entry's content is given, and a person offered
    assert "担当者" in result.answer


def test_opinion_answers_carry_the_opinion_note(faq: FaqService) -> None:
    opinion = next(e for e in faq.knowledge.engine.kb.entries if e.kind == "opinion")
    result = faq.answer_entry(opinion.id)
    assert result is not None and "決定事項ではありません" in result.answer


def test_confidence_is_bounded_and_ordered(faq: FaqService) -> None:
    strong = faq.ask("地域DX推進ラボの応募資格を教えてください")
    weak = faq.ask("今日の晩ごはんは何がいい?")
    assert 0.0 <= weak.confidence < strong.confidence <= 1.0


@pytest.mark.parametrize(("text", "key_phrase"), [
    ("", "空のよう"),
    ("   \n ", "空のよう"),
    ("あ" * 100_000, "長すぎる"),
    ("😀🎉👍", "絵文字だけ"),
    ("\x00\x01\x02\ufffd\ufffd\x7f", "読み取れません"),
])
def test_bad_input_gets_a_clear_answer(faq: FaqService, text: str, key_phrase: str) -> None:
    result = faq.ask(text)
    assert key_phrase in result.answer
    assert not result.answered and result.entry_id is None


@pytest.mark.parametrize("question", ["第5弾の締切はいつ?", "第８弾で選ばれた地域は?", "第十弾の結果を教えて"])
def test_rounds_after_the_known_ones_are_handed_off_not_confused(faq: FaqService, question: str) -> None:
    result = faq.ask(question)
    assert result.entry_id == "rounds.later-rounds" and result.answered and result.escalate


def test_round_spellings_are_one_round() -> None:
    assert normalize("第3弾") == normalize("第三弾") == normalize("第３回公募")


@pytest.mark.parametrize(("question", "spelled"), [
    ("しんさの かんてん を おしえて", "審査"),  # a short word typed alone between spaces
    ("でぃーえっくす って なに", "dx"),  # an acronym read out letter by letter
    ("らぼ の しえん は", "支援"),
])
def test_kana_words_typed_alone_are_read_as_the_known_word(faq: FaqService, question: str, spelled: str) -> None:
    assert spelled in faq.knowledge.engine.index.kana.rewrite(question)


def test_kana_inside_a_run_is_not_mistaken_for_a_short_word(faq: FaqService) -> None:
    # しえん as part of a longer run is left alone: short readings hide inside unrelated words.
    assert "支援" not in faq.knowledge.engine.index.kana.rewrite("わたしえんぴつ")
