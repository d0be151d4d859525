"""Fit the confidence model without touching the evaluation set.

Positives and hard negatives come from the entries themselves: each fold holds one phrasing of
every entry out of the index and asks it; the top hit is right or wrong. Plain negatives come
from `calibration_oos.yaml`, questions the bot must decline. A logistic regression over the
hit's features (knowledge.answer.hit_features) is fitted to "the top hit is right", and the
threshold is the lowest that still declines nearly all of the out-of-scope questions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from knowledge.answer import Calibration, FaqEngine, hit_features
from knowledge.schema import KnowledgeBase

FOLDS = 3
DECLINE_TARGET = 0.95
L2 = 0.01


@dataclass(frozen=True)
class Sample:
    features: tuple[float, float, float, float, float]
    correct: bool
    in_scope: bool


def _features(engine: FaqEngine, question: str) -> tuple[str | None, tuple[float, float, float, float, float]]:
    hits = engine.index.search(question, limit=2)
    if not hits:
        return None, (0.0, 0.0, 0.0, 0.0, 1.0)
    return hits[0].entry.id, hit_features(hits[0], hits[1] if len(hits) > 1 else None)


def collect(kb: KnowledgeBase, oos: list[str]) -> list[Sample]:
    samples = []
    for fold in range(FOLDS):
        held = {e.id: e.questions[fold] for e in kb.entries if len(e.questions) > fold}
        entries = [replace(e, questions=tuple(q for i, q in enumerate(e.questions) if i != fold))
                   for e in kb.entries]
        engine = FaqEngine(replace(kb, entries=entries), calibration=Calibration())
        for entry_id, question in held.items():
            top, feats = _features(engine, question)
            samples.append(Sample(feats, top == entry_id, True))
    full = FaqEngine(kb, calibration=Calibration())
    handoffs = {e.id for e in kb.entries if e.handoff}
    for question in oos:
        top, feats = _features(full, question)
        if top not in handoffs:  # a hand-off entry declines by itself, whatever the confidence
            samples.append(Sample(feats, False, False))
    return samples


def fit(samples: list[Sample], steps: int = 4000, rate: float = 0.5) -> Calibration:
    w = [0.0] * 6  # bias, coverage, phrase coverage, word coverage, margin, unknown share
    n = len(samples)
    for _ in range(steps):
        grad = [0.0] * 6
        for s in samples:
            x = (1.0, *s.features)
            p = 1.0 / (1.0 + math.exp(-sum(wi * xi for wi, xi in zip(w, x, strict=True))))
            err = p - (1.0 if s.correct else 0.0)
            for i in range(6):
                grad[i] += err * x[i]
        w = [wi - rate * (g / n + (L2 * wi if i else 0.0)) for i, (wi, g) in enumerate(zip(w, grad, strict=True))]
    return Calibration(bias=w[0], coverage=w[1], phrase_coverage=w[2], word_coverage=w[3], margin=w[4],
                       unknown=w[5])


def best_threshold(samples: list[Sample], calibration: Calibration) -> tuple[float, float]:
    """The lowest threshold that still declines DECLINE_TARGET of the out-of-scope questions.

    Answering a question the base does not cover is the costly mistake (a wrong eligibility
    answer loses a region its application), so the threshold is set by the decline rate, and
    answers as much as it can within that. Returns (threshold, share of held-out phrasings
    answered right at that threshold).
    """
    inside = [s for s in samples if s.in_scope]
    outside = sorted((calibration.confidence(s.features) for s in samples if not s.in_scope), reverse=True)
    allowed = int(len(outside) * (1 - DECLINE_TARGET))
    threshold = min(0.95, round(outside[allowed] + 0.005, 3)) if outside else 0.5
    right = sum(s.correct and calibration.confidence(s.features) >= threshold for s in inside) / len(inside)
    return threshold, right


def calibrate(kb: KnowledgeBase, oos_file: Path) -> tuple[Calibration, float, dict[str, float]]:
    oos = [str(q) for q in yaml.safe_load(oos_file.read_text(encoding="utf-8"))["questions"]]
    samples = collect(kb, oos)
    calibration = fit(samples)
    threshold, answered_right = best_threshold(samples, calibration)
    inside = [s for s in samples if s.in_scope]
    stats = {"samples": len(samples), "held_out_top1": sum(s.correct for s in inside) / len(inside),
             "held_out_answered_right": answered_right}
    return calibration, threshold, stats


def write(path: Path, calibration: Calibration, threshold: float, stats: dict[str, float]) -> None:
    lines = [
        "# Logistic weights turning retrieval features into a confidence (see knowledge/answer.py),",
        "# and the answer threshold. Written by `dxlab kb calibrate`; refit after large content changes.",
        f"# fitted on {int(stats['samples'])} held-out phrasings and out-of-scope questions; held-out "
        f"top-1 {stats['held_out_top1']:.3f}, answered right {stats['held_out_answered_right']:.3f}",
        "weights:",
        f"  bias: {calibration.bias:.4f}",
        f"  coverage: {calibration.coverage:.4f}",
        f"  phrase_coverage: {calibration.phrase_coverage:.4f}",
        f"  word_coverage: {calibration.word_coverage:.4f}",
        f"  margin: {calibration.margin:.4f}",
        f"  unknown: {calibration.unknown:.4f}",
        f"threshold: {threshold:.2f}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
