"""BM25 over each entry's phrasings and over the entry as a whole, with a coverage measure.

An entry scores by its best single phrasing (short text against short text, what FAQ matching
needs) and by its whole document (phrasings, tags and answer together, which catches questions
worded like the answer). Coverage, the share of the query's information (idf-weighted) that the
entry contains, is what the confidence is built on: it is bounded in 0..1, unlike BM25 scores.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from knowledge.schema import Entry
from knowledge.text import Analyzer, Compound, KanaSpellings

K1 = 1.2
B = 0.75
TAG_WEIGHT = 0.8
ANSWER_WEIGHT = 0.4
SUMMARY_WEIGHT = 0.4  # the one-line English summary: English words the glossary does not map
UNKNOWN_NAME_WEIGHT = 1.0  # a name no entry knows (IT導入補助金, ITパスポート) counts as one more unknown word
MIN_COMPOUND_CHARS = 3
SITUATION_WEIGHT = 0.5  # of a situation sentence's terms (chosen on the dev sets; 1.0 was the old behaviour)
PHRASE_SHARE = 0.3  # of the ranking score that comes from the best phrasing


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float
    coverage: float  # share of the query's idf mass found in the entry (0..1)
    phrase_coverage: float  # the same, for the best single phrasing
    word_coverage: float  # the same, counting whole words only (readings left out)
    unknown: float  # share of the query's word mass that no entry knows (天気, 確定申告)


class _Postings:
    """BM25 postings of every term over one document space: the entries, then the phrasings.

    Stored as flat arrays (a term's postings are one slice, as in CSR), so a query gathers all
    its terms' postings with a few vectorised numpy calls and one bincount per measure: the BM25
    scores and the coverage measures of every entry and phrasing come out of the same gather,
    with no Python loop over postings or over candidates."""

    def __init__(self, groups: list[list[Counter[str]]], idf: dict[str, float]):
        postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        offset = 0
        for docs in groups:  # BM25's length normalisation is per group (entries vs phrasings)
            lengths = [sum(d.values()) for d in docs]
            avg = (sum(lengths) / len(docs)) if docs else 1.0
            for i, doc in enumerate(docs):
                norm = K1 * (1 - B + B * lengths[i] / avg)
                for term, tf in doc.items():
                    ids, weights = postings[term]
                    ids.append(offset + i)
                    weights.append(idf[term] * tf * (K1 + 1) / (tf + norm))
            offset += len(docs)
        self.size = offset
        self.term_ids = {term: n for n, term in enumerate(postings)}
        self.lengths = np.array([len(ids) for ids, _ in postings.values()], dtype=np.int64)
        ids = np.array([i for ids, _ in postings.values() for i in ids], dtype=np.int64)
        weights = np.array([w for _, ws in postings.values() for w in ws], dtype=np.float64)
        bounds = np.concatenate(([0], np.cumsum(self.lengths)))
        # Each term's slice, as views on the two flat arrays: a query concatenates its terms' views.
        self.ids = [ids[a:b] for a, b in itertools.pairwise(bounds)]
        self.weights = [weights[a:b] for a, b in itertools.pairwise(bounds)]

    def gather(self, terms: list[int], per_term: np.ndarray) -> list[np.ndarray]:
        """Rows of per-term values in, rows of per-document sums out: the first row's values are
        multiplied by each posting's BM25 weight (the scores), the others count as they are (the
        coverage measures: a term's mass wherever the term occurs)."""
        if not terms:
            return [np.zeros(self.size) for _ in per_term]
        ids = np.concatenate([self.ids[t] for t in terms])
        values = np.repeat(per_term, self.lengths[terms], axis=1)
        values[0] *= np.concatenate([self.weights[t] for t in terms])
        return [np.bincount(ids, weights=row, minlength=self.size) for row in values]


class FaqIndex:
    def __init__(self, entries: list[Entry], analyzer: Analyzer):
        self.entries = entries
        self.analyzer = analyzer
        entry_docs: list[Counter[str]] = []
        phrase_docs: list[Counter[str]] = []
        starts: list[int] = []
        self.compounds: set[str] = set()

        def features(text: str) -> Counter[str]:
            feats, runs = analyzer.analysis(text)
            self.compounds.update(_sub_runs(runs))
            return feats

        for entry in entries:
            doc: Counter[str] = Counter()
            starts.append(len(phrase_docs))
            for question in entry.questions:
                feats = features(question)
                phrase_docs.append(feats)
                doc.update(feats)
            for tag in entry.tags:
                doc.update({k: v * TAG_WEIGHT for k, v in features(tag).items()})
            doc.update({k: v * ANSWER_WEIGHT for k, v in features(entry.answer).items()})
            doc.update({k: v * SUMMARY_WEIGHT for k, v in features(entry.summary_en).items()})
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
        vocabulary = [t[2:] for t in self.idf if t.startswith("w:")]
        self.kana = KanaSpellings(analyzer, [*vocabulary, *analyzer.synonyms.canonical])
        self._postings = _Postings([entry_docs, phrase_docs], self.idf)

    def query(self, text: str, situation: str = "") -> LexicalQuery | None:
        """Scores and coverage of every entry for `text` (None when the text has no usable word).

        `situation`, the sentences told before or around the ask, counts at SITUATION_WEIGHT: it
        narrows the topic, but its words should neither outweigh the ask nor dilute its coverage."""
        asked, runs = self.analyzer.analysis(self.kana.rewrite(text))
        if not asked:  # the ask has no usable word (「どうですか?」): the situation is the question
            (asked, runs), situation = self.analyzer.analysis(self.kana.rewrite(situation)), ""
        if not asked:
            return None
        told, told_runs = self.analyzer.analysis(self.kana.rewrite(situation)) if situation else (Counter(), [])
        # A name nobody knows is unexplained wherever it is told: 「総務省の○○派遣制度を使いたいのですが、
        # 申請方法は?」 names it in the background clause (a self-introduction's 産業振興課 is left out
        # by unknown_names itself: it is a stated situation).
        unknown = self.unknown_runs(runs + told_runs)
        for run in unknown:
            # Once: a subsidy's name (IT導入補助金) may already be a word of its own (text._FUND_NAME).
            name = "".join(run.words)
            asked[f"w:{name}"] = max(asked[f"w:{name}"], UNKNOWN_NAME_WEIGHT)
        # What names an unknown subsidy or exam (IT導入 of IT導入補助金): the engine judges whether it is ours.
        schemes = tuple("".join(run.words[:-1]) for run in unknown
                        if len(run.words) > 1 and _SCHEME_HEAD.search(run.words[-1]))
        query = asked.copy()
        if situation:
            for term, weight in told.items():
                query[term] += SITUATION_WEIGHT * weight
        # Coverage is measured twice, and the better reading counts: against the whole question
        # (situation words at their weight) and against what is asked alone. The situation's words
        # (a town, a department, 「町長に説明するため」) steer the ranking but need not be in the
        # answer, so a long question does not lose confidence for its length; and when the ask is
        # only 「要点を教えていただけますか」, the whole question carries the topic.
        views = [self._mass(query)] + ([self._mass(asked)] if situation else [])
        term_ids = self._postings.term_ids
        known = [t for t in query if t in term_ids]
        rows = [[query[t] for t in known]]
        for mass in views:
            rows += [[mass.get(t, 0.0) for t in known], [mass.get(t, 0.0) if t[0] == "w" else 0.0 for t in known]]
        per_term = np.array(rows).reshape(len(rows), len(known))
        scores, *found = self._postings.gather([term_ids[t] for t in known], per_term)
        n = len(self.entries)
        # Best phrasing per entry: phrasings of one entry are contiguous, so a reduceat does it.
        best = np.maximum.reduceat(scores[n:], self.phrase_starts) if n else np.zeros(0)
        combined = PHRASE_SHARE * best + (1 - PHRASE_SHARE) * scores[:n]
        readings = [_Coverage(mass, found[2 * k], found[2 * k + 1], self.idf) for k, mass in enumerate(views)]
        return LexicalQuery(self, views[0], combined, scores[n:], readings, schemes)

    def _mass(self, features: Counter[str]) -> dict[str, float]:
        """Each term's idf mass: its weight times its idf (an unseen term's as the rarest known one)."""
        return {t: w * self.idf.get(t, self.unseen_idf) for t, w in features.items()}

    def unknown_names(self, runs: list[Compound]) -> list[str]:
        return ["".join(run.words) for run in self.unknown_runs(runs)]

    def unknown_runs(self, runs: list[Compound]) -> list[Compound]:
        """The question's compound nouns that look like a name (see _name_like) and that no entry's
        text contains: not as a run of words in a row, nor as one word. Its words may all be known
        (IT導入補助金: 導入, 補助金), but the thing it names is not. Compounds of sentences that state the
        asker's situation are left out (産業振興課, 事業承継)."""
        return [run for run in runs
                if not run.stated and len(name := "".join(run.words)) >= MIN_COMPOUND_CHARS and _name_like(run)
                and name not in self.compounds and f"w:{name}" not in self.idf]


# The last word of a public program's or a qualification's name: what kind of thing it names.
_PROGRAM_HEAD = re.compile(r"(?:制度|事業|補助金|交付金|助成金|給付金|試験|資格|検定|認定|認証|手当|賞)$")
_SCHEME_HEAD = re.compile(r"(?:補助金|交付金|助成金|給付金|試験|検定)$")  # a scheme one applies to or sits
_LATIN = re.compile(r"[0-9a-z]")
_KANA = re.compile(r"[\u30a1-\u30fc]")
_KANJI = re.compile(r"[\u4e00-\u9fff]")


class _Coverage:
    """How much of one reading of the question (its terms with their idf mass) each entry and
    phrasing holds."""

    def __init__(self, mass: dict[str, float], found: np.ndarray, found_words: np.ndarray, idf: dict[str, float]):
        self.found = found  # the reading's idf mass present in each entry, then in each phrasing
        self.found_words = found_words  # the same, whole words only
        self.total = sum(mass.values()) or 1.0
        # Whole words tell "asked about something we do not cover" (天気, 確定申告) better than
        # reading bigrams, which match bits of almost anything.
        word_mass = {t: m for t, m in mass.items() if t.startswith("w:")}
        self.word_total = sum(word_mass.values()) or 1.0
        self.unknown = sum(m for t, m in word_mass.items() if t not in idf) / self.word_total


def _name_like(run: Compound) -> bool:
    """Whether a compound looks like the name of a program, system or product rather than an
    everyday phrase (事業承継, 更新手続き, which users coin freely): Latin letters or digits beside
    Japanese (ITパスポート, DX銘柄2024), katakana beside kanji (地方創生テレワーク), three nouns and more
    (基本情報技術者試験), or a program's kind of name (…派遣制度)."""
    name = "".join(run.words)
    scripts = bool(_LATIN.search(name)) + bool(_KANA.search(name)) + bool(_KANJI.search(name))
    return scripts > 1 or len(run.words) > 2 or bool(_PROGRAM_HEAD.search(run.words[-1]))


def _sub_runs(runs: list[Compound]) -> set[str]:
    """Every stretch of two or more adjacent words of each run, joined (地域DX推進ラボ yields DX推進ラボ)."""
    return {"".join(w[i:j]) for w in (run.words for run in runs)
            for i in range(len(w) - 1) for j in range(i + 2, len(w) + 1)}


class LexicalQuery:
    """One question's lexical scores over all entries; `hit(i)` reads off the coverage measures."""

    def __init__(self, index: FaqIndex, mass: dict[str, float], combined: np.ndarray, phrase_scores: np.ndarray,
                 readings: list[_Coverage], schemes: tuple[str, ...] = ()):
        self.index = index
        self.mass = mass  # every term of the question with its idf mass
        self.combined = combined
        self.phrase_scores = phrase_scores
        self._readings = readings
        self.unknown = min(r.unknown for r in readings)
        self.schemes = schemes  # what names each unknown subsidy or exam of the question (see FaqIndex.query)

    def hit(self, i: int, score: float | None = None) -> Hit:
        index = self.index
        start, stop = index.phrase_starts[i], index.phrase_stops[i]
        p = len(index.entries) + start + int(np.argmax(self.phrase_scores[start:stop]))
        coverage = max(float(r.found[i]) / r.total for r in self._readings)
        phrase_cov = max(float(r.found[p]) / r.total for r in self._readings)
        word_cov = max(float(r.found_words[i]) / r.word_total for r in self._readings)
        value = float(self.combined[i]) if score is None else score
        return Hit(index.entries[i], value, coverage, phrase_cov, word_cov, self.unknown)
