"""Who should take a case: a score over topic fit, nearness (same prefecture > same region block >
national), industry and free capacity. An absent expert is replaced by their substitute; an expert whose
`excluded_orgs` holds the requester's organisation (or who works there) is never offered. Pure functions:
an ExpertIndex is built once from the directory's experts and answers many cases."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from handlers.consult.model import Candidate
from handlers.directory.model import Expert
from handlers.i18n import t
from knowledge.vocabulary import vocabulary

TOPIC, SAME_PREFECTURE, SAME_REGION, NATIONAL, INDUSTRY, LOAD = 40.0, 30.0, 20.0, 10.0, 15.0, 15.0
TOP = 3


@dataclass(frozen=True)
class Need:
    topic: str = ""
    prefecture: str = ""
    industry: str = ""
    org: str = ""


def conflicted(expert: Expert, org: str) -> bool:
    return bool(org) and (org in expert.profile.excluded_orgs or expert.person.org == org)


class ExpertIndex:
    """The experts by topic and by area, so a case scores only those that fit it at all."""

    def __init__(self, experts: Iterable[Expert]):
        self.by_id: dict[str, Expert] = {}
        self.by_topic: dict[str, set[str]] = defaultdict(set)
        self.by_prefecture: dict[str, set[str]] = defaultdict(set)
        self.by_region: dict[str, set[str]] = defaultdict(set)
        self.national: set[str] = set()
        for e in experts:
            pid = e.person.id
            self.by_id[pid] = e
            for topic in e.profile.topics:
                self.by_topic[topic].add(pid)
            for prefecture in e.profile.prefectures:
                self.by_prefecture[prefecture].add(pid)
            for region in e.profile.regions:
                self.by_region[region].add(pid)
            if e.profile.national:
                self.national.add(pid)

    def pool(self, need: Need) -> set[str]:
        region = vocabulary().region_of(need.prefecture) if need.prefecture else None
        found = set(self.by_topic.get(need.topic, ()))
        if need.prefecture:
            found |= self.by_prefecture.get(need.prefecture, set()) | self.by_region.get(region or "", set())
        found |= self.national
        return found or set(self.by_id)

    def rank(self, need: Need, open_counts: Mapping[str, int], today: dt.date, exclude: Iterable[str] = (),
             limit: int = TOP) -> list[Candidate]:
        """The best `limit` candidates, best first, each with its reason."""
        skip = set(exclude)
        scored: list[Candidate] = []
        for pid in self.pool(need):
            if pid in skip:
                continue
            found = self._candidate(pid, need, open_counts, today, skip)
            if found is not None:
                scored.append(found)
        scored.sort(key=lambda c: (-c.score, c.person))
        out: list[Candidate] = []
        for c in scored:  # a substitute may stand in for two absent experts: offer them once
            if all(c.person != o.person for o in out):
                out.append(c)
            if len(out) == limit:
                break
        return out

    def _candidate(self, pid: str, need: Need, open_counts: Mapping[str, int], today: dt.date,
                   skip: set[str]) -> Candidate | None:
        expert = self.by_id[pid]
        if conflicted(expert, need.org):
            return None
        score, parts = fit(expert, need)
        if expert.profile.absent_on(today):
            sub = self.by_id.get(expert.profile.substitute or "")
            if sub is None or sub.person.id in skip or sub.profile.absent_on(today) or conflicted(sub, need.org):
                return None
            load = _load(sub, open_counts)
            if load is None:
                return None
            reason = t("consult.reason.substitute", name=expert.person.name, reason="・".join(parts) or "-")
            return Candidate(sub.person.id, round(score + load, 2), reason, substitute_for=pid)
        load = _load(expert, open_counts)
        if load is None:
            return None
        open_now = open_counts.get(pid, 0)
        parts.append(t("consult.reason.load", open=open_now, capacity=expert.profile.capacity))
        return Candidate(pid, round(score + load, 2), "・".join(parts))


def fit(expert: Expert, need: Need) -> tuple[float, list[str]]:
    """Topic, area and industry points, with the words that explain them."""
    p = expert.profile
    score, parts = 0.0, []
    region = vocabulary().region_of(need.prefecture) if need.prefecture else None
    if need.prefecture and need.prefecture in p.prefectures:
        score += SAME_PREFECTURE
        parts.append(t("consult.reason.same_prefecture", prefecture=need.prefecture))
    elif region and region in p.regions:
        score += SAME_REGION
        parts.append(t("consult.reason.same_region", region=region))
    elif p.national:
        score += NATIONAL
        parts.append(t("consult.reason.national"))
    if need.industry and need.industry in p.industries:
        score += INDUSTRY
        parts.append(need.industry)
    if need.topic and need.topic in p.topics:
        score += TOPIC
        parts.append(need.topic)
    return score, parts


def _load(expert: Expert, open_counts: Mapping[str, int]) -> float | None:
    """Points for free capacity; None when the expert is full."""
    capacity = max(expert.profile.capacity, 0)
    open_now = open_counts.get(expert.person.id, 0)
    if open_now >= capacity:
        return None
    return LOAD * (1 - open_now / capacity)
