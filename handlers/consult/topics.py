"""The topic of a consultation, inferred from its words: the shared vocabulary's topics and their cue words
(handlers/consult/topic_cues.yaml), the longest evidence wins."""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources

import yaml

from knowledge.vocabulary import vocabulary


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


@cache
def _cues() -> tuple[tuple[str, str], ...]:
    """(folded cue, topic), longest cue first."""
    raw = yaml.safe_load(resources.files(__package__).joinpath("topic_cues.yaml").read_text(encoding="utf-8"))
    known = vocabulary().topics
    pairs = {(fold(topic), topic) for topic in known}
    for topic, words in (raw or {}).items():
        if topic not in known:
            raise ValueError(f"topic_cues.yaml: {topic!r} is not a topic of knowledge/vocabulary.yaml")
        pairs |= {(fold(str(w)), topic) for w in words}
    return tuple(sorted(pairs, key=lambda p: (-len(p[0]), p[0])))


def infer_topic(text: str) -> str:
    """The vocabulary topic the text is most about, or "" when no cue is in it."""
    folded = fold(text)
    weight: dict[str, int] = {}
    for cue, topic in _cues():
        if cue in folded:
            weight[topic] = weight.get(topic, 0) + len(cue)
            folded = folded.replace(cue, " ")  # a longer cue's words do not count again for a shorter one
    if not weight:
        return ""
    return max(sorted(weight), key=lambda t: weight[t])


def infer_prefecture(text: str) -> str:
    """A prefecture named in the text (「長野県の製造業です」), or ""."""
    for prefecture in vocabulary().prefectures:
        if prefecture in text or (len(prefecture) > 2 and prefecture[:-1] in text and prefecture != "北海道"):
            return prefecture
    return ""


def infer_industry(text: str) -> str:
    folded = fold(text)
    for industry in sorted(vocabulary().industries, key=len, reverse=True):
        head = fold(industry).split("・")[0].removesuffix("業")
        if fold(industry) in folded or (len(head) >= 2 and head in folded):
            return industry
    return ""
