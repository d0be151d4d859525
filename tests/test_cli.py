"""The `dxlab` command as other tools use it: JSON shapes, streaming, bad input, any directory."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from tests.helpers import DXLAB, REPO, run_dxlab

ASK_FIELDS = {"question", "answered", "answer", "confidence", "entry_id", "sources", "as_of", "escalate",
              "suggestions"}


def test_ask_json_from_another_directory_creates_its_database(tmp_path: Path) -> None:
    done = run_dxlab(["ask", "地域DX推進ラボとは何ですか", "--json"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    data = json.loads(done.stdout)
    assert set(data) >= ASK_FIELDS
    assert data["answered"] is True and data["entry_id"] and data["sources"] and data["as_of"]
    assert 0 < data["confidence"] <= 1
    assert (tmp_path / "dxlab.db").is_file()


def test_jsonl_answers_in_order_and_flushes_each_line(tmp_path: Path) -> None:
    env = {"DXLAB_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}"}
    proc = subprocess.Popen([*DXLAB, "ask", "--jsonl"], cwd=tmp_path, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**_base_env(), **env})
    assert proc.stdin and proc.stdout
    answers = []
    # Each answer is read before the next question is written: only a flushed line can arrive.
    for question in ["応募資格は?", "明日の天気は?", "DXセレクションとは"]:
        proc.stdin.write((question + "\n").encode())
        proc.stdin.flush()
        answers.append(json.loads(proc.stdout.readline()))
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    assert [a["question"] for a in answers] == ["応募資格は?", "明日の天気は?", "DXセレクションとは"]
    assert answers[1]["answered"] is False and answers[1]["entry_id"] is None and answers[1]["escalate"]
    with sqlite3.connect(tmp_path / "q.db") as db:  # logged behind the answers, all of them by exit
        logged = [row[0] for row in db.execute("SELECT question FROM question_log ORDER BY id")]
    assert logged == ["応募資格は?", "明日の天気は?", "DXセレクションとは"]


def test_jsonl_survives_bad_input(tmp_path: Path) -> None:
    lines = b"\n".join([b"", "あ".encode() * 100_000, "😀😀".encode(), b"\xff\xfe\x00\x01garbage\x80",
                        "締切はいつ?".encode()]) + b"\n"
    done = run_dxlab(["ask", "--jsonl"], cwd=tmp_path, stdin=lines)
    assert done.returncode == 0, done.stderr.decode()
    rows = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert len(rows) == 5
    assert all(set(r) >= ASK_FIELDS and r["answer"] for r in rows)
    assert "Traceback" not in done.stderr.decode()
    assert "長すぎる" in rows[1]["answer"] and len(rows[1]["question"]) <= 2000


def test_kb_export_lint_and_gaps(tmp_path: Path) -> None:
    export = run_dxlab(["kb", "export"], cwd=tmp_path)
    entries = json.loads(export.stdout)
    assert len(entries) >= 120
    assert all({"id", "questions", "answer", "sources", "as_of", "kind"} <= set(e) and e["sources"]
               for e in entries)
    lint = run_dxlab(["kb", "lint", "--today", "2026-11-23", "--strict"], cwd=tmp_path)
    assert lint.returncode == 0, lint.stdout.decode()
    assert "0 errors, 0 warnings" in lint.stdout.decode()
    for q in ["今日の天気は?", "今日の天気はどう?", "確定申告の期限"]:
        run_dxlab(["ask", q, "--json"], cwd=tmp_path)
    gaps = json.loads(run_dxlab(["kb", "gaps", "--json"], cwd=tmp_path).stdout)
    assert gaps[0]["count"] == 2 and "天気" in gaps[0]["question"]


def test_kb_lint_reports_stale_facts_later(tmp_path: Path) -> None:
    lint = run_dxlab(["kb", "lint", "--today", "2031-01-01", "--json"], cwd=tmp_path)
    warnings = json.loads(lint.stdout)["warnings"]
    assert any("days old" in w for w in warnings)


def test_kb_eval_reports_accuracy(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - q: 地域DX推進ラボって何?\n    expect: overview.what-is\n"
                     "  - q: 今日のランチのおすすめは?\n    expect: null\n", encoding="utf-8")
    done = run_dxlab(["kb", "eval", str(cases), "--json", "--semantic", "off", "--min-in-scope", "1",
                      "--min-declined", "1"], cwd=tmp_path)
    data = json.loads(done.stdout)["cases/lexical"]
    assert done.returncode == 0, data
    assert data["in_scope"]["passed"] == 1 and data["out_of_scope"]["passed"] == 1


def test_kb_eval_keeps_two_files_of_one_name_apart(tmp_path: Path) -> None:
    for folder, question in (("a", "地域DX推進ラボって何?"), ("b", "今日のランチのおすすめは?")):
        (tmp_path / folder).mkdir()
        expect = "overview.what-is" if folder == "a" else "null"
        (tmp_path / folder / "cases.yaml").write_text(f"cases:\n  - q: {question}\n    expect: {expect}\n",
                                                      encoding="utf-8")
    done = run_dxlab(["kb", "eval", "a/cases.yaml", "b/cases.yaml", "--json", "--semantic", "off"], cwd=tmp_path)
    data = json.loads(done.stdout)
    assert data["cases/lexical"]["in_scope"]["total"] == 1
    assert data["b/cases/lexical"]["out_of_scope"]["total"] == 1


def test_kb_eval_default_lists_dev_misses_only(tmp_path: Path) -> None:
    done = run_dxlab(["kb", "eval", "--semantic", "off", "--json"], cwd=tmp_path)
    data = json.loads(done.stdout)
    assert set(data) == {"dev/lexical", "holdout/lexical", "test/lexical", "test2/lexical"}
    assert "failures" in data["dev/lexical"]
    # Reading the holdout's or the sealed sets' misses would be tuning on them.
    assert not any("failures" in data[f"{name}/lexical"] for name in ("holdout", "test", "test2"))


def test_db_upgrade_and_python_m_bot(tmp_path: Path) -> None:
    env = {"DXLAB_DATABASE_URL": f"sqlite:///{tmp_path / 'managed.db'}"}
    done = run_dxlab(["db", "upgrade"], cwd=REPO, env=env)
    assert done.returncode == 0 and b"revision" in done.stdout


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    done = run_dxlab(["frobnicate"], cwd=tmp_path)
    assert done.returncode == 2 and b"usage" in done.stderr


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("DXLAB_", "SLACK_", "MICROSOFT_"))}
