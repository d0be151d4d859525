"""`dxlab kb lint`: schema errors (from the loader) plus warnings a reviewer should act on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from knowledge.schema import Entry, KnowledgeBase, KnowledgeError, bundled_dir, load_knowledge, partial_date
from knowledge.text import Analyzer, SynonymMap

NEAR_DUPLICATE = 0.85  # Jaccard of content words above which two phrasings are the same question
MAX_ANSWER_CHARS = 700
OPINION_MARKERS = ("意見", "提案", "案")


@dataclass(frozen=True)
class LintReport:
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    entries: int

    @property
    def ok(self) -> bool:
        return not self.errors and not self.warnings


def _where(entry: Entry) -> str:
    return f"{entry.file}:{entry.line}: entry {entry.id}"


def stale_warnings(kb: KnowledgeBase, today: dt.date, max_age_days: int) -> list[str]:
    out = []
    for entry in kb.entries:
        if entry.volatile and not entry.handoff and entry.as_of:
            age = (today - partial_date(entry.as_of)).days
            if age > max_age_days:
                out.append(f"{_where(entry)}: as_of {entry.as_of} is {age} days old "
                           f"(more than {max_age_days}): re-check the fact or hand it to a person")
    return out


def duplicate_warnings(kb: KnowledgeBase) -> list[str]:
    analyzer = Analyzer(SynonymMap.build(kb.synonyms))
    phrasings = [(e, q, frozenset(analyzer.words(q))) for e in kb.entries for q in e.questions]
    out = []
    for (e1, q1, w1), (e2, q2, w2) in combinations(phrasings, 2):
        if e1.id == e2.id or not w1 or not w2:
            continue
        if len(w1 & w2) / len(w1 | w2) >= NEAR_DUPLICATE:
            out.append(f"{_where(e1)}: phrasing 「{q1}」 is nearly the same as 「{q2}」 of {e2.id}")
    return out


def content_warnings(kb: KnowledgeBase) -> list[str]:
    out = []
    for entry in kb.entries:
        if len(entry.answer) > MAX_ANSWER_CHARS:
            out.append(f"{_where(entry)}: answer is {len(entry.answer)} characters (keep it under "
                       f"{MAX_ANSWER_CHARS})")
        if entry.kind == "opinion" and not any(m in entry.answer for m in OPINION_MARKERS):
            out.append(f"{_where(entry)}: an opinion entry must say it is an opinion or proposal")
        if not entry.summary_en:
            out.append(f"{_where(entry)}: no summary_en (English questions show it)")
    return out


def empty_file_warnings(kb: KnowledgeBase) -> list[str]:
    """Content files without a single entry: usually a truncated save (a reload refuses them)."""
    root = kb.root or bundled_dir()
    used = {e.file for e in kb.entries}
    return [f"{path}:1: no entries (an emptied or truncated file?)"
            for path in sorted((root / "content").rglob("*.yaml")) if str(path) not in used]


def lint(root: Path | None, today: dt.date, max_age_days: int) -> LintReport:
    try:
        kb = load_knowledge(root)
    except KnowledgeError as exc:
        return LintReport(tuple(exc.problems), (), 0)
    warnings = (stale_warnings(kb, today, max_age_days) + duplicate_warnings(kb) + content_warnings(kb)
                + empty_file_warnings(kb))
    return LintReport((), tuple(warnings), len(kb.entries))
