"""`dxlab ask --jsonl` stopped by a supervisor: SIGTERM flushes the question log as Ctrl-C does."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

from tests.helpers import DXLAB

QUESTIONS = [f"応募資格は? {i}" for i in range(3000)]


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DXLAB_", "SLACK_", "MICROSOFT_"))}
    return env | {"DXLAB_DATABASE_URL": f"sqlite:///{db}"}


def _feed(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdin
    try:
        proc.stdin.write("".join(q + "\n" for q in QUESTIONS).encode())
        proc.stdin.close()
    except BrokenPipeError:  # it stopped reading: that is the point
        pass


def test_sigterm_mid_burst_logs_every_answered_question(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    err_file = tmp_path / "stderr.txt"
    with err_file.open("wb") as err_out:
        proc = subprocess.Popen([*DXLAB, "ask", "--jsonl"], cwd=tmp_path, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err_out, env=_env(db))
    feeder = threading.Thread(target=_feed, args=(proc,), daemon=True)
    feeder.start()
    assert proc.stdout
    answered = [json.loads(proc.stdout.readline())["question"] for _ in range(40)]
    proc.send_signal(signal.SIGTERM)
    answered += [json.loads(line)["question"] for line in proc.stdout.read().decode().splitlines()]
    err = err_file.read_text(encoding="utf-8")

    assert proc.wait(timeout=30) == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    assert len(answered) < len(QUESTIONS)  # it really was stopped in the middle
    with sqlite3.connect(db) as conn:
        logged = [row[0] for row in conn.execute("SELECT question FROM question_log ORDER BY id")]
    # Each question is queued for the log before its answer is printed, so at most the one in
    # flight when the signal came is logged without having been printed.
    assert logged[: len(answered)] == answered
    assert len(logged) - len(answered) in (0, 1)
