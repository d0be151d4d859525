"""Choose an entry for a question: rank, turn scores into a calibrated confidence, decide.

Ranking fuses two retrievers: the lexical BM25 index (fast, and it declines well: a question whose
words the base does not know scores low) and, when an embedder is set, a semantic index (it
understands a question worded unlike every phrasing). Each entry's fused score is a blend of its
lexical score relative to the best one and its cosine relative to the best one; the kind rules
(knowledge.rules) then weigh it. One logistic model over both sides' features gives the
confidence; its weights and threshold are fitted per retrieval mode by `dxlab kb calibrate`.

The decision is data (which entry, how sure, whether to answer, hand off or suggest); turning it
into words is the handlers' job, so that every channel and the CLI say the same thing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from knowledge.index import FaqIndex, Hit, LexicalQuery
from knowledge.rules import KindRules, split_focus
from knowledge.schema import Entry, KnowledgeBase, KnowledgeError, read_yaml
from knowledge.semantic import EMBED_AT_LOAD, Embedder, SemanticIndex, VectorStore
from knowledge.text import Analyzer, SynonymMap

MAX_SUGGESTIONS = 3
CLOSE_SCORE = 0.85  # a runner-up this close to the winner (by score) is offered as a suggestion
SEMANTIC_SHARE = 0.2  # of the fused score that comes from the semantic side (chosen on the dev set)
SEMANTIC_SPREAD = 0.06  # a cosine this far below the best one counts for nothing (dev set)
LEXICAL = "lexical"
LEXICAL_FEATURES = ("coverage", "phrase_coverage", "word_coverage", "margin", "unknown", "foreign_scheme")
HYBRID_FEATURES = (*LEXICAL_FEATURES, "semantic", "semantic_margin", "agree")
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Calibration:
    """Logistic weights mapping a candidate's features to P(the answer is right), and the
    threshold at which to answer."""

    weights: dict[str, float] = field(default_factory=lambda: {
        "bias": -6.0, "coverage": 4.0, "phrase_coverage": 2.0, "word_coverage": 4.0, "margin": 1.5,
        "unknown": -2.0, "semantic": 0.0, "semantic_margin": 0.0, "agree": 0.0})
    threshold: float = DEFAULT_THRESHOLD

    def confidence(self, features: dict[str, float]) -> float:
        z = self.weights.get("bias", 0.0) + sum(self.weights.get(k, 0.0) * v for k, v in features.items())
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def calibration_path(root: Path | None) -> Path:
    path = (root / "calibration.yaml") if root else None
    if path is None or not path.is_file():
        path = Path(str(resources.files("knowledge").joinpath("calibration.yaml")))
    return path


def load_calibration(root: Path | None, mode: str = LEXICAL) -> Calibration:
    """The fitted weights and threshold for a retrieval mode: the knowledge folder's own, else the
    bundled ones, else defaults. A broken file raises KnowledgeError naming file, line and reason (a
    reload then keeps the weights it has)."""
    path = calibration_path(root)
    if not path.is_file():
        return Calibration()
    problems: list[str] = []
    data = read_yaml(path, problems)
    if problems:
        raise KnowledgeError(problems)
    if not isinstance(data, dict):  # an emptied file too: a reload must not silently drop the fit
        raise KnowledgeError([f"{path}:1: expected a mapping of retrieval modes (lexical, hybrid-…)"])
    lines = _key_lines(path)
    fitted = data.get(mode)
    if fitted is None:
        return Calibration()
    if not isinstance(fitted, dict) or not isinstance(fitted.get("weights", {}), dict):
        raise KnowledgeError([f"{path}:{lines.get(mode, 1)}: `{mode}` must be a mapping with `weights` "
                              "(a mapping) and a `threshold`"])

    def number(value: object, name: str, low: float, high: float) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high:
            return float(value)
        problems.append(f"{path}:{lines.get(name, lines.get(mode, 1))}: `{name}` must be a number "
                        f"from {low} to {high}")
        return 0.0

    known = {"bias", *HYBRID_FEATURES}
    weights = {}
    for key, value in fitted.get("weights", {}).items():
        if key == "__line__":
            continue
        if key not in known:
            problems.append(f"{path}:{lines.get(f'{mode}.weights.{key}', 1)}: unknown weight `{key}` "
                            f"(known: {', '.join(sorted(known))})")
            continue
        weights[key] = number(value, f"{mode}.weights.{key}", -MAX_WEIGHT, MAX_WEIGHT)
    threshold = number(fitted.get("threshold", DEFAULT_THRESHOLD), f"{mode}.threshold", 0.0, 1.0)
    if problems:
        raise KnowledgeError(problems)
    return Calibration(weights, threshold)


MAX_WEIGHT = 1000.0  # far beyond any fitted weight; also keeps out .inf and .nan (never in range)


def _key_lines(path: Path) -> dict[str, int]:
    """The line of each key down to `mode.weights.key` (the file already parsed once)."""
    # The same (C) parser as read_yaml: the pure-Python one refuses some text libyaml accepts.
    top = yaml.compose(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = f"{prefix}{key.value}"
                lines[name] = key.start_mark.line + 1
                walk(value, name + ".")

    if top is not None:
        walk(top, "")
    return lines


@dataclass(frozen=True)
class Candidate:
    entry: Entry
    score: float  # fused and weighed by the kind rules
    features: dict[str, float]


@dataclass(frozen=True)
class Ranking:
    """A question's best candidates, best first (features computed for these few only)."""

    question: str
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True)
class Decision:
    question: str
    entry: Entry | None  # the entry chosen (an answer or a hand-off), None when declining
    confidence: float
    suggestions: tuple[Entry, ...] = field(default_factory=tuple)

    @property
    def answered(self) -> bool:
        """True whenever an entry's content is given, a hand-off entry's included."""
        return self.entry is not None

    @property
    def escalate(self) -> bool:
        return self.entry is None or self.entry.handoff


class FaqEngine:
    def __init__(self, kb: KnowledgeBase, threshold: float | None = None,
                 calibration: Calibration | None = None, embedder: Embedder | None = None,
                 vectors: VectorStore | None = None, embed_limit: int | None = EMBED_AT_LOAD):
        self.kb = kb
        analyzer = Analyzer(SynonymMap.build(kb.synonyms))
        self.index = FaqIndex(kb.entries, analyzer)
        self.rules = KindRules(kb.entries, analyzer, kb.root)
        self.semantic: SemanticIndex | None = None
        self.mode = LEXICAL
        if embedder is not None:
            store = vectors or VectorStore(vectors_dir(kb.root), embedder.name)
            self.semantic = SemanticIndex(kb.entries, embedder, store, embed_limit)
            self.vectors = store
            self.mode = f"hybrid-{embedder.name}"
        self.calibration = calibration or load_calibration(kb.root, self.mode)
        self.threshold = self.calibration.threshold if threshold is None else threshold
        self.suggest_floor = self.threshold * 0.75
        self._by_id = kb.by_id()
        self._warm_up()

    def _warm_up(self) -> None:
        """Answer one Japanese and one English question now, so that the first user's answer
        does not pay for lazy set-up inside the tokenizer, regex engine, numpy and the model."""
        questions = [q for e in self.kb.entries for q in e.questions]
        for question in questions[:1] + [q for q in questions if q.isascii()][:1]:
            self.rank(question)

    def entry(self, entry_id: str) -> Entry | None:
        return self._by_id.get(entry_id)

    def rank(self, question: str, limit: int = MAX_SUGGESTIONS + 2) -> Ranking:
        asked, situation = split_focus(question)
        text = f"{situation} {asked}" if situation else asked
        lexical = self.index.query(asked, situation)
        size = len(self.kb.entries)
        lex = lexical.combined if lexical is not None else np.zeros(size)
        top_lex = float(lex.max()) if size else 0.0
        fused = lex / top_lex if top_lex > 0 else np.zeros(size)
        sims = None
        if self.semantic is not None:
            sims = self.semantic.similarities(text)
            near = np.clip(1.0 - (float(sims.max()) - sims) / SEMANTIC_SPREAD, 0.0, 1.0)
            fused = (1 - SEMANTIC_SHARE) * fused + SEMANTIC_SHARE * near
        terms = lexical.mass.keys() if lexical is not None else frozenset()
        factors = self.rules.factors(self.rules.traits(text, terms))
        fused = fused * factors
        if not fused.any():
            return Ranking(question, ())
        order = np.argsort(-fused, kind="stable")[:limit]
        lex_best = int(np.argmax(lex * factors)) if top_lex > 0 else -1
        # A subsidy or exam that no entry knows, named by words that are not ours (IT導入補助金, not
        # ラボ補助金): no entry answers about it, however well its other words match.
        foreign = float(any(not self.rules.ours(rest) for rest in lexical.schemes)) if lexical is not None else 0.0
        candidates = []
        for rank, i in enumerate(order):
            if fused[i] <= 0:
                break
            runner_up = float(fused[order[1]]) if rank == 0 and len(order) > 1 else float(fused[i])
            feats = _lexical_features(lexical, int(i), float(fused[i]), runner_up) | {"foreign_scheme": foreign}
            if sims is not None:
                others = np.delete(sims, i)
                feats["semantic"] = float(sims[i])
                feats["semantic_margin"] = float(sims[i] - (others.max() if len(others) else 0.0))
                feats["agree"] = 1.0 if int(i) == lex_best else 0.0
            candidates.append(Candidate(self.kb.entries[i], float(fused[i]), feats))
        return Ranking(question, tuple(candidates))

    def scored(self, question: str) -> list[tuple[Candidate, float]]:
        """Candidates with their confidence, best first."""
        return [(c, self.calibration.confidence(c.features)) for c in self.rank(question).candidates]

    def decide(self, question: str) -> Decision:
        scored = self.scored(question)
        if not scored:
            return Decision(question, None, 0.0)
        (top, top_conf), rest = scored[0], scored[1:]
        if top_conf >= self.threshold:
            close = tuple(c.entry for c, conf in rest
                          if c.score >= CLOSE_SCORE * top.score and conf >= self.suggest_floor)
            return Decision(question, top.entry, top_conf, close[:MAX_SUGGESTIONS - 1])
        maybe = tuple(c.entry for c, conf in scored if conf >= self.suggest_floor)
        return Decision(question, None, top_conf, maybe[:MAX_SUGGESTIONS])


def vectors_dir(root: Path | None) -> Path:
    """Where entry vectors live: `vectors/` beside the content (shipped in the package)."""
    return (root or Path(str(resources.files("knowledge")))) / "vectors"


def _lexical_features(lexical: LexicalQuery | None, i: int, score: float, runner_up: float) -> dict[str, float]:
    """Coverage measures of entry i, and its margin over the runner-up.

    The margin is scaled by word coverage: a lone weak match (one shared word) is far ahead of
    the rest, but that says nothing about it being right."""
    if lexical is None:
        return {"coverage": 0.0, "phrase_coverage": 0.0, "word_coverage": 0.0, "margin": 0.0, "unknown": 1.0}
    hit: Hit = lexical.hit(i)
    margin = (score - runner_up) / score if score > 0 else 0.0
    return {"coverage": hit.coverage, "phrase_coverage": hit.phrase_coverage, "word_coverage": hit.word_coverage,
            "margin": margin * hit.word_coverage, "unknown": hit.unknown}
