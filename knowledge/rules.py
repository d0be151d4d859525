"""Ranking rules that know the knowledge base's own kinds, and what a question is made of.

- A rule or fact beats an opinion of the study meeting, unless the question asks what the
  meeting or its members said.
- An entry about another program (DX認定, DXセレクション, … in programs.yaml) does not answer a
  question that does not name that program.
- A question about "the next / the current" deadline or round never gets a closed round's dates
  (rounds.yaml) as if they were current.
- A question that names a round (第二弾) is answered by an entry about that round before one about
  no round in particular, and never by one about another round only.

Each rule is a factor on an entry's ranking score (1.0: the rule has nothing to say).

Courtesy: municipal staff write 「お世話になっております。○○市企画課の田中です。…」 before the
question. Sentences that are only greeting, self-introduction or thanks carry no topic, so
`split_focus()` drops them before retrieval; a situation (「人口3万人の市です」) stays, read apart from the ask.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from knowledge.schema import Entry
from knowledge.text import Analyzer, normalize, rounds

OPINION_FACTOR = 0.55
OTHER_PROGRAM_FACTOR = 0.35  # the question is about the lab (its words) and names no other program
UNNAMED_PROGRAM_FACTOR = 0.8  # the question names no program at all (it may describe one)
CLOSED_ROUND_FACTOR = 0.3
OTHER_ROUND_FACTOR = 0.4  # the question names a round, the entry names only others (chosen on the dev sets)
NO_ROUND_FACTOR = 0.7  # the question names a round, the entry names none
FACTOR_CACHE = 256  # trait combinations kept (a handful occur in practice)

_ASKS_MEETING = re.compile(
    r"検討会|検討され|検討中|委員|意見|議論|提案|議事|会議|会合|発言|指摘|有識者|"
    r"meeting|committee|member|discuss|opinion|propos")
_ABOUT_LAB = re.compile(r"ラボ|選定|公募|応募|申請|弾|lab|apply|applica|select")
_ASKS_CURRENT = re.compile(
    r"次|今度|今回|現在|今の|最新|直近|今年|今から|これから|今後|いま|next|current|upcom|latest|now")
_ABOUT_ROUND = re.compile(r"締切|締め切|〆切|期限|期日|公募|募集|弾|受付|申請|応募|deadline|round|call|appl")

# Sentences that are only courtesy: greetings, self-introductions, thanks, closing formulas.
# An English sentence ends with a full stop and a space ("3.0" is not an end).
_SENTENCE = re.compile(r"(?:[^。!?!?\n.]|\.(?!\s))+[。!?!?\n.]*")
_COURTESY = re.compile(
    r"お世話にな[っり]|はじめまして|初めまして|突然の|失礼いた|恐れ入り|恐縮|と申します|"
    r"^(?:私は)?.{0,30}(?:の者|担当者?)です|"
    r"^.{0,40}(?:市|町|村|区|県|都|府|道|課|部|局|室|係|社|銀行|金庫|大学)の.{1,10}(?:です|でございます)[。.!]?$|"
    # Who is writing, not what is asked: 「…を担当している者です」「…に勤務しております」.
    r"^.{0,50}(?:者|もの)(?:です|でございます)[。.!]?$|"
    r"^.{0,50}(?:担当|勤務|所属|在籍|従事)(?:して|いたして)?(?:おります|います|ます|です|でございます)[。.!]?$|"
    r"よろしくお願い|ありがとうございま|お忙しいところ|ご多忙|度々|たびたび|お疲れ様|幸いです|"
    r"^hello\b|^hi\b|^dear\b|^thank|regards|^i am .{0,40} (?:from|at|of) |^my name is|"
    r"^good (?:morning|afternoon|evening)\b|^(?:i|we)(?: work| am| are|'m)\b.{0,60}\b(?:at|for|in|of|from)\b",
    re.IGNORECASE)
# A sentence that asks something is kept even when it is polite (「恐れ入りますが、締切はいつですか?」).
_ASKS = re.compile(r"[??]|ますか|ですか|でしょうか|教えて|知りたい|what|when|who|how|can |is there|whether|could you|"
                   r"would you|do you|tell me")


_BACKGROUND_CLAUSE = re.compile(r"(?:ます|です|した|でした)が[、,]|ので[、,]|ため[、,]|けど[、,]|けれども[、,]|"
                                r"ところ[、,]")
_ASKS_DIRECTLY = re.compile(r"[??]|ますか|ですか|でしょうか|のか|what|when|who|how|can |is there|whether|do you")
_MARKUP = re.compile(r"<[^>]*>|&[a-z]+;|&#\d+;")


def focus(text: str) -> str:
    """The question without markup and courtesy sentences (the whole text if nothing is left)."""
    asked, situation = split_focus(text)
    return " ".join(p for p in (situation, asked) if p) if situation else asked


def split_focus(text: str) -> tuple[str, str]:
    """(the sentences that ask, the situation told around them), courtesy and markup dropped.

    When no sentence asks, or every sentence does, all of it is the ask and there is no situation."""
    sentences = [s.strip() for s in _SENTENCE.findall(_MARKUP.sub(" ", normalize(text))) if s.strip()]
    kept = [s for s in sentences if _ASKS.search(s) or not _COURTESY.search(s)]
    if not kept:
        return text, ""
    asks = [s for s in kept if _ASKS.search(s)]
    # 「…ため、詳しく教えてください」 after the real question only asks for detail: a sentence that
    # asks by request alone is part of the situation when another one asks with a question form.
    direct = [s for s in asks if _ASKS_DIRECTLY.search(s)]
    asks = list(direct or asks)
    asking = set(asks)
    # Within a sentence, a clause ending 「…ですが、」「…ので、」「…ため、」 tells the background and
    # the main clause after it asks (「電話で確認したいと考えておりますが、どちらの課が担当ですか」).
    background = []
    for n, sentence in enumerate(asks):
        ends = [m.end() for m in _BACKGROUND_CLAUSE.finditer(sentence) if _ASKS.search(sentence[m.end():])]
        if ends:
            background.append(sentence[: ends[-1]])
            asks[n] = sentence[ends[-1]:].strip()
    situation = [s for s in kept if s not in asking] + background
    return " ".join(asks), " ".join(situation)


@dataclass(frozen=True)
class Traits:
    """What the ranking rules need to know about a question."""

    asks_meeting: bool
    asks_current_round: bool
    about_lab: bool
    programs: frozenset[int]  # indices into programs.yaml that the question names
    rounds: frozenset[str] = frozenset()  # the rounds the question names (第二弾)


@cache
def _programs(root: Path | None) -> tuple[tuple[str, ...], ...]:
    path = (root / "programs.yaml") if root else None
    if path is None or not path.is_file():
        path = Path(str(resources.files("knowledge").joinpath("programs.yaml")))
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return tuple(tuple(normalize(n) for n in p["names"]) for p in data.get("programs", []))


class KindRules:
    """The rules above, prepared once for a knowledge base."""

    def __init__(self, entries: list[Entry], analyzer: Analyzer, root: Path | None = None):
        self.synonyms = analyzer.synonyms
        self.analyzer = analyzer
        self.programs = _programs(root)
        self._spelled = tuple(tuple(n.replace(" ", "") for n in names) for names in self.programs)
        # A program written by sound (ｺｳｾﾂｼ, こうせつし) is named too: its reading is matched.
        self._readings = tuple(tuple(frozenset(f"r:{r[i:i + 2]}" for i in range(len(r) - 1))
                                     for r in (analyzer.reading(n) for n in names) if len(r) >= 4)
                               for names in self.programs)
        known = rounds()
        self._round_names = (*known.names.values(), known.later)
        opinion, other, closed, entry_rounds = [], [], [], []
        for entry in entries:
            text = self._text(" ".join((*entry.tags, *entry.questions[:1])))
            named = self._named(text)
            opinion.append(entry.kind == "opinion")
            other.append(named if entry.kind == "related" else frozenset())
            closed.append(any(name in text for name in known.closed))
            entry_rounds.append(frozenset(name for name in self._round_names if name in text))
        self._entry_rounds = entry_rounds
        self._names_a_round = np.array([bool(r) for r in entry_rounds])
        self._opinion = np.array(opinion)
        # Entries about another program, and which programs each names (one row each).
        self._other = np.array([i for i, programs in enumerate(other) if programs], dtype=np.intp)
        self._other_names = np.zeros((len(self._other), len(self.programs)), dtype=bool)
        for row, i in enumerate(self._other):
            self._other_names[row, list(other[i])] = True
        self._closed = np.array(closed)
        self._factors: dict[Traits, np.ndarray] = {}

    def _text(self, text: str) -> str:
        return self.synonyms.apply(normalize(text)).replace(" ", "")

    def _named(self, text: str) -> frozenset[int]:
        return frozenset(i for i, names in enumerate(self._spelled) if any(n in text for n in names))

    def ours(self, name: str) -> bool:
        """Whether a name speaks of the lab or of a program the base covers (ラボ, AKATSUKI)."""
        text = self._text(name)
        return bool(self._named(text) or _ABOUT_LAB.search(text))

    def traits(self, question: str, terms: AbstractSet[str] = frozenset()) -> Traits:
        """`terms`: the question's lexical terms as the index found them (its `r:` reading bigrams
        tell a program written by sound)."""
        text = self._text(question)
        asked_rounds = frozenset(name for name in self._round_names if name in text)
        by_sound = frozenset(i for i, readings in enumerate(self._readings)
                             if any(terms >= r for r in readings))
        return Traits(
            asks_meeting=bool(_ASKS_MEETING.search(text)),
            asks_current_round=bool(_ASKS_CURRENT.search(text) and _ABOUT_ROUND.search(text)) and not asked_rounds,
            programs=self._named(text) | by_sound,
            about_lab=bool(_ABOUT_LAB.search(text)),
            rounds=asked_rounds,
        )

    def factors(self, traits: Traits) -> np.ndarray:
        """Each entry's weight for a question of these traits (read-only: the same few combinations
        come up again and again, so each is worked out once)."""
        cached = self._factors.get(traits)
        if cached is None:
            if len(self._factors) >= FACTOR_CACHE:
                self._factors.clear()
            cached = self._factors[traits] = self._compute_factors(traits)
            cached.setflags(write=False)
        return cached

    def _compute_factors(self, traits: Traits) -> np.ndarray:
        out = np.ones(len(self._opinion))
        if not traits.asks_meeting:
            out[self._opinion] *= OPINION_FACTOR
        unnamed = OTHER_PROGRAM_FACTOR if traits.about_lab or traits.programs else UNNAMED_PROGRAM_FACTOR
        named = self._other_names[:, sorted(traits.programs)].any(axis=1)
        out[self._other[~named]] *= unnamed
        if traits.asks_current_round:
            out[self._closed] *= CLOSED_ROUND_FACTOR
        if traits.rounds:
            # A question about 第二弾 is answered by an entry about 第二弾: one about another round
            # only is wrong, and one about no round in particular is second best.
            matches = np.array([bool(r & traits.rounds) for r in self._entry_rounds])
            out[self._names_a_round & ~matches] *= OTHER_ROUND_FACTOR
            out[~self._names_a_round] *= NO_ROUND_FACTOR
        return out
