"""The intent decision on borderline messages, the conversation's context, use cases' cue words, and the
words every consultation text needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers.i18n import has
from handlers.intent import classify, decide
from handlers.routes import Routes
from knowledge.privacy import mask_personal

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"


@pytest.mark.parametrize(("text", "intent"), [
    ("相談なんですが、商工会議所でも応募できますか?", "faq"),  # a program question that says 相談
    ("ちょっと相談です。選定されると補助金はもらえますか?", "faq"),
    ("申請書を個別に見てほしい", "consult"),  # a consultation that never says 相談
    ("ITコーディネータを紹介してほしい", "consult"),
    ("うちの会社のDXについて専門家に相談したい", "consult"),
    ("ITコーディネータとは何ですか?", "faq"),  # names an expert, asks a definition
    ("今月は相談を15件受けて、3社が導入に進みました", "kpi"),  # a KPI report without the word KPI
    ("10月の研修受講者は58名でした", "kpi"),
    ("来週の勉強会はオンラインでも参加できますか?", "event"),  # an event question without イベント
    ("明日の説明会、何時からでしたっけ", "event"),
    ("説明会の資料に書いてあった選定要件の意味を教えてください", "faq"),  # names an event, asks the program
    ("おはようございます", "help"),  # a greeting alone gets the usage guide, not an apology
    ("ありがとうございました!", "thanks"),
    ("ヘルプ", "help"),
    ("test", "help"),  # a probe: is the bot there?
    ("了解しました。", "thanks"),  # an acknowledgement (once answered with the consent-form entry: 了解 ≈ 同意)
    ("オッケー!", "thanks"),
    ("おはようございます。応募資格を教えてください", "faq"),  # a greeting before a question is courtesy
])
def test_borderline_messages(text: str, intent: str) -> None:
    assert classify(text) == intent


def test_a_close_call_between_a_question_and_a_consultation_is_unsure() -> None:
    decision = decide("ITコーディネータに相談できますか?")  # asking whether one can, or asking to?
    assert decision.unsure and decision.intent == "faq"
    assert decide("専門家に相談したいのですが、費用はかかりますか?").intent == "consult"
    assert not decide("申請書を個別に見てほしい").unsure


def test_the_previous_intent_carries_a_follow_up_without_cues() -> None:
    assert classify("オンラインでも大丈夫ですか") == "other"  # a question about nothing the bot knows
    assert classify("オンラインでも大丈夫ですか", previous="event") == "event"
    assert classify("申請書を個別に見てほしい", previous="event") == "consult", "a strong cue wins over context"


def test_use_cases_plug_in_their_cue_words() -> None:
    routes = Routes()
    routes.cues("event", ("ラボ祭り",))
    routes.cues("kpi", ("月次の数字",))
    assert classify("ラボ祭りの場所はどこ?") == "faq"
    assert classify("ラボ祭りの場所はどこ?", routes.cue_words) == "event"
    assert classify("月次の数字を送ります", routes.cue_words) == "kpi"


def test_every_consultation_text_key_exists() -> None:
    used = set()
    for path in [*HANDLERS.joinpath("consult").glob("*.py"), HANDLERS / "handoff.py"]:
        used |= set(re.findall(r"""t\(\s*["'](consult\.[a-z_.]+)["']""", path.read_text(encoding="utf-8")))
    used |= {f"consult.opened.{k}" for k in ("routed", "secretariat_only", "expert_only", "unrouted")}
    used |= {f"consult.status.{s}" for s in ("received", "pending", "active", "answered", "closed")}
    assert len(used) > 40
    assert sorted(k for k in used if not has(k)) == []


@pytest.mark.parametrize(("text", "masked"), [
    ("連絡は090-1234-5678かtaro@example.co.jpへ", "連絡は[電話番号]か[メール]へ"),
    ("電話 03(1234)5678 まで", "電話 [電話番号] まで"),
    ("(03)1234-5678", "[電話番号]"),
    ("０９０１２３４５６７８にください", "[電話番号]にください"),
    ("+81 90 1234 5678", "[電話番号]"),
    ("第3弾は2024-09-27に5地域、応募は2023-04-01から", "第3弾は2024-09-27に5地域、応募は2023-04-01から"),
    ("従業員は120名、売上は3億円です", "従業員は120名、売上は3億円です"),
])
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask_personal(text) == masked
