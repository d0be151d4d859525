"""`dxlab ask --jsonl` speed: start-up plus 10 answers, and 1,000 answers after start-up.

Targets (issue 2): ≤1 ms per answer after start-up, never above 5 ms with question logging;
start-up plus 10 answers ≤3 s. Run: `python -m benchmarks.bench_ask` (or `make bench`).
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


def questions(n: int) -> list[str]:
    pool = [c.question for c in load_cases([bundled_dir() / "eval"])]
    pool += [q for e in load_knowledge().entries for q in e.questions]
    return [pool[i % len(pool)] for i in range(n)]


def run_jsonl(lines: list[str], cwd: Path) -> tuple[float, float, list[float]]:
    """(seconds to the first answer, seconds for all, arrival time of each answer)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DXLAB_")}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "ask", "--jsonl"], cwd=cwd, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin and proc.stdout
    proc.stdin.write(("\n".join(lines) + "\n").encode())
    proc.stdin.close()
    arrivals = []
    for _ in lines:
        proc.stdout.readline()
        arrivals.append(time.perf_counter() - start)
    proc.wait()
    return arrivals[0], time.perf_counter() - start, arrivals


def in_process_latencies(lines: list[str], db_dir: Path) -> list[float]:
    """Per-answer time inside one process, question logging included (what --jsonl does per line)."""
    from bot.app import build_core
    from bot.cli.ask import _ask_logged
    from bot.config import load_settings
    from bot.db.log_writer import QuestionLogWriter

    env = {"DXLAB_DATABASE_URL": f"sqlite:///{db_dir / 'inproc.db'}", "DXLAB_LOG_LEVEL": "WARNING"}
    core = build_core(load_settings(env=env, dotenv_path=Path("/nonexistent")))
    writer = QuestionLogWriter(core.db)
    out = []
    for q in lines:
        t = time.perf_counter()
        _ask_logged(core, writer, q)
        out.append(time.perf_counter() - t)
    writer.close()
    core.close()
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        ten = questions(10)
        _, cold, _ = run_jsonl(ten, cwd)  # first use: creates and migrates the SQLite file
        _, warm, _ = run_jsonl(ten, cwd)
        first, total, arrivals = run_jsonl(questions(1000), cwd)
        per_answer = (arrivals[-1] - arrivals[0]) / (len(arrivals) - 1)
        lat = sorted(in_process_latencies(questions(1000), cwd))
    print("bench_ask: dxlab ask --jsonl")
    print(f"  start-up + 10 answers, fresh database : {cold:.2f} s   (target ≤ 3 s)")
    print(f"  start-up + 10 answers, existing db    : {warm:.2f} s")
    print(f"  1,000 answers: first after {first:.2f} s, all after {total:.2f} s")
    print(f"  per answer after start-up (stream)    : {per_answer * 1000:.3f} ms   (target ≤ 1 ms)")
    print(f"  per answer in process, logging incl.  : mean {statistics.mean(lat) * 1000:.3f} ms, "
          f"p99 {lat[int(len(lat) * 0.99)] * 1000:.3f} ms, max {lat[-1] * 1000:.3f} ms   (target max ≤ 5 ms)")


if __name__ == "__main__":
    main()
