"""Ranking rules that know the knowledge base's kinds, and round numbers as data."""

from __future__ import annotations

import pytest

from handlers.faq import FaqService
from knowledge.live import LiveKnowledge
from knowledge.rules import focus, split_focus
from knowledge.text import normalize, rounds


@pytest.fixture(scope="module")
def faq() -> FaqService:
    return FaqService(LiveKnowledge())


def _ranked(faq: FaqService, question: str) -> list[str]:
    return [c.entry.id for c in faq.knowledge.engine.rank(question).candidates]


def _kind(faq: FaqService, entry_id: str | None) -> str | None:
    entry = faq.knowledge.engine.entry(entry_id) if entry_id else None
    return entry.kind if entry else None


def test_a_fact_beats_an_opinion_unless_the_meeting_is_asked_about(faq: FaqService) -> None:
    factual = faq.ask("選ばれたラボのメリットって何がある?")
    assert _kind(faq, factual.entry_id) in {"rule", "fact"}, factual.entry_id
    opinion_ids = [e.id for e in faq.knowledge.engine.kb.entries if e.kind == "opinion"]
    engine = faq.knowledge.engine
    plain = engine.rules.factors(engine.rules.traits("選定のメリットは?"))
    asked = engine.rules.factors(engine.rules.traits("検討会の委員は選定のメリットについてどんな意見を言っていた?"))
    ids = [e.id for e in engine.kb.entries]
    for entry_id in opinion_ids:
        assert plain[ids.index(entry_id)] < 1.0 and asked[ids.index(entry_id)] == 1.0


def test_another_programs_entry_does_not_answer_a_lab_question(faq: FaqService) -> None:
    result = faq.ask("選定に有効期間はありますか?")
    assert result.entry_id is None or not result.entry_id.startswith("dxnintei."), result.entry_id
    # …but it does when the question names that program.
    assert faq.ask("DX認定の有効期間は何年ですか?").entry_id == "dxnintei.validity"


def test_the_next_deadline_never_gets_a_closed_rounds_dates(faq: FaqService) -> None:
    closed = rounds().closed
    for question in ("次の締め切りはいつですか?", "今の公募の締切を教えて", "When is the next deadline?"):
        result = faq.ask(question)
        entry = faq.knowledge.engine.entry(result.entry_id) if result.entry_id else None
        text = normalize(" ".join((*entry.tags, *entry.questions))) if entry else ""
        assert not any(name in text for name in closed), (question, result.entry_id)
        assert entry is None or entry.handoff or result.escalate or entry.volatile, (question, result.entry_id)
    # Naming a past round still gets that round.
    assert faq.ask("第一弾の締切はいつでしたか?").entry_id == "rounds.first-round-schedule"


def test_a_question_naming_a_round_gets_that_rounds_entry(faq: FaqService) -> None:
    engine = faq.knowledge.engine
    # Without the rule, the general entry on when the call opened came first here.
    top = engine.rank("第二弾の公募はいつ始まりましたか?").candidates[0].entry
    assert "第二弾" in normalize(" ".join((*top.tags, *top.questions[:1]))), top.id
    factors = engine.rules.factors(engine.rules.traits("第三弾で選ばれたのはどこ?"))
    ids = [e.id for e in engine.kb.entries]
    assert factors[ids.index("rounds.third-round-list")] == 1.0
    assert factors[ids.index("rounds.first-round-list")] < factors[ids.index("rounds.call-start")] < 1.0


def test_round_numbers_are_data() -> None:
    known = rounds()
    assert known.names[3] == "第三弾" and known.later == "第五弾以降"
    assert normalize("第3回公募").strip() == "第三弾"
    assert normalize("第12弾").strip() == known.later


def test_courtesy_sentences_are_dropped_but_situations_stay() -> None:
    text = ("お世話になっております。△△市企画課の田中です。人口3万人の市です。応募資格を教えてください。"
            "よろしくお願いいたします。")
    kept = focus(text)
    assert "お世話" not in kept and "田中" not in kept and "よろしく" not in kept
    assert "人口3万人" in kept and "応募資格" in kept


def test_a_long_polite_question_keeps_its_confidence(faq: FaqService) -> None:
    short = faq.ask("会社だけで応募できますか?")
    long = faq.ask("お世話になっております。○○市企画課の田中と申します。いつも大変お世話になっております。"
                   "会社だけで応募できますか?お忙しいところ恐れ入りますが、よろしくお願いいたします。")
    assert long.entry_id == short.entry_id
    assert long.confidence >= short.confidence - 0.05


def test_self_introductions_and_english_courtesy_are_dropped_but_the_question_stays() -> None:
    kept = focus("お世話になっております。○○村役場で広報を担当しております。ラボのお知らせはどこで見られますか。")
    assert "担当" not in kept and "お知らせ" in kept
    kept = focus("Good afternoon. I'm a coordinator at a regional university. Could you explain who can apply?")
    assert "coordinator" not in kept and "who can apply" in kept
    assert focus("Is DGC 3.0 the latest? Thanks.") == "is dgc 3.0 the latest?"  # "3.0" ends no sentence


def test_english_questions_reach_the_japanese_entries(faq: FaqService) -> None:
    assert faq.ask("How long is DX certification valid?").entry_id == "dxnintei.validity"
    assert faq.ask("Can a single company apply without any local government?").entry_id == "eligibility.company-alone"


def test_a_subsidy_the_base_never_names_is_not_answered(faq: FaqService) -> None:
    assert not faq.ask("IT導入補助金の申請方法を教えて").answered


def test_a_named_thing_the_base_never_names_is_not_answered(faq: FaqService) -> None:
    # DX銘柄 is known (an entry mentions it), 選定 and 企業 too; DX銘柄2025 as a whole is not.
    assert not faq.ask("DX銘柄2025の選定企業は?").answered


def test_a_name_told_in_the_background_clause_still_counts_as_unknown(faq: FaqService) -> None:
    index = faq.knowledge.engine.index
    asked, situation = split_focus("総務省の地域情報化アドバイザー派遣制度を使いたいのですが、申請方法は?")
    assert "アドバイザー" in situation  # the clause before the ask is its background…
    lexical = index.query(asked, situation)
    assert lexical is not None and lexical.unknown > 0.3  # …but the program it names is still unknown


def test_unknown_names_are_compounds_that_look_like_names(faq: FaqService) -> None:
    index = faq.knowledge.engine.index

    def names(text: str) -> list[str]:
        return index.unknown_names(index.analyzer.analysis(text)[1])

    assert names("ITパスポートの申込方法") == ["itパスポート"]  # Latin beside katakana, both words known
    assert names("基本情報技術者試験の申込期限") == ["基本情報技術者試験"]  # three nouns and more
    # A name an entry has, whole or as part of a longer one (地域DX推進ラボ), is known.
    assert names("DX推進ラボの申請方法") == []
    # Everyday compounds users coin, and numerals, counters and affixes, are no names.
    assert names("更新手続きの方法") == [] and names("30代やIT系の人材で年1回") == []
    # A compound in a sentence stating the asker's situation describes the asker, not the question.
    assert names("基本情報技術者試験の合格者が多い町です。ラボに応募できますか") == []
    assert names("基本情報技術者試験の合格者が多い町ですが、ラボに応募できますか") == ["基本情報技術者試験"]


def test_a_subsidy_or_exam_no_entry_knows_is_declined_not_matched_by_its_words(faq: FaqService) -> None:
    engine = faq.knowledge.engine

    def foreign(question: str) -> float:
        return engine.rank(question).candidates[0].features["foreign_scheme"]

    # 補助 and 上限 match AKATSUKI's subsidy entry well; the subsidy asked about is another one.
    assert foreign("IT導入補助金の補助上限はいくらですか?") == 1.0
    assert not faq.ask("IT導入補助金の補助上限はいくらですか?").answered
    assert foreign("お世話になります。社員研修で基本情報技術者試験を受けさせたいのですが、受験料は?") == 1.0
    # A scheme named by the lab's or a covered program's words is the base's to answer (or to deny).
    assert engine.rules.ours("地域DX推進ラボ") and engine.rules.ours("AKATSUKI") and not engine.rules.ours("IT導入")
    assert foreign("地域DX推進ラボ補助金はいくらもらえますか?") == 0.0
    assert foreign("AKATSUKIの補助上限額") == 0.0 and faq.ask("AKATSUKIの補助上限額").answered


def test_round_names_are_one_word_and_canonical_terms_stay_in_their_compounds(faq: FaqService) -> None:
    analyzer = faq.knowledge.engine.index.analyzer
    assert "w:第二弾" in analyzer.features("第2弾の締切")
    assert "w:携帯電話番号" in analyzer.features("市長の携帯電話番号")


def test_the_ask_is_read_apart_from_its_situation() -> None:
    asked, situation = split_focus("お世話になっております。○○町産業振興課です。"
                                   "ラボに選ばれたらどんな支援がありますか。町長に説明する必要があるため、詳しく教えてください。")
    assert asked == "ラボに選ばれたらどんな支援がありますか。"
    assert "町長" in situation and "お世話" not in situation
    # No sentence asks with a question form: every asking sentence is the ask.
    assert split_focus("人口3万人の町です。応募資格を教えてください。") == (
        "応募資格を教えてください。", "人口3万人の町です。")
    assert split_focus("応募資格は?") == ("応募資格は?", "")
    # A background clause before the main one is situation too.
    assert split_focus("電話で確認したいと考えておりますが、どちらの課が担当ですか?") == (
        "どちらの課が担当ですか?", "電話で確認したいと考えておりますが、")


def test_a_situation_around_the_ask_does_not_cost_confidence(faq: FaqService) -> None:
    short = faq.ask("ラボに選ばれたらどんな支援がありますか?")
    long = faq.ask("いつもお世話になっております。○○町産業振興課です。来月の庁議で報告することになりました。"
                   "ラボに選ばれたらどんな支援がありますか?町長と議会に説明する必要があるため、詳しく教えてください。")
    assert long.entry_id == short.entry_id  # before the ask was read apart: declined at 0.15
    assert long.confidence >= short.confidence - 0.05
