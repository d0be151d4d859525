"""BM25 over each entry's phrasings and over the entry as a whole, with a coverage measure.

An entry scores by its best single phrasing (short text against short text, what FAQ matching
needs) and by its whole document (phrasings, tags and answer together, which catches questions
worded like the answer). Coverage, the share of the query's information (idf-weighted) that the
entry contains, is what the confidence is built on: it is bounded in 0..1, unlike BM25 scores.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from knowledge.schema import Entry
from knowledge.text import Analyzer

K1 = 1.2
B = 0.75
TAG_WEIGHT = 0.8
ANSWER_WEIGHT = 0.4
PHRASE_SHARE = 0.6  # of the ranking score that comes from the best phrasing


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float
    coverage: float  # share of the query's idf mass found in the entry (0..1)
    phrase_coverage: float  # the same, for the best single phrasing


class _Bm25:
    """A BM25 scorer over weighted feature bags, with idf supplied by the caller."""

    def __init__(self, docs: list[Counter[str]]):
        self.lengths = [sum(d.values()) for d in docs]
        self.avg = (sum(self.lengths) / len(docs)) if docs else 1.0
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, doc in enumerate(docs):
            for term, tf in doc.items():
                self.postings[term].append((i, tf))

    def scores(self, query: Counter[str], idf: dict[str, float]) -> dict[int, float]:
        out: dict[int, float] = defaultdict(float)
        for term, qw in query.items():
            weight = idf.get(term)
            if weight is None:
                continue
            for i, tf in self.postings.get(term, ()):
                norm = tf * (K1 + 1) / (tf + K1 * (1 - B + B * self.lengths[i] / self.avg))
                out[i] += qw * weight * norm
        return out


class FaqIndex:
    def __init__(self, entries: list[Entry], analyzer: Analyzer):
        self.entries = entries
        self.analyzer = analyzer
        entry_docs: list[Counter[str]] = []
        phrase_docs: list[Counter[str]] = []
        self.phrase_owner: list[int] = []
        for i, entry in enumerate(entries):
            doc: Counter[str] = Counter()
            for question in entry.questions:
                feats = analyzer.features(question)
                phrase_docs.append(feats)
                self.phrase_owner.append(i)
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
        self.entry_terms = [set(d) for d in entry_docs]
        self.phrase_terms = [set(d) for d in phrase_docs]
        self._entries_bm25 = _Bm25(entry_docs)
        self._phrases_bm25 = _Bm25(phrase_docs)

    def search(self, text: str, limit: int = 5) -> list[Hit]:
        query = self.analyzer.features(text)
        if not query:
            return []
        mass = {t: w * self.idf.get(t, self.unseen_idf) for t, w in query.items()}
        total = sum(mass.values()) or 1.0
        entry_scores = self._entries_bm25.scores(query, self.idf)
        best_phrase: dict[int, tuple[float, int]] = {}
        for p, score in self._phrases_bm25.scores(query, self.idf).items():
            owner = self.phrase_owner[p]
            if score > best_phrase.get(owner, (0.0, -1))[0]:
                best_phrase[owner] = (score, p)
        hits = []
        for i in set(entry_scores) | set(best_phrase):
            phrase_score, p = best_phrase.get(i, (0.0, -1))
            score = PHRASE_SHARE * phrase_score + (1 - PHRASE_SHARE) * entry_scores.get(i, 0.0)
            coverage = sum(m for t, m in mass.items() if t in self.entry_terms[i]) / total
            phrase_cov = sum(m for t, m in mass.items() if p >= 0 and t in self.phrase_terms[p]) / total
            hits.append(Hit(self.entries[i], score, coverage, phrase_cov))
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:limit]
