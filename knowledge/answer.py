"""Choose an entry for a question: rank, turn scores into a calibrated confidence, decide.

The decision is data (which entry, how sure, whether to answer, hand off or suggest); turning it
into words is the handlers' job, so that every channel and the CLI say the same thing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

import yaml

from knowledge.index import FaqIndex, Hit
from knowledge.schema import Entry, KnowledgeBase, KnowledgeError, read_yaml
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
    """The fitted weights and threshold: the knowledge folder's own, else the bundled ones.
    A broken file raises KnowledgeError naming file, line and reason (a reload then keeps the
    weights it has)."""
    path = (root / "calibration.yaml") if root else None
    if path is None or not path.is_file():
        path = Path(str(resources.files("knowledge").joinpath("calibration.yaml")))
    if not path.is_file():
        return Calibration(), DEFAULT_THRESHOLD
    problems: list[str] = []
    data = read_yaml(path, problems)
    if problems:
        raise KnowledgeError(problems)
    lines = _key_lines(path)
    if not isinstance(data, dict) or not isinstance(data.get("weights", {}), dict):
        raise KnowledgeError([f"{path}:1: expected a mapping with a mapping `weights` and a `threshold`"])

    def number(value: object, name: str, low: float, high: float) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high:
            return float(value)
        problems.append(f"{path}:{lines.get(name, 1)}: `{name}` must be a number from {low} to {high}")
        return 0.0

    known = {f.name for f in fields(Calibration)}
    weights = {}
    for key, value in data.get("weights", {}).items():
        if key == "__line__":
            continue
        if key not in known:
            problems.append(f"{path}:{lines.get(f'weights.{key}', 1)}: unknown weight `{key}` "
                            f"(known: {', '.join(sorted(known))})")
            continue
        weights[key] = number(value, f"weights.{key}", -MAX_WEIGHT, MAX_WEIGHT)
    threshold = number(data.get("threshold", DEFAULT_THRESHOLD), "threshold", 0.0, 1.0)
    if problems:
        raise KnowledgeError(problems)
    return Calibration(**weights), threshold


MAX_WEIGHT = 1000.0  # far beyond any fitted weight; also keeps out .inf and .nan (never in range)


def _key_lines(path: Path) -> dict[str, int]:
    """The line of each top-level key and each `weights.<key>` (the file already parsed)."""
    # The same (C) parser as read_yaml: the pure-Python one refuses some text libyaml accepts.
    top = yaml.compose(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    lines: dict[str, int] = {}
    if isinstance(top, yaml.MappingNode):
        for key, value in top.value:
            lines[str(key.value)] = key.start_mark.line + 1
            if isinstance(value, yaml.MappingNode):
                for sub, _ in value.value:
                    lines[f"{key.value}.{sub.value}"] = sub.start_mark.line + 1
    return lines


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
