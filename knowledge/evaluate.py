"""`dxlab kb eval`: top-1 accuracy in scope, the share declined out of scope, hand-offs.

Two case formats:
- by entry (the dev set): `{q, expect: entry-id}`, or `expect: null` for "must decline";
- by fact (the sealed test set, written from facts.md by someone who never saw the entries):
  `{q, facts: [F-A01, …], style, handoff?}`. A case is right when the entry answered cites any of
  the listed facts; `facts: []` without `handoff` means "must decline"; `handoff: true` means the
  reply must be a hand-off entry or a decline offering a person.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

IN_SCOPE, OUT_OF_SCOPE, HANDOFF = "in scope", "out of scope", "hand-off"
LONG_QUESTION = 60  # characters: a dev question this long counts as "long_polite"


@dataclass(frozen=True)
class Case:
    question: str
    expect: str | None  # by entry: the expected entry id; None when the case is by fact or must decline
    file: str
    facts: tuple[str, ...] | None = None  # by fact: the facts an answer may cite
    handoff: bool = False
    style: str = "plain"

    @property
    def category(self) -> str:
        if self.handoff:
            return HANDOFF
        if self.expect is not None or self.facts:
            return IN_SCOPE
        return OUT_OF_SCOPE


@dataclass(frozen=True)
class Answer:
    """What the bot did with a question, as the evaluation sees it."""

    entry_id: str | None
    answered: bool
    escalate: bool
    confidence: float
    facts: frozenset[str] = frozenset()
    handoff_entry: bool = False


@dataclass(frozen=True)
class Outcome:
    case: Case
    answer: Answer

    @property
    def entry_id(self) -> str | None:
        return self.answer.entry_id

    @property
    def passed(self) -> bool:
        case, answer = self.case, self.answer
        if case.category == HANDOFF:
            return answer.handoff_entry or (answer.escalate and not answer.answered)
        if case.category == OUT_OF_SCOPE:
            return not answer.answered
        if not answer.answered:
            return False
        if case.expect is not None:
            return answer.entry_id == case.expect
        return bool(answer.facts & set(case.facts or ()))


@dataclass
class EvalReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def rate(self, category: str, style: str | None = None) -> tuple[int, int]:
        chosen = [o for o in self.outcomes if o.case.category == category
                  and (style is None or o.case.style == style)]
        return sum(o.passed for o in chosen), len(chosen)

    @property
    def in_scope(self) -> tuple[int, int]:
        return self.rate(IN_SCOPE)

    @property
    def out_of_scope(self) -> tuple[int, int]:
        return self.rate(OUT_OF_SCOPE)

    def styles(self, category: str = IN_SCOPE) -> list[str]:
        return sorted({o.case.style for o in self.outcomes if o.case.category == category})

    def failures(self) -> list[dict[str, object]]:
        return [
            {"question": o.case.question, "category": o.case.category, "style": o.case.style,
             "expected": o.case.expect if o.case.facts is None else list(o.case.facts),
             "got": o.entry_id, "answered": o.answer.answered, "confidence": round(o.answer.confidence, 3),
             "file": o.case.file}
            for o in self.outcomes if not o.passed
        ]

    def as_dict(self, with_failures: bool = True) -> dict[str, object]:
        def figure(passed: int, total: int) -> dict[str, object]:
            return {"passed": passed, "total": total, "rate": round(passed / total, 4) if total else None}

        data: dict[str, object] = {
            "in_scope": figure(*self.in_scope),
            "out_of_scope": figure(*self.out_of_scope),
            "handoff": figure(*self.rate(HANDOFF)),
            "in_scope_by_style": {s: figure(*self.rate(IN_SCOPE, s)) for s in self.styles()},
        }
        if with_failures:
            data["failures"] = self.failures()
        return data


def _style(question: str) -> str:
    """A style for a case that does not name one (the dev set): English, long, or plain."""
    letters = [c for c in question if c.isalpha()]
    if letters and sum(c.isascii() for c in letters) / len(letters) > 0.8:
        return "english"
    return "long_polite" if len(question) >= LONG_QUESTION else "plain"


def load_cases(paths: Iterable[Path]) -> list[Case]:
    cases = []
    for path in paths:
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
        for file in files:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            for item in data.get("cases", []):
                if "q" not in item:  # another evaluation's case (routing_*.yaml: text and intent)
                    continue
                facts = item.get("facts")
                cases.append(Case(
                    question=str(item["q"]), expect=item.get("expect"), file=str(file),
                    facts=tuple(str(f) for f in facts) if facts is not None else None,
                    handoff=bool(item.get("handoff", False)), style=str(item.get("style") or _style(str(item["q"]))),
                ))
    return cases


def evaluate(cases: list[Case], ask: Callable[[str], Answer]) -> EvalReport:
    """Run every case through `ask`."""
    return EvalReport([Outcome(case, ask(case.question)) for case in cases])
