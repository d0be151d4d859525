"""`dxlab kb eval`: top-1 accuracy in scope and the share declined out of scope."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Case:
    question: str
    expect: str | None  # None: out of scope, the bot must decline
    file: str


@dataclass(frozen=True)
class Outcome:
    case: Case
    entry_id: str | None
    answered: bool
    confidence: float

    @property
    def passed(self) -> bool:
        if self.case.expect is None:
            return not self.answered
        return self.entry_id == self.case.expect


@dataclass
class EvalReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def _rate(self, in_scope: bool) -> tuple[int, int]:
        chosen = [o for o in self.outcomes if (o.case.expect is not None) == in_scope]
        return sum(o.passed for o in chosen), len(chosen)

    @property
    def in_scope(self) -> tuple[int, int]:
        return self._rate(True)

    @property
    def out_of_scope(self) -> tuple[int, int]:
        return self._rate(False)

    def as_dict(self) -> dict[str, object]:
        (ip, it), (op, ot) = self.in_scope, self.out_of_scope
        return {
            "in_scope": {"passed": ip, "total": it, "accuracy": ip / it if it else None},
            "out_of_scope": {"declined": op, "total": ot, "rate": op / ot if ot else None},
            "failures": [
                {"question": o.case.question, "expected": o.case.expect, "got": o.entry_id,
                 "answered": o.answered, "confidence": round(o.confidence, 3), "file": o.case.file}
                for o in self.outcomes if not o.passed
            ],
        }


def load_cases(paths: Iterable[Path]) -> list[Case]:
    cases = []
    for path in paths:
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
        for file in files:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            for item in data.get("cases", []):
                if "q" not in item:  # another evaluation's case (routing_*.yaml: text and intent)
                    continue
                cases.append(Case(str(item["q"]), item.get("expect"), str(file)))
    return cases


def evaluate(cases: list[Case], ask: Callable[[str], tuple[str | None, bool, float]]) -> EvalReport:
    """Run every case through `ask` (question -> entry id, answered, confidence)."""
    report = EvalReport()
    for case in cases:
        entry_id, answered, confidence = ask(case.question)
        report.outcomes.append(Outcome(case, entry_id, answered, confidence))
    return report
