"""Fit the confidence model without touching the evaluation set.

Positives and hard negatives come from the entries themselves: each fold holds one phrasing of
every entry out of the index and asks it; the top hit is right or wrong. Plain negatives come
from `calibration_oos.yaml`, questions the bot must decline. A logistic regression over
(coverage, phrase coverage, margin) is fitted to "the top hit is right", and the threshold is the
one that best balances answering what it knows against declining what it does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from knowledge.answer import Calibration, FaqEngine
from knowledge.schema import KnowledgeBase

FOLDS = 3
L2 = 0.01


@dataclass(frozen=True)
class Sample:
    features: tuple[float, float, float]
    correct: bool
    in_scope: bool


def _features(engine: FaqEngine, question: str) -> tuple[str | None, tuple[float, float, float]]:
    hits = engine.index.search(question, limit=2)
    if not hits:
        return None, (0.0, 0.0, 0.0)
    runner_up = hits[1].score if len(hits) > 1 else 0.0
    margin = (hits[0].score - runner_up) / hits[0].score if hits[0].score > 0 else 0.0
    return hits[0].entry.id, (hits[0].coverage, hits[0].phrase_coverage, margin)


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
    for question in oos:
        samples.append(Sample(_features(full, question)[1], False, False))
    return samples


def fit(samples: list[Sample], steps: int = 4000, rate: float = 0.5) -> Calibration:
    w = [0.0, 0.0, 0.0, 0.0]  # bias, coverage, phrase coverage, margin
    n = len(samples)
    for _ in range(steps):
        grad = [0.0, 0.0, 0.0, 0.0]
        for s in samples:
            x = (1.0, *s.features)
            p = 1.0 / (1.0 + math.exp(-sum(wi * xi for wi, xi in zip(w, x, strict=True))))
            err = p - (1.0 if s.correct else 0.0)
            for i in range(4):
                grad[i] += err * x[i]
        w = [wi - rate * (g / n + (L2 * wi if i else 0.0)) for i, (wi, g) in enumerate(zip(w, grad, strict=True))]
    return Calibration(bias=w[0], coverage=w[1], phrase_coverage=w[2], margin=w[3])


def best_threshold(samples: list[Sample], calibration: Calibration) -> tuple[float, float]:
    """The threshold maximising the mean of (right answers among in-scope, declines among out-of-scope)."""
    inside = [s for s in samples if s.in_scope]
    outside = [s for s in samples if not s.in_scope]
    best = (0.5, -1.0)
    for step in range(5, 96):
        th = step / 100
        right = sum(s.correct and calibration.confidence(*s.features) >= th for s in inside) / len(inside)
        declined = sum(calibration.confidence(*s.features) < th for s in outside) / max(len(outside), 1)
        score = (right + declined) / 2
        if score > best[1]:
            best = (th, score)
    return best


def calibrate(kb: KnowledgeBase, oos_file: Path) -> tuple[Calibration, float, dict[str, float]]:
    oos = [str(q) for q in yaml.safe_load(oos_file.read_text(encoding="utf-8"))["questions"]]
    samples = collect(kb, oos)
    calibration = fit(samples)
    threshold, score = best_threshold(samples, calibration)
    inside = [s for s in samples if s.in_scope]
    stats = {"samples": len(samples), "held_out_top1": sum(s.correct for s in inside) / len(inside),
             "balanced_score": score}
    return calibration, threshold, stats


def write(path: Path, calibration: Calibration, threshold: float, stats: dict[str, float]) -> None:
    lines = [
        "# Logistic weights turning retrieval features into a confidence (see knowledge/answer.py),",
        "# and the answer threshold. Written by `dxlab kb calibrate`; refit after large content changes.",
        f"# fitted on {int(stats['samples'])} held-out phrasings and out-of-scope questions; held-out "
        f"top-1 {stats['held_out_top1']:.3f}, balanced score {stats['balanced_score']:.3f}",
        "weights:",
        f"  bias: {calibration.bias:.4f}",
        f"  coverage: {calibration.coverage:.4f}",
        f"  phrase_coverage: {calibration.phrase_coverage:.4f}",
        f"  margin: {calibration.margin:.4f}",
        f"threshold: {threshold:.2f}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
