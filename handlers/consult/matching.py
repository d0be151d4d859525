"""Who should take a case: a score over topic fit, nearness (same prefecture > same region block >
national), industry and free capacity. An expert with no fit at all is never a candidate, nor a full one.
An absent expert is replaced by their substitute; an expert whose `excluded_orgs` holds the requester's
organisation (or who works there) is never offered. Pure functions: an ExpertIndex is built once from the
directory's experts and answers many cases."""

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
        self.by_industry: dict[str, set[str]] = defaultdict(set)
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
            for industry in e.profile.industries:
                self.by_industry[industry].add(pid)
            if e.profile.national:
                self.national.add(pid)

    def points(self, need: Need) -> dict[str, float]:
        """Topic, area and industry points of every expert with some fit (the only possible candidates),
        summed over the index's sets rather than expert by expert."""
        region = vocabulary().region_of(need.prefecture) if need.prefecture else None
        area: dict[str, float] = dict.fromkeys(self.national, NATIONAL)
        if region:
            area.update(dict.fromkeys(self.by_region.get(region, ()), SAME_REGION))
        if need.prefecture:
            area.update(dict.fromkeys(self.by_prefecture.get(need.prefecture, ()), SAME_PREFECTURE))
        points = area
        for ids, weight in ((self.by_industry.get(need.industry, ()), INDUSTRY),
                            (self.by_topic.get(need.topic, ()), TOPIC)):
            for pid in ids:
                points[pid] = points.get(pid, 0.0) + weight
        return points

    def rank(self, need: Need, open_counts: Mapping[str, int], today: dt.date, exclude: Iterable[str] = (),
             limit: int = TOP) -> list[Candidate]:
        """The best `limit` candidates, best first, each with its reason. Experts are taken in order of their
        fit points; as free capacity adds at most LOAD, the search stops when no one further down can win.
        The words of the reason are built for the winners only."""
        skip = set(exclude)
        buckets: dict[float, list[str]] = defaultdict(list)
        for pid, pts in self.points(need).items():
            buckets[pts].append(pid)
        best: dict[str, tuple[float, str, str | None]] = {}  # person → (−score, person, absent expert)
        for pts in sorted(buckets, reverse=True):
            if len(best) >= limit and -sorted(best.values(), key=_order)[limit - 1][0] > pts + LOAD:
                break
            for pid in buckets[pts]:
                if pid in skip:
                    continue
                found = self._score(pid, pts, need, open_counts, today, skip)
                if found is not None and (found[1] not in best or found[0] < best[found[1]][0]):
                    best[found[1]] = found
        return [self._candidate(-score, person, absent, need, open_counts)
                for score, person, absent in sorted(best.values(), key=_order)[:limit]]

    def _score(self, pid: str, points: float, need: Need, open_counts: Mapping[str, int], today: dt.date,
               skip: set[str]) -> tuple[float, str, str | None] | None:
        """(−score, who is offered, the absent expert they stand in for) or None."""
        expert = self.by_id[pid]
        if conflicted(expert, need.org):
            return None
        if expert.profile.absent_on(today):
            sub = self.by_id.get(expert.profile.substitute or "")
            if sub is None or sub.person.id in skip or sub.profile.absent_on(today) or conflicted(sub, need.org):
                return None
            load = _load(sub, open_counts)
            return None if load is None else (-round(points + load, 2), sub.person.id, pid)
        load = _load(expert, open_counts)
        return None if load is None else (-round(points + load, 2), pid, None)

    def _candidate(self, score: float, person: str, absent: str | None, need: Need,
                   open_counts: Mapping[str, int]) -> Candidate:
        if absent is not None:
            _, parts = fit(self.by_id[absent], need)
            reason = t("consult.reason.substitute", name=self.by_id[absent].person.name, reason="・".join(parts) or "-")
            return Candidate(person, score, reason, substitute_for=absent)
        expert = self.by_id[person]
        _, parts = fit(expert, need)
        parts.append(t("consult.reason.load", open=open_counts.get(person, 0), capacity=expert.profile.capacity))
        return Candidate(person, score, "・".join(parts))


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


def _order(found: tuple[float, str, str | None]) -> tuple[float, str]:
    return found[0], found[1]


def _load(expert: Expert, open_counts: Mapping[str, int]) -> float | None:
    """Points for free capacity; None when the expert is full."""
    capacity = max(expert.profile.capacity, 0)
    open_now = open_counts.get(expert.person.id, 0)
    if open_now >= capacity:
        return None
    return LOAD * (1 - open_now / capacity)
