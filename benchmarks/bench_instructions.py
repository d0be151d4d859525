"""Instructions per answer, counted by callgrind: a figure that repeats to within a fraction of a
percent whatever else the machine is doing, where milliseconds on this shared 2-core VM vary by
±40% between runs minutes apart. Compare commits by it; bench_ask keeps the time targets.

Each mode runs in its own `valgrind --tool=callgrind` process with instrumentation off through
start-up and warm-up; the process switches it on (`callgrind_control -i on`) around the measured
answers only. Budgets are the counts measured on 2026-12-03 plus 30%: a change that makes answering
that much dearer fails here. Run: `python -m benchmarks.bench_instructions` (part of `make bench`);
prints "skipped" and exits 0 where valgrind is not installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# (mode, answers counted, budget in instructions per answer)
RUNS = (("off", 200, 3.0e6), ("local", 5, 420e6))

CHILD = """
import os, subprocess, sys
from benchmarks.bench_ask import questions
from handlers.faq import FaqService
from knowledge.live import LiveKnowledge
from knowledge.semantic import make_embedder

faq = FaqService(LiveKnowledge(embedder=make_embedder(sys.argv[1])))
pool = questions(600)
for q in pool[-5:]:  # warm-up, not counted: lazy set-up in the tokenizer, regex engine and model
    faq.ask(q)
toggle = ["callgrind_control", "-i"]
subprocess.run([*toggle, "on", str(os.getpid())], check=True, capture_output=True)
for q in pool[: int(sys.argv[2])]:
    faq.ask(q)
subprocess.run([*toggle, "off", str(os.getpid())], check=True, capture_output=True)
"""

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def count(mode: str, answers: int) -> int:
    """Instructions executed while answering `answers` questions in `mode`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DXLAB_")}
    env |= {"PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}  # the same hashing, so the same work, each run
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={tmp}/out",
             sys.executable, "-c", CHILD, mode, str(answers)],
            cwd=tmp, env=env, capture_output=True, text=True, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run failed (exit {done.returncode}): {done.stderr[-500:]}")
    return int(found.group(1))


def main() -> int:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("bench_instructions: skipped (valgrind is not installed)")
        return 0
    missed = []
    print("bench_instructions: instructions per answer (callgrind)")
    for mode, answers, budget in RUNS:
        per = count(mode, answers) / answers
        ok = per <= budget
        missed += [] if ok else [f"semantic={mode}"]
        print(f"  semantic={mode:<5} {per / 1e6:8.2f} M per answer over {answers} answers   "
              f"(budget ≤ {budget / 1e6:g} M) {'ok' if ok else 'MISSED'}")
    if missed:
        print(f"MISSED: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
