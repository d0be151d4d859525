"""Choose an entry for a question: rank, turn scores into a calibrated confidence, decide.

The decision is data (which entry, how sure, whether to answer, hand off or suggest); turning it
into words is the handlers' job, so that every channel and the CLI say the same thing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from knowledge.index import FaqIndex, Hit
from knowledge.schema import Entry, KnowledgeBase
from knowledge.text import Analyzer, SynonymMap

MAX_SUGGESTIONS = 3
CLOSE_SCORE = 0.85  # a runner-up this close to the winner (by score) is offered as a suggestion


@dataclass(frozen=True)
class Calibration:
    """Logistic weights mapping a hit's features to P(the answer is right)."""

    bias: float = -6.0
    coverage: float = 4.0
    phrase_coverage: float = 2.0
    word_coverage: float = 4.0
    margin: float = 1.5
    unknown: float = -2.0

    def confidence(self, features: tuple[float, ...]) -> float:
        weights = (self.coverage, self.phrase_coverage, self.word_coverage, self.margin, self.unknown)
        z = self.bias + sum(w * x for w, x in zip(weights, features, strict=True))
        return 1.0 / (1.0 + math.exp(-z))


def hit_features(hit: Hit, runner_up: Hit | None) -> tuple[float, float, float, float, float]:
    """(coverage, phrase coverage, word coverage, margin, unknown share) of a hit.

    The margin over the runner-up is scaled by word coverage: a lone weak match (one shared
    word) is far ahead of the rest, but that says nothing about it being right.
    """
    margin = 0.0
    if hit.score > 0:
        margin = (hit.score - (runner_up.score if runner_up else 0.0)) / hit.score
    return hit.coverage, hit.phrase_coverage, hit.word_coverage, margin * hit.word_coverage, hit.unknown



DEFAULT_THRESHOLD = 0.5


def load_calibration(root: Path | None) -> tuple[Calibration, float]:
    """The fitted weights and threshold: the knowledge folder's own, else the bundled ones."""
    path = (root / "calibration.yaml") if root else None
    if path is None or not path.is_file():
        path = Path(str(resources.files("knowledge").joinpath("calibration.yaml")))
    if not path.is_file():
        return Calibration(), DEFAULT_THRESHOLD
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    weights = {k: float(v) for k, v in data.get("weights", {}).items()}
    return Calibration(**weights), float(data.get("threshold", DEFAULT_THRESHOLD))


@dataclass(frozen=True)
class Decision:
    question: str
    entry: Entry | None  # the entry chosen (an answer or a hand-off), None when declining
    confidence: float
    suggestions: tuple[Entry, ...] = field(default_factory=tuple)

    @property
    def answered(self) -> bool:
        return self.entry is not None and not self.entry.handoff

    @property
    def escalate(self) -> bool:
        return not self.answered


class FaqEngine:
    def __init__(self, kb: KnowledgeBase, threshold: float | None = None,
                 calibration: Calibration | None = None):
        self.kb = kb
        fitted, fitted_threshold = load_calibration(kb.root)
        self.calibration = calibration or fitted
        self.threshold = fitted_threshold if threshold is None else threshold
        self.suggest_floor = self.threshold * 0.75
        self.index = FaqIndex(kb.entries, Analyzer(SynonymMap.build(kb.synonyms)))
        self._by_id = kb.by_id()
        self._warm_up()

    def _warm_up(self) -> None:
        """Answer one Japanese and one English question now, so that the first user's answer
        does not pay for lazy set-up inside the tokenizer, regex engine and numpy."""
        questions = [q for e in self.kb.entries for q in e.questions]
        for question in questions[:1] + [q for q in questions if q.isascii()][:1]:
            self.index.search(question)

    def entry(self, entry_id: str) -> Entry | None:
        return self._by_id.get(entry_id)

    def scored(self, question: str) -> list[tuple[Hit, float]]:
        """Hits with their confidence, best first."""
        hits = self.index.search(question, limit=MAX_SUGGESTIONS + 2)
        out = []
        for i, hit in enumerate(hits):
            # Only the winner has a margin: the others are, by definition, not ahead of anyone.
            runner_up = (hits[1] if len(hits) > 1 else None) if i == 0 else hit
            out.append((hit, self.calibration.confidence(hit_features(hit, runner_up))))
        return out

    def decide(self, question: str) -> Decision:
        scored = self.scored(question)
        if not scored:
            return Decision(question, None, 0.0)
        (top, top_conf), rest = scored[0], scored[1:]
        if top_conf >= self.threshold:
            close = tuple(h.entry for h, c in rest
                          if h.score >= CLOSE_SCORE * top.score and c >= self.suggest_floor)
            return Decision(question, top.entry, top_conf, close[:MAX_SUGGESTIONS - 1])
        maybe = tuple(h.entry for h, c in scored if c >= self.suggest_floor)
        return Decision(question, None, top_conf, maybe[:MAX_SUGGESTIONS])
