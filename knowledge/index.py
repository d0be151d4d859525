"""BM25 over each entry's phrasings and over the entry as a whole, with a coverage measure.

An entry scores by its best single phrasing (short text against short text, what FAQ matching
needs) and by its whole document (phrasings, tags and answer together, which catches questions
worded like the answer). Coverage, the share of the query's information (idf-weighted) that the
entry contains, is what the confidence is built on: it is bounded in 0..1, unlike BM25 scores.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from knowledge.schema import Entry
from knowledge.text import Analyzer, KanaSpellings

K1 = 1.2
B = 0.75
TAG_WEIGHT = 0.8
ANSWER_WEIGHT = 0.4
UNKNOWN_KANA_WEIGHT = 0.3
_KANA_WORD = re.compile(r"^w:[\u3041-\u309f\u30a1-\u30fcー]+$")
PHRASE_SHARE = 0.3  # of the ranking score that comes from the best phrasing


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float
    coverage: float  # share of the query's idf mass found in the entry (0..1)
    phrase_coverage: float  # the same, for the best single phrasing
    word_coverage: float  # the same, counting whole words only (readings left out)
    unknown: float  # share of the query's word mass that no entry knows (天気, 確定申告)


class _Bm25:
    """BM25 over weighted feature bags. Each term keeps its postings as two numpy arrays (doc
    indices, whole term weights = idf x saturated tf, computed once at build time), so scoring a
    query is one concatenation and one bincount instead of a Python loop over postings."""

    def __init__(self, docs: list[Counter[str]], idf: dict[str, float]):
        self.size = len(docs)
        lengths = [sum(d.values()) for d in docs]
        avg = (sum(lengths) / len(docs)) if docs else 1.0
        postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        for i, doc in enumerate(docs):
            norm = K1 * (1 - B + B * lengths[i] / avg)
            for term, tf in doc.items():
                ids, weights = postings[term]
                ids.append(i)
                weights.append(idf[term] * tf * (K1 + 1) / (tf + norm))
        self.postings = {t: (np.array(ids, dtype=np.int32), np.array(ws)) for t, (ids, ws) in postings.items()}

    def scores(self, query: Counter[str]) -> np.ndarray:
        found = [(self.postings[t], qw) for t, qw in query.items() if t in self.postings]
        if not found:
            return np.zeros(self.size)
        ids = np.concatenate([p[0] for p, _ in found])
        weights = np.concatenate([p[1] * qw for p, qw in found])
        return np.bincount(ids, weights=weights, minlength=self.size)


class FaqIndex:
    def __init__(self, entries: list[Entry], analyzer: Analyzer):
        self.entries = entries
        self.analyzer = analyzer
        entry_docs: list[Counter[str]] = []
        phrase_docs: list[Counter[str]] = []
        starts: list[int] = []
        for entry in entries:
            doc: Counter[str] = Counter()
            starts.append(len(phrase_docs))
            for question in entry.questions:
                feats = analyzer.features(question)
                phrase_docs.append(feats)
                doc.update(feats)
            for tag in entry.tags:
                doc.update({k: v * TAG_WEIGHT for k, v in analyzer.features(tag).items()})
            doc.update({k: v * ANSWER_WEIGHT for k, v in analyzer.features(entry.answer).items()})
            entry_docs.append(doc)
        n = len(entries)
        df: Counter[str] = Counter()
        for doc in entry_docs:
            df.update(doc.keys())
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        # A query term found nowhere is as informative as the rarest known term.
        self.unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        self.phrase_starts = np.array(starts, dtype=np.int64)
        self.phrase_stops = np.append(self.phrase_starts[1:], len(phrase_docs))
        self.entry_terms = [set(d) for d in entry_docs]
        self.phrase_terms = [set(d) for d in phrase_docs]
        vocabulary = [t[2:] for t in self.idf if t.startswith("w:")]
        self.kana = KanaSpellings(analyzer, [*vocabulary, *analyzer.synonyms.canonical])
        self._entries_bm25 = _Bm25(entry_docs, self.idf)
        self._phrases_bm25 = _Bm25(phrase_docs, self.idf)

    def query(self, text: str) -> LexicalQuery | None:
        """Scores of every entry for `text` (None when the text has no usable word)."""
        query = self.analyzer.features(self.kana.rewrite(text))
        if not query:
            return None
        for term in [t for t in query if t not in self.idf and _KANA_WORD.match(t)]:
            # An unknown word in kana only (コウセツシ, こうせつし) is usually a known kanji word
            # spelled by sound: its reading bigrams carry the match, so it should not count as
            # much unexplained information.
            query[term] *= UNKNOWN_KANA_WEIGHT
        mass = {t: w * self.idf.get(t, self.unseen_idf) for t, w in query.items()}
        entry_scores = self._entries_bm25.scores(query)
        phrase_scores = self._phrases_bm25.scores(query)
        # Best phrasing per entry: phrasings of one entry are contiguous, so a reduceat does it.
        best = np.maximum.reduceat(phrase_scores, self.phrase_starts)
        combined = PHRASE_SHARE * best + (1 - PHRASE_SHARE) * entry_scores
        return LexicalQuery(self, mass, combined, phrase_scores)

    def search(self, text: str, limit: int = 5) -> list[Hit]:
        scored = self.query(text)
        if scored is None:
            return []
        candidates = np.flatnonzero(scored.combined)
        top = candidates[np.argsort(-scored.combined[candidates], kind="stable")][:limit]
        return [scored.hit(int(i)) for i in top]  # coverage only for the few hits returned


class LexicalQuery:
    """One question's lexical scores over all entries; `hit(i)` adds the coverage measures."""

    def __init__(self, index: FaqIndex, mass: dict[str, float], combined: np.ndarray, phrase_scores: np.ndarray):
        self.index = index
        self.mass = mass
        self.combined = combined
        self.phrase_scores = phrase_scores
        self.total = sum(mass.values()) or 1.0
        # Whole words tell "asked about something we do not cover" (天気, 確定申告) better than
        # reading bigrams, which match bits of almost anything.
        self.word_mass = {t: m for t, m in mass.items() if t.startswith("w:")}
        self.word_total = sum(self.word_mass.values()) or 1.0
        self.unknown = sum(m for t, m in self.word_mass.items() if t not in index.idf) / self.word_total

    def hit(self, i: int, score: float | None = None) -> Hit:
        index = self.index
        start, stop = index.phrase_starts[i], index.phrase_stops[i]
        p = start + int(np.argmax(self.phrase_scores[start:stop]))
        terms, phrase_terms = index.entry_terms[i], index.phrase_terms[p]
        coverage = sum(m for t, m in self.mass.items() if t in terms) / self.total
        phrase_cov = sum(m for t, m in self.mass.items() if t in phrase_terms) / self.total
        word_cov = sum(m for t, m in self.word_mass.items() if t in terms) / self.word_total
        value = float(self.combined[i]) if score is None else score
        return Hit(index.entries[i], value, coverage, phrase_cov, word_cov, self.unknown)
