"""Matching at scale: 1,000 cases over 10,000 experts (index built once, then ms per case).
Exits 1 when a target is missed.

    python -m benchmarks.bench_match
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import sys
import time

from benchmarks.experts import generate_experts, generate_needs
from handlers.consult.matching import ExpertIndex

EXPERTS, CASES = 10_000, 1_000
BUILD_TARGET_MS, MEAN_TARGET_MS, P95_TARGET_MS = 2_000.0, 10.0, 25.0


def main() -> int:
    rng = random.Random(20261202)
    experts = generate_experts(EXPERTS, rng)
    needs = generate_needs(CASES, rng)
    open_counts = {e.person.id: rng.randint(0, 3) for e in experts}
    today = dt.date(2026, 12, 2)
    started = time.perf_counter()
    index = ExpertIndex(experts)
    build_ms = (time.perf_counter() - started) * 1000
    times, offered = [], 0
    for need in needs:
        t0 = time.perf_counter()
        found = index.rank(need, open_counts, today)
        times.append((time.perf_counter() - t0) * 1000)
        offered += bool(found)
    mean, p95 = statistics.fmean(times), statistics.quantiles(times, n=20)[-1]
    print(f"matching {CASES} cases over {EXPERTS} experts: index built in {build_ms:.0f} ms; "
          f"{mean:.2f} ms per case (p95 {p95:.2f} ms, max {max(times):.2f} ms); {offered} cases with a candidate")
    print(f"targets: build <= {BUILD_TARGET_MS:.0f} ms, mean <= {MEAN_TARGET_MS} ms, p95 <= {P95_TARGET_MS} ms")
    missed = build_ms > BUILD_TARGET_MS or mean > MEAN_TARGET_MS or p95 > P95_TARGET_MS
    if missed:
        print("target missed", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
