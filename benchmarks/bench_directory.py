"""Directory at scale: import 800 labs + 5,000 people + 1,000 experts (seconds), then "experts for topic T
in prefecture P" (p95 ms). Exits 1 when a target is missed.

    python -m benchmarks.bench_directory [--url sqlite:///…|postgresql://…]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bot.db.session import Database
from bot.db.uow import UnitsOfWork
from bot.directory.service import import_files
from knowledge.vocabulary import vocabulary

LABS, PEOPLE, EXPERTS, QUERIES = 800, 5_000, 1_000, 300
IMPORT_TARGET_S, QUERY_P95_TARGET_MS = 30.0, 20.0


def directory_yaml(rng: random.Random) -> str:
    v = vocabulary()
    prefectures, regions, topics = list(v.prefectures), list(v.regions), sorted(v.topics)
    industries = sorted(v.industries)
    labs = [{"id": f"lab-{i:04d}", "name": f"見本ラボ{i}(デモ)", "prefecture": rng.choice(prefectures),
             "round": rng.randint(1, 6), "slack_channel": f"C{i:08d}"} for i in range(LABS)]
    people = []
    for i in range(PEOPLE):
        expert = i < EXPERTS
        role = "expert" if expert else rng.choice(["coordinator", "lead", "company", "company"])
        people.append({"id": f"p-{i:05d}", "name": f"見本 {i}", "org": f"見本組織{i % 700}(デモ)",
                       "prefecture": rng.choice(prefectures), "industry": rng.choice(industries),
                       "slack_user": f"U{i:08d}", "teams_user": f"aad-{i:08d}" if i % 2 else None,
                       "roles": [role], "labs": [] if expert else [f"lab-{rng.randrange(LABS):04d}"]})
    experts = [{"person": f"p-{i:05d}", "kind": "ITコーディネータ", "prefectures": rng.sample(prefectures, 2),
                "regions": rng.sample(regions, 1) if i % 3 == 0 else [], "national": i % 25 == 0,
                "industries": rng.sample(industries, 2), "topics": rng.sample(topics, 3), "capacity": 3}
               for i in range(EXPERTS)]
    return yaml.safe_dump({"labs": labs, "people": people, "experts": experts}, allow_unicode=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="", help="a database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    rng = random.Random(8)
    text = directory_yaml(rng)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(args.url or f"sqlite:///{Path(tmp) / 'bench.db'}")
        units = UnitsOfWork(db)
        start = time.perf_counter()
        plan = import_files(units, [("bench.yaml", text)], "bench")
        import_s = time.perf_counter() - start
        if plan.errors:
            print(f"import failed: {plan.errors[:3]}")
            return 1
        start = time.perf_counter()
        again = import_files(units, [("bench.yaml", text)], "bench").summary()
        reimport_s = time.perf_counter() - start
        v = vocabulary()
        timings, found = [], 0
        with units() as uow:
            for _ in range(QUERIES):
                topic, prefecture = rng.choice(sorted(v.topics)), rng.choice(v.prefectures)
                t0 = time.perf_counter()
                found += len(uow.directory.experts(topic, prefecture))
                timings.append((time.perf_counter() - t0) * 1000)
        db.dispose()
    p95 = statistics.quantiles(timings, n=20)[-1]
    print(f"import {LABS} labs + {PEOPLE} people + {EXPERTS} experts: {import_s:.2f} s (target ≤ {IMPORT_TARGET_S} s)")
    print(f"re-import (all unchanged: {again['unchanged']}): {reimport_s:.2f} s")
    print(f"experts for topic T in prefecture P: p50 {statistics.median(timings):.2f} ms, p95 {p95:.2f} ms "
          f"(target ≤ {QUERY_P95_TARGET_MS} ms), {found / QUERIES:.1f} experts per query")
    ok = import_s <= IMPORT_TARGET_S and p95 <= QUERY_P95_TARGET_MS and again["unchanged"] == LABS + PEOPLE + EXPERTS
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
