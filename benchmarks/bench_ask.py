"""Answer speed, lexical-only and hybrid: per answer in process, and start-up plus 10 answers.

Targets (issues 2 and 13): per answer p99 ≤1 ms with the semantic retriever off and ≤50 ms with it
on; start-up plus 10 answers ≤3 s with it on; with question logging (`dxlab ask --jsonl`) never
above 5 ms an answer when off. Run: `python -m benchmarks.bench_ask` (or `make bench`); exits 1
when a target is missed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from knowledge.evaluate import load_cases
from knowledge.schema import bundled_dir, load_knowledge

STARTUP = """
import sys, time
start = float(sys.argv[1])
from handlers.faq import FaqService
from knowledge.live import LiveKnowledge
from knowledge.semantic import make_embedder
faq = FaqService(LiveKnowledge(embedder=make_embedder(sys.argv[2])))
for q in sys.argv[3:]:
    faq.ask(q)
print(time.time() - start)
"""


def questions(n: int) -> list[str]:
    """n questions, each different while the pool lasts: a repeated one would be served by the
    semantic retriever's cache of recent questions and flatter the figure."""
    pool = [c.question for c in load_cases([bundled_dir() / "eval" / "dev"])]
    pool += [q for e in load_knowledge().entries for q in e.questions]
    pool = list(dict.fromkeys(pool))
    return [pool[i % len(pool)] for i in range(n)]


def startup_and_ten(mode: str) -> float:
    """Seconds from launching a process to its tenth answer (knowledge, model and vectors loaded)."""
    out = subprocess.run([sys.executable, "-c", STARTUP, repr(time.time()), mode, *questions(10)],
                         capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
    return float(out.stdout.strip().splitlines()[-1])


def answer_latencies(mode: str, lines: list[str]) -> list[float]:
    from handlers.faq import FaqService
    from knowledge.live import LiveKnowledge
    from knowledge.semantic import make_embedder

    faq = FaqService(LiveKnowledge(embedder=make_embedder(mode)))
    out = []
    for q in lines:
        t = time.perf_counter()
        faq.ask(q)
        out.append(time.perf_counter() - t)
    return sorted(out)


def jsonl_with_logging(lines: list[str]) -> float:
    """Per answer through `dxlab ask --jsonl` (semantic off), question logging included."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DXLAB_")} | {"DXLAB_SEMANTIC": "off"}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bot", "ask", "--jsonl"], cwd=tmp, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdin and proc.stdout
        proc.stdin.write(("\n".join(lines) + "\n").encode())
        proc.stdin.close()
        arrivals = []
        for _ in lines:
            if not proc.stdout.readline():
                raise RuntimeError("dxlab ask --jsonl stopped early")
            arrivals.append(time.perf_counter() - start)
        proc.wait()
    return (arrivals[-1] - arrivals[0]) / (len(arrivals) - 1)


def _p(lat: list[float], q: float) -> float:
    return lat[min(len(lat) - 1, int(len(lat) * q))] * 1000


def main() -> int:
    missed = []
    print("bench_ask: answers")
    for mode, target, n in (("off", 1.0, 1000), ("local", 50.0, 300)):
        lat = answer_latencies(mode, questions(n))
        p99 = _p(lat, 0.99)
        ok = p99 <= target
        missed += [] if ok else [f"p99 semantic={mode}"]
        print(f"  semantic={mode:<5} per answer: mean {statistics.mean(lat) * 1000:.2f} ms, "
              f"p50 {_p(lat, 0.5):.2f} ms, p99 {p99:.2f} ms, max {lat[-1] * 1000:.2f} ms   "
              f"(target p99 ≤ {target:g} ms) {'ok' if ok else 'MISSED'}")
    for mode in ("local", "off"):
        seconds = startup_and_ten(mode)
        ok = seconds <= 3.0 or mode == "off"
        missed += [] if ok else [f"start-up semantic={mode}"]
        print(f"  semantic={mode:<5} start-up + 10 answers: {seconds:.2f} s   (target ≤ 3 s) "
              f"{'ok' if ok else 'MISSED'}")
    try:
        per = jsonl_with_logging(questions(1000)) * 1000
        ok = per <= 5.0
        missed += [] if ok else ["jsonl"]
        print(f"  dxlab ask --jsonl, logging incl., semantic off: {per:.3f} ms an answer (target ≤ 5 ms) "
              f"{'ok' if ok else 'MISSED'}")
    except (RuntimeError, OSError) as exc:
        missed.append("jsonl")
        print(f"  dxlab ask --jsonl: could not run ({exc})")
    if missed:
        print(f"MISSED: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
