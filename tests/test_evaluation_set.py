"""The visible evaluation set: ≥90% top-1 in scope and ≥90% declined out of scope."""

from __future__ import annotations

from handlers.faq import FaqService
from knowledge.evaluate import evaluate, load_cases
from knowledge.live import LiveKnowledge
from knowledge.schema import bundled_dir


def test_evaluation_set_meets_targets() -> None:
    faq = FaqService(LiveKnowledge())
    cases = load_cases([bundled_dir() / "eval"])

    def ask(question: str) -> tuple[str | None, bool, float]:
        result = faq.ask(question)
        return result.entry_id, result.answered, result.confidence

    report = evaluate(cases, ask)
    (right, in_total), (declined, out_total) = report.in_scope, report.out_of_scope
    assert in_total >= 80 and out_total >= 15
    failures = report.as_dict()["failures"]
    assert right / in_total >= 0.90, failures
    assert declined / out_total >= 0.90, failures


def test_every_expected_entry_exists() -> None:
    ids = LiveKnowledge().engine.kb.by_id()
    for case in load_cases([bundled_dir() / "eval"]):
        assert case.expect is None or case.expect in ids, case
