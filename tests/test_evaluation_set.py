"""The evaluation sets: `dev` (tuned on, asserted) and the sealed `test` and `test2` (never tuned on).

The sealed sets were written from facts.md alone by someone who never read the entries; their
figures are asserted only loosely, so that a regression shows, and not printed here: `dxlab kb eval`
reports them, and a figure glanced at on every run is a figure tuned to."""

from __future__ import annotations

import pytest

from handlers.faq import FaqService
from knowledge.evaluate import HANDOFF, Answer, EvalReport, evaluate, load_cases
from knowledge.live import LiveKnowledge
from knowledge.schema import bundled_dir
from knowledge.semantic import LocalE5

EVAL = bundled_dir() / "eval"


def _report(faq: FaqService, name: str) -> EvalReport:
    engine = faq.knowledge.engine

    def ask(question: str) -> Answer:
        result = faq.ask(question)
        entry = engine.entry(result.entry_id) if result.entry_id else None
        facts = entry.cited_facts if entry else frozenset()
        return Answer(result.entry_id, result.answered, result.escalate, result.confidence, facts,
                      bool(entry and entry.handoff))

    return evaluate(load_cases([EVAL / name]), ask)


@pytest.fixture(scope="module", params=["lexical", "hybrid"])
def faq(request: pytest.FixtureRequest) -> FaqService:
    return FaqService(LiveKnowledge(embedder=LocalE5() if request.param == "hybrid" else None))


def test_dev_set_meets_targets(faq: FaqService) -> None:
    report = _report(faq, "dev")
    (right, in_total), (declined, out_total) = report.in_scope, report.out_of_scope
    assert in_total >= 80 and out_total >= 15
    failures = report.failures()
    # Measured 2026-12-03 (dev4 joined, small talk no longer a question): in scope 93-95%, declined
    # 89% (lexical, hybrid); several dev out-of-scope questions get an entry that honestly says what
    # is not published, which counts as a miss. A guard a little below the measured level.
    assert right / in_total >= 0.90, failures
    assert declined / out_total >= 0.80, failures


@pytest.mark.parametrize("name", ["test", "test2"])
def test_sealed_sets_hold_a_loose_guard(faq: FaqService, name: str) -> None:
    report = _report(faq, name)
    (right, in_total), (declined, out_total) = report.in_scope, report.out_of_scope
    handed, handoff_total = report.rate(HANDOFF)
    assert in_total >= 100 and out_total >= 30 and handoff_total >= 10
    # Loose: a regression guard, not a target (the message holds only counts, never a question).
    assert right / in_total >= 0.5 and declined / out_total >= 0.5 and handed / handoff_total >= 0.5, \
        f"{name}: a regression well below the reported figures"


def test_every_expected_entry_and_fact_exists() -> None:
    kb = LiveKnowledge().engine.kb
    ids = kb.by_id()
    for case in load_cases([p for p in sorted(EVAL.iterdir()) if p.is_dir()]):
        assert case.expect is None or case.expect in ids, case
