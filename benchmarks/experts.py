"""A generated expert directory (seeded, fictional) for the matching tests and benchmark."""

from __future__ import annotations

import datetime as dt
import random

from handlers.consult.matching import Need
from handlers.directory.model import Expert, ExpertProfile, Person
from knowledge.vocabulary import vocabulary

ABSENT = (dt.date(2026, 11, 1), dt.date(2026, 12, 31))  # the window the "absent" experts are away in


def generate_experts(n: int, rng: random.Random, orgs: int = 300) -> list[Expert]:
    v = vocabulary()
    prefectures, regions = list(v.prefectures), list(v.regions)
    topics, industries = sorted(v.topics), sorted(v.industries)
    experts = []
    for i in range(n):
        pid = f"ex-{i:05d}"
        coverage = rng.random()
        national = coverage < 0.1
        profile = ExpertProfile(
            person=pid, kind=rng.choice(["ITコーディネータ", "メンター", "公設試", "よろず支援拠点"]),
            prefectures=tuple(rng.sample(prefectures, rng.randint(1, 3))) if coverage >= 0.4 else (),
            regions=tuple(rng.sample(regions, 1)) if 0.1 <= coverage < 0.6 else (), national=national,
            industries=tuple(rng.sample(industries, rng.randint(1, 3))),
            topics=tuple(rng.sample(topics, rng.randint(1, 4))), capacity=rng.randint(1, 5),
            absent_from=ABSENT[0] if rng.random() < 0.05 else None,
            absent_until=ABSENT[1] if rng.random() < 0.05 else None,
            substitute=f"ex-{rng.randrange(n):05d}" if rng.random() < 0.5 else None,
            excluded_orgs=tuple(f"組織{rng.randrange(orgs)}" for _ in range(rng.randint(0, 3))))
        experts.append(Expert(Person(pid, f"見本 {i}", org=f"組織{rng.randrange(orgs)}"), profile))
    return experts


def generate_needs(n: int, rng: random.Random, orgs: int = 300) -> list[Need]:
    v = vocabulary()
    prefectures, topics, industries = list(v.prefectures), sorted(v.topics), sorted(v.industries)
    return [Need(rng.choice([*topics, ""]), rng.choice([*prefectures, ""]), rng.choice([*industries, ""]),
                 f"組織{rng.randrange(orgs)}") for _ in range(n)]
