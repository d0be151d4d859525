"""`dxlab kb gaps`: questions the bot failed, grouped by similarity, most asked first."""

from __future__ import annotations

from dataclasses import dataclass, field

from knowledge.privacy import mask_personal
from knowledge.text import Analyzer

SAME_GROUP = 0.5  # Jaccard of content words above which two questions ask the same thing


@dataclass(frozen=True)
class Miss:
    question: str
    reason: str  # "declined" | "low_confidence" | "thumbs_down"
    entry_id: str | None


@dataclass
class Gap:
    representative: str
    words: frozenset[str]
    misses: list[Miss] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        reasons: dict[str, int] = {}
        for m in self.misses:
            reasons[m.reason] = reasons.get(m.reason, 0) + 1
        examples = list(dict.fromkeys(mask_personal(m.question) for m in self.misses))[:5]
        entries = sorted({m.entry_id for m in self.misses if m.entry_id})
        return {"count": len(self.misses), "question": mask_personal(self.representative), "examples": examples,
                "reasons": reasons, "entries_matched": entries}


def group_misses(misses: list[Miss], analyzer: Analyzer) -> list[Gap]:
    gaps: list[Gap] = []
    for miss in misses:
        words = frozenset(analyzer.words(miss.question))
        for gap in gaps:
            union = words | gap.words
            if union and len(words & gap.words) / len(union) >= SAME_GROUP:
                gap.misses.append(miss)
                break
        else:
            gaps.append(Gap(miss.question, words, [miss]))
    gaps.sort(key=lambda g: len(g.misses), reverse=True)
    return gaps
