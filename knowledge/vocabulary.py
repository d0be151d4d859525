"""The shared vocabulary (knowledge/vocabulary.yaml): prefecture → region block, topics, industries.

Data, not code: the directory validates against it and the knowledge base's tags use the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class Vocabulary:
    regions: dict[str, tuple[str, ...]]  # region block → its prefectures, in the file's order
    topics: frozenset[str]
    industries: frozenset[str]

    @property
    def prefectures(self) -> tuple[str, ...]:
        return tuple(p for prefs in self.regions.values() for p in prefs)

    def region_of(self, prefecture: str) -> str | None:
        for region, prefs in self.regions.items():
            if prefecture in prefs:
                return region
        return None


@cache
def vocabulary() -> Vocabulary:
    text = resources.files(__package__).joinpath("vocabulary.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return Vocabulary(
        regions={str(k): tuple(str(p) for p in v) for k, v in data["regions"].items()},
        topics=frozenset(str(x) for x in data["topics"]),
        industries=frozenset(str(x) for x in data["industries"]),
    )
