"""Which use case takes a free-text message: help, thanks, an FAQ question, a consultation request, an
event question, a KPI report, or something else; when a question and a consultation are too close to call,
`unsure` (the consultation use case then asks which one with two buttons).

Rules plus weighted cue words. Japanese puts the point at the end, so cues in the main (last) clause count
fully and cues in a leading clause (「相談なんですが、…」) count less. Event and KPI words win when they are
strong and stronger than a consultation request. Use cases add cue words with `routes.cues(intent, words)`
(their `INTENT_CUES`); the conversation's previous intent tips a message that has no strong cue of its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.context import Context
    from handlers.messages import Inbound
    from handlers.routes import Routes

_TRAILING_MARKS = re.compile(r"[!!。.、??~〜…\s]+$")
# A greeting or a probe alone (「test」 to see whether the bot is there) gets the help text, never an entry:
# 「test」 once answered 公設試 (試験), 「了解しました」 the consent-form entry (了解 ≈ 同意).
HELP_WORDS = frozenset({"help", "ヘルプ", "使い方", "つかいかた", "?", "へるぷ", "hello", "こんにちは",
                        "はじめまして", "hi", "hey", "test", "テスト", "てすと", "おはようございます", "おはよう",
                        "こんばんは", "お疲れ様です", "お疲れさまです", "おつかれさまです", "お世話になっております",
                        "お世話になります", "よろしくお願いします", "よろしくお願いいたします", "何ができるの",
                        "何ができますか", "なにができるの", "what can you do", "good morning"})
THANKS_WORDS = frozenset({"ありがとう", "ありがとうございます", "ありがとうございました", "thanks",
                          "thank you", "thank you very much", "どうも", "助かりました", "助かります",
                          "了解", "了解です", "了解しました", "了解いたしました", "りょうかい", "承知しました",
                          "承知いたしました", "かしこまりました", "わかりました", "分かりました", "なるほど",
                          "ok", "okay", "オッケー", "おっけー", "got it", "noted"})

INTENTS = ("faq", "consult", "event", "kpi", "other")
LEADING_CLAUSE = 0.6  # weight of cues before the last clause break (a clear request counts fully anywhere)
CLEAR = 2.5  # a cue this strong is a clear request wherever it stands (「相談したいのですが、…か?」)
OTHER_BELOW = 0.75  # less evidence than this for a question or a request: something else
MARGIN = 0.75  # a question and a consultation closer than this: ask
DOMAIN_MIN = 2.0  # event/KPI need at least this much evidence
PREVIOUS_KEY = "intent.last:"
CONTEXT = 1.5  # what the conversation's previous intent adds to a message with no strong cue

# (cue, weight): a plain substring of the NFKC-folded, lower-cased text, or a regex when it starts with "re:".
CUES: dict[str, tuple[tuple[str, float], ...]] = {
    "consult": (
        ("専門家に相談したい", 3.5), ("専門家に相談", 1.5), ("相談したい", 3),
        ("re:相談(を|が|に)?(し|させ|のり|乗り|行き|伺い|いたし)?たい", 3), ("re:相談.{0,8}(ればと|たらと)", 3),
        ("re:(サポート|支援|助言|指導|アドバイス)(を|が)(受けたい|ほしい|欲しい|お願い)", 3), ("専門の方", 1.5),
        ("そうだんしたい", 3), ("talk to an expert", 3), ("consult with", 3), ("advice", 2), ("expert", 1),
        ("re:アドバイス", 2), ("re:助言", 2),
        ("意見が聞きたい", 3), ("意見を聞きたい", 3), ("意見をいただ", 3), ("と助かります", 1.5),
        ("と嬉しい", 1.5), ("とうれしい", 1.5), ("とありがたい", 1.5), ("ことはできますか", 0.5),
        ("相談に乗", 3), ("相談にの", 3), ("相談させて", 3),
        ("相談をお願い", 3), ("相談を申し込", 3), ("相談を受けたい", 3), ("相談を受けられ", 2),
        ("相談できますか", 1.5),
        ("相談できる人", 2.5), ("相談先を紹介", 3), ("見てほしい", 3), ("見て欲しい", 3), ("みてほしい", 3),
        ("見てもらいたい", 3), ("見てもらえ", 3), ("見ていただけ", 3), ("見ていただきたい", 3),
        ("紹介してほしい", 3), ("紹介して欲しい", 3), ("紹介してください", 3), ("紹介をお願い", 3),
        ("紹介していただけ", 3), ("紹介いただ", 3), ("紹介して", 2.5), ("re:紹介(?!ページ|記事|資料|動画|事例)", 1),
        ("紹介してもらえ", 3), ("派遣してほしい", 3), ("来てほしい", 2.5),
        ("アドバイスがほしい", 3), ("アドバイスが欲しい", 3), ("アドバイスをください", 3), ("アドバイスをいただ", 3),
        ("アドバイスしてほしい", 3), ("助言がほしい", 3), ("助言をいただ", 3), ("助言してほしい", 3),
        ("個別に", 2), ("個別相談", 3), ("担当者と話", 3), ("担当の方と話", 3), ("人と話したい", 3),
        ("詳しい人", 2.5), ("専門家を探", 3), ("専門家につない", 3), ("つないでほしい", 3), ("つないでもらえ", 3),
        ("手伝ってほしい", 3), ("手伝ってもらえ", 3), ("支援してほしい", 3), ("支援をお願い", 2.5),
        ("伴走してほしい", 3), ("一緒に考えて", 3), ("添削", 3),
        ("レビューしてほしい", 3), ("レビューをお願い", 3), ("レビューして", 3),
        ("相談に乗って", 3),
        ("困っています", 1.5), ("困っている", 1.5), ("悩んでいます", 1.5), ("悩んでいる", 1.5), ("わからなくて", 1),
        ("どうしたらよいか相談", 3), ("相談です", 1), ("re:相談", 0.5), ("専門家", 0.5), ("itコーディネータ", 0.5),
        ("お願いしたい", 1.5), ("お願いできますか", 1.5), ("お願いできませんか", 2), ("ほしいです", 1),
        ("直接話", 3), ("話せますか", 2), ("担当者の方と", 2), ("話がしたい", 3), ("話をしたい", 3),
        ("話を聞きたい", 2.5), ("話したい", 2.5),
        ("伺いたい", 2),
        ("伺えない", 2), ("伺えますか", 2), ("意見を", 1), ("ご意見", 1), ("チェックして", 2.5),
        ("re:(もらえ|いただけ)(ますか|ませんか)", 1.5),
        # A request form on any verb (「手伝ってください」「確認してもらいたい」), but not 教えて (a question).
        # (教えてほしい asks to be taught: a request; 教えてください / 教えていただけますか ask a question.)
        ("re:(?<!待っ)(?:(?<!教え)[てで](?:ください|下さい|もらえ|いただけ)|[てで](?:ほしい|欲しい|もらいたい|いただきたい))",
         2),
    ),
    "question": (  # the form of a question: tells a question from a request, not one subject from another
        ("ですか", 1), ("ますか", 1), ("ましたか", 1), ("でしたか", 1), ("でしょうか", 1), ("?", 1),
        ("教えて", 1.5), ("とは", 1.5), ("って何", 1.5), ("知りたい", 1.5), ("いつ", 0.75), ("どこ", 0.75),
        ("どう", 0.25), ("何", 0.5), ("誰", 0.5), ("どの", 0.5), ("いくら", 1), ("違い", 1), ("意味", 1),
    ),
    "faq": (  # what the program's questions are about
        ("選ばれ", 0.75), ("条件", 0.75), ("要件", 1), ("応募", 0.75), ("公募", 0.75), ("選定", 1), ("ラボ", 0.5),
        ("締切", 0.75), ("締め切り", 0.75), ("募集", 0.5), ("対象", 0.5), ("資格", 0.75), ("制度", 0.5),
        ("費用", 0.5), ("補助", 0.5), ("申請", 0.75), ("単独", 0.5), ("予算", 0.75), ("経産省", 0.75),
        ("経済産業省", 0.75), ("ipa", 0.75), ("dx", 0.5), ("デジタル", 0.5), ("it", 0.25), ("企業", 0.5),
        ("会社", 0.5), ("事業", 0.5), ("支援", 0.5), ("自治体", 0.75), ("市町村", 0.75), ("都道府県", 0.75),
        ("地域", 0.5), ("認定", 0.5), ("ボット", 1), ("セレクション", 0.75), ("人材", 0.5),
        ("マナビ", 0.75), ("受付時間", 1.5), ("窓口", 1), ("what is", 1.5), ("lab", 1), ("コーディネータ", 0.5),
        ("名称", 0.5), ("ロゴ", 0.75), ("pr", 0.25),
    ),
    "event": (
        ("イベント", 3), ("セミナー", 3), ("勉強会", 3), ("説明会", 3), ("交流会", 3), ("ワークショップ", 3),
        ("ウェビナー", 3), ("ハッカソン", 3), ("ピッチ", 2), ("登壇", 2.5), ("会場", 2), ("開催", 1.5),
        ("参加費", 2), ("参加申込", 2), ("参加登録", 2), ("何時から", 2), ("何時まで", 2), ("当日", 1.5),
        ("定員", 1.5), ("持ち物", 2), ("オンライン参加", 2.5), ("アーカイブ", 1.5), ("録画", 1.5), ("出欠", 2),
        ("出席", 1.5), ("欠席", 2), ("キャンセル待ち", 2), ("懇親会", 3), ("フォーラム", 2.5), ("シンポジウム", 3),
        ("re:(会|集まり|ミーティング)(に|へ|には|にも)(参加|出席|申し込)", 2),
        ("re:(今日|明日|明後日|来週|今度|次回|当日|今週)の(会|集まり|回|ミーティング)", 2), ("何時に", 1.5),
        ("駐車場", 1.5), ("最寄り駅", 1.5), ("服装", 1.5), ("受付開始", 1.5), ("キックオフ", 2.5), ("発表会", 3),
        ("集まり", 2), ("配信", 1.5), ("url", 1), ("対面", 1.5), ("講師", 2), ("連れて", 1),
        ("会議", 1.5), ("講演会", 3), ("デモデイ", 3), ("展示会", 3), ("ブース", 2), ("観覧", 2), ("リンク", 1),
        ("re:[月火水木金土日]曜日?の(会|集まり|回|ミーティング|勉強会|セミナー)", 2),
        ("seminar", 3), ("event", 3), ("workshop", 3), ("webinar", 3),
    ),
    "kpi": (
        ("kpi", 3), ("実績報告", 3), ("実績値", 2.5), ("入力しました", 1.5), ("満足度", 1.5), ("参加者数", 2),
        ("報告期限", 2), ("数値", 1.5), ("数字", 1.5), ("報告をします", 2), ("後で送ります", 1),
        ("re:件数\\s*\\d+", 1.5), ("目標値", 2.5), ("今月の報告", 2), ("報告:", 2), ("訪問", 1), ("実績", 1.5),
        ("件数", 1.5),
        ("報告します", 2), ("報告です", 2),
        ("報告いたします", 2), ("ご報告", 2), ("今月は", 1), ("今期は", 1), ("今四半期", 1.5), ("四半期", 1.5),
        ("前年比", 1.5), ("前月比", 1.5), ("達成", 1.5), ("目標", 1), ("進捗", 1.5), ("累計", 1.5), ("集計", 1),
        ("re:\\d+(件|社|名|人|回|%|時間|団体|事業者|者)", 1.5), ("re:(ました|でした)$", 0.5),
    ),
}
SENTENCE_BREAK = re.compile(r"(?<=[。!?!?])")
CLAUSE_BREAK = re.compile(r"(?:が|けど|けれど|けれども|ので|のですが|んですが|ですが|場合|なら|たら|ば)[、,]")


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


def small_talk(text: str) -> str | None:
    """`help` for a greeting or probe alone, `thanks` for thanks or an acknowledgement alone, else None."""
    folded = fold(text)
    bare = _TRAILING_MARKS.sub("", folded)
    if bare in HELP_WORDS or folded in HELP_WORDS:  # 「?」 alone is all trailing marks
        return "help"
    return "thanks" if bare in THANKS_WORDS else None


@dataclass(frozen=True)
class Decision:
    intent: str  # faq | consult | event | kpi | other | help | thanks
    unsure: bool = False  # a question and a consultation were too close: ask
    scores: Mapping[str, float] = field(default_factory=dict)


def _score(text: str, cues: Sequence[tuple[str, float]], leading: bool = False) -> float:
    total, rest = 0.0, text
    for cue, full in cues:
        weight = full if not leading or full >= CLEAR else full * LEADING_CLAUSE
        if cue.startswith("re:"):
            rest, found = re.subn(cue[3:], "|", rest)
            total += weight * min(found, 3)
        elif cue in rest:
            total += weight
            rest = rest.replace(cue, "|")  # a longer cue's words do not count again for a shorter one
    return total


def _scores(text: str, cues: Mapping[str, Sequence[tuple[str, float]]]) -> dict[str, float]:
    """The last sentence's last clause counts fully; a leading clause of it less (a clear request fully);
    an earlier sentence less, whatever it says (「ご相談させてください。…できますか」 asks the question)."""
    sentences = [x for x in SENTENCE_BREAK.split(text) if x.strip()] or [text]
    earlier, last = "|".join(sentences[:-1]), sentences[-1]
    parts = CLAUSE_BREAK.split(last)
    main, leading = parts[-1], "|".join(parts[:-1])
    out = {}
    for intent, table in cues.items():
        lead = _score(leading, table, leading=intent == "consult") * (1.0 if intent == "consult" else LEADING_CLAUSE)
        out[intent] = _score(main, table) + lead + LEADING_CLAUSE * _score(earlier, table)
    return out


def _table(extra: Mapping[str, Sequence[str]]) -> dict[str, tuple[tuple[str, float], ...]]:
    table = dict(CUES)
    for intent, words in extra.items():  # a use case's own cues count as strong ones
        table[intent] = (*((fold(w), 2.5) for w in words), *table.get(intent, ()))
    # Words first, longest first; patterns last (each takes what the words left).
    return {k: tuple(sorted(v, key=lambda c: (c[0].startswith("re:"), -len(c[0])))) for k, v in table.items()}


def decide(text: str, extra: Mapping[str, Sequence[str]] | None = None, previous: str | None = None) -> Decision:
    folded = fold(text)
    talk = small_talk(text)
    if talk is not None:
        return Decision(talk)
    s = _scores(folded, _table(extra or {}))
    program, question = s.pop("faq", 0.0), s.pop("question", 0.0)
    consult = s.get("consult", 0.0)
    domain = max(("event", "kpi"), key=lambda k: s.get(k, 0.0))
    if s.get(domain, 0.0) >= DOMAIN_MIN and s[domain] > consult and s[domain] > program + question / 2:
        return Decision(domain, scores=s | {"faq": program + question})
    # A follow-up with no strong cue stays with an event or KPI conversation. (Never with a consultation:
    # an open case's messages are relayed before this, and a vague follow-up must not open a second case.)
    if previous in ("event", "kpi") and max(consult, program, s.get(domain, 0.0)) < DOMAIN_MIN:
        s[previous] = s.get(previous, 0.0) + CONTEXT
        if s[previous] > max(consult, program + question / 2):
            return Decision(previous, scores=s | {"faq": program + question})
    if program == 0 and consult == 0 and max(s.values(), default=0.0) == 0:
        return Decision("other", scores=s | {"faq": question})  # a question about nothing the bot knows
    if program + question < OTHER_BELOW and consult < OTHER_BELOW:
        return Decision("other", scores=s | {"faq": program + question})
    # Against a request, what counts is that it is asked as a question; its subject counts for less.
    s["faq"] = faq = question + program / 2
    if max(consult, faq) < OTHER_BELOW:
        return Decision("other", scores=s)
    if abs(consult - faq) < MARGIN:
        return Decision("consult" if consult > faq else "faq", unsure=True, scores=s)
    return Decision("consult" if consult > faq else "faq", scores=s)


def classify(text: str, extra: Mapping[str, Sequence[str]] | None = None, previous: str | None = None) -> str:
    """faq | consult | event | kpi | other | help | thanks (the best guess when unsure)."""
    return decide(text, extra, previous).intent


def intent_of(ctx: Context, msg: Inbound, routes: Routes) -> str:
    """The routed intent for a message in its conversation: `unsure` when a use case asks, `faq` for anything
    nobody routed (an event question before the events use case exists; `other`, which the FAQ declines)."""
    key = PREVIOUS_KEY + msg.address.conversation_key
    previous = ctx.uow.kv.get(key)
    decision = decide(msg.text, routes.cue_words, previous)
    if decision.intent in INTENTS and decision.intent != previous:
        ctx.uow.kv.put(key, decision.intent)
    if decision.unsure and "unsure" in routes.intents:
        return "unsure"
    return decision.intent if decision.intent in routes.intents else "faq"
