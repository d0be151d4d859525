"""Answering a guideline question: input checks, the engine's decision, and the words shown."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache

from handlers.i18n import format_date, t
from handlers.intent import small_talk
from handlers.ports import QuestionRecord, Rephraser
from handlers.text_input import clean_text
from knowledge.answer import Decision
from knowledge.live import LiveKnowledge
from knowledge.schema import Citation, Entry

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class FaqResult:
    """One answer, in the shape of the `dxlab ask --json` contract (plus what channels need)."""

    question: str
    answered: bool
    answer: str
    confidence: float
    entry_id: str | None
    sources: list[dict[str, object]]
    as_of: str | None
    escalate: bool
    suggestions: list[str]
    source_line: str | None = None
    kind: str | None = None
    rejected: bool = False  # the input itself was refused (empty, too long, unreadable)
    suggestion_labels: list[str] = field(default_factory=list)

    def record(self, channel: str, user_ref: str | None, conversation_ref: str | None) -> QuestionRecord:
        """This answer as a row of the question log."""
        return QuestionRecord(channel=channel, user_ref=user_ref, conversation_ref=conversation_ref,
                              question=self.question, entry_id=self.entry_id, confidence=self.confidence,
                              answered=self.answered, escalated=self.escalate)

    def as_json(self) -> dict[str, object]:
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.answer,
            "confidence": round(self.confidence, 4),
            "entry_id": self.entry_id,
            "sources": self.sources,
            "as_of": self.as_of,
            "escalate": self.escalate,
            "suggestions": self.suggestions,
        }


# Markup a user may paste around a question (HTML tags and entities, SQL keywords): it says
# nothing about the language they write in.
_MARKUP = re.compile(r"<[^>]*>|&[a-z]+;|&#\d+;|\b(?:select|insert|update|delete|drop|union|from|where|"
                     r"table|into|values|or|and|null|script|alert|div|span|href|src)\b", re.IGNORECASE)
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")
_ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")


def looks_english(text: str) -> bool:
    """Reply in English only when the user wrote English words and no Japanese, markup aside."""
    plain = _MARKUP.sub(" ", unicodedata.normalize("NFKC", text))
    if _JAPANESE.search(plain):
        return False
    return len(_ENGLISH_WORD.findall(plain)) >= 2


def input_problem(text: str, max_chars: int) -> tuple[str, dict[str, object]] | None:
    """Why a question cannot be taken as it is (an i18n key and its parameters), or None."""
    stripped = text.strip()
    if not stripped:
        return "faq.empty", {}
    if len(stripped) > max_chars:
        return "faq.too_long", {"limit": max_chars, "length": len(stripped)}
    categories = [unicodedata.category(c) for c in stripped if not c.isspace()]
    # Control characters and U+FFFD (what undecodable bytes become) mean binary, not text.
    garbage = sum(1 for c in categories if c[0] == "C") + stripped.count("\ufffd")
    if garbage * 4 > len(categories):
        return "faq.unreadable", {}
    if not any(c[0] in "LN" for c in categories):
        symbols = sum(1 for c in categories if c == "So")
        return ("faq.emoji_only" if symbols else "faq.unreadable"), {}
    # Digits alone (a button number, a stray "3") or a single character are not a question:
    # any entry they matched would be a guess.
    if not any(c[0] == "L" for c in categories) or sum(1 for c in categories if c[0] == "L") == 1:
        return "faq.not_question", {}
    # Nor is a greeting, a probe or an acknowledgement alone (chat routes these before the FAQ;
    # `dxlab ask` and the evaluation meet them here).
    if small_talk(stripped) is not None:
        return "faq.small_talk", {}
    return None


def primary_first(entry: Entry) -> list[Citation]:
    """The entry's citations, primary sources (ministry and IPA pages, guidelines, minutes) first."""
    return sorted(entry.sources, key=lambda c: not c.source.primary)


@lru_cache(maxsize=2048)  # entries are immutable and few; the line is on every answer's path
def source_line(entry: Entry, lang: str = "ja") -> str:
    items = []
    for citation in primary_first(entry):
        title = citation.source.title + (f" {citation.section}" if citation.section else "")
        key = "faq.source_item" if citation.source.primary else "faq.source_item_secondary"
        items.append(t(key, lang, title=title, date=format_date(citation.effective_date, lang)))
    as_of = t("faq.as_of", lang, date=format_date(entry.effective_as_of, lang))
    return f"{t('faq.source_label', lang)}: {' / '.join(items)}\n{as_of}"


def is_faithful(original: str, rewritten: str) -> bool:
    """A cheap guard on a rephrased answer: not empty, not much longer, and no number or date
    that the reviewed answer does not contain (where a model would most likely invent one)."""
    rewritten = rewritten.strip()
    if not rewritten or len(rewritten) > len(original) * 1.5 + 40:
        return False
    allowed = set(_NUMBER.findall(unicodedata.normalize("NFKC", original)))
    return set(_NUMBER.findall(unicodedata.normalize("NFKC", rewritten))) <= allowed


class FaqService:
    def __init__(self, knowledge: LiveKnowledge, max_chars: int = 2000):
        self.knowledge = knowledge
        self.max_chars = max_chars
        for lang in ("ja", "en"):  # load the text catalogues now, not during the first answers
            t("faq.decline", lang)

    def ask(self, question: str, lang: str | None = None) -> FaqResult:
        """Answer a question. `lang`: the conversation's language when the caller knows it;
        otherwise Japanese unless the question is written in English words."""
        english = looks_english(question) if lang is None else lang == "en"
        question = clean_text(question)
        problem = input_problem(question, self.max_chars)
        shown = question if len(question) <= self.max_chars else question[: self.max_chars]
        if problem is not None:
            key, params = problem
            text = t(key, "en" if english else "ja", **params)
            return FaqResult(shown, False, text, 0.0, None, [], None, False, [], rejected=True)
        decision = self.knowledge.engine.decide(question)
        return self.compose(decision, english=english)

    async def rephrased(self, result: FaqResult, question: str, rephraser: Rephraser) -> FaqResult:
        """`result` with the reviewed answer reworded for the question by `rephraser`.
        Sources and dates stay the entry's; any failure or doubtful wording keeps the original."""
        entry = self.knowledge.engine.entry(result.entry_id) if result.entry_id else None
        if entry is None or not result.answered:
            return result
        body = await rephraser.rephrase(question, entry.answer)
        if body is None or not is_faithful(entry.answer, body):
            return result
        return replace(result, answer=result.answer.replace(entry.answer, body.strip(), 1))

    def answer_entry(self, entry_id: str) -> FaqResult | None:
        """The answer for an entry the user picked (a suggestion button)."""
        entry = self.knowledge.engine.entry(entry_id)
        if entry is None:
            return None
        return self.compose(Decision(entry.questions[0], entry, 1.0))

    def compose(self, decision: Decision, english: bool = False) -> FaqResult:
        entry = decision.entry
        lang = "en" if english else "ja"
        suggestions = [e.id for e in decision.suggestions]
        labels = [e.questions[0] for e in decision.suggestions]
        if entry is None:
            text = f"{t('faq.decline', lang)}\n{t('faq.decline_offer', lang)}"
            return FaqResult(decision.question, False, text, decision.confidence, None, [], None, True,
                             suggestions, kind=None, suggestion_labels=labels)
        parts = [entry.answer]
        if entry.kind == "opinion":
            parts.append(t("faq.opinion_note"))
        if entry.handoff:  # the entry says a person must answer; this line only says how
            parts.append(t("faq.handoff_offer"))
        if english and entry.summary_en:
            parts.append(t("faq.english_summary", "en", summary=entry.summary_en))
        return FaqResult(
            question=decision.question,
            answered=decision.answered,
            answer="\n".join(parts),
            confidence=decision.confidence,
            entry_id=entry.id,
            sources=[c.as_dict() for c in primary_first(entry)],
            as_of=entry.effective_as_of,
            escalate=decision.escalate,
            suggestions=suggestions,
            source_line=source_line(entry),
            kind=entry.kind,
            suggestion_labels=labels,
        )
