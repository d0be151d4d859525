"""Run every benchmark module (`benchmarks/bench_*.py`), each in its own process so that one's
memory and warm caches do not colour the next one's figures. Exit 1 if any of them failed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def modules() -> list[str]:
    return sorted(f"benchmarks.{p.stem}" for p in HERE.glob("bench_*.py"))


def main() -> int:
    failed = []
    for module in modules():
        print(f"== {module}", flush=True)
        if subprocess.run([sys.executable, "-m", module], cwd=HERE.parent, check=False).returncode != 0:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
