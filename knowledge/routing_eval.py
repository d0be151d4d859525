"""Accuracy of the intent decision over a routing set (`cases: - {text, intent, borderline}`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass(frozen=True)
class RoutingCase:
    text: str
    intent: str
    borderline: bool


@dataclass
class RoutingReport:
    total: int = 0
    correct: int = 0
    borderline: int = 0
    borderline_correct: int = 0
    misses: list[dict[str, str]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def borderline_accuracy(self) -> float:
        return self.borderline_correct / self.borderline if self.borderline else 0.0

    def as_dict(self, with_misses: bool = True) -> dict[str, object]:
        out: dict[str, object] = {"total": self.total, "accuracy": round(self.accuracy, 3),
                                  "borderline": self.borderline,
                                  "borderline_accuracy": round(self.borderline_accuracy, 3)}
        if with_misses:
            out["misses"] = self.misses
        return out


def load_routing(path: Path) -> list[RoutingCase]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = data.get("cases", []) if isinstance(data, dict) else data
    return [RoutingCase(str(i["text"]), str(i["intent"]), bool(i.get("borderline", False))) for i in items]


def evaluate_routing(cases: list[RoutingCase], classify: Callable[[str], str]) -> RoutingReport:
    report = RoutingReport()
    for case in cases:
        got = classify(case.text)
        got = got if got in ("faq", "consult", "event", "kpi") else "other"
        ok = got == case.intent
        report.total += 1
        report.correct += ok
        report.borderline += case.borderline
        report.borderline_correct += ok and case.borderline
        if not ok:
            report.misses.append({"text": case.text, "expected": case.intent, "got": got})
    return report
