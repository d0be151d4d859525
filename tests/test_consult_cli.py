"""The secretariat's commands: `dxlab cases list|export|summary`, `dxlab kb drafts list`, and `dxlab route`
(a dry run: nothing stored or sent) with its accuracy on the routing sets."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from tests.consult_kit import QUESTION, Bot, Connector, at, close_bot, connector, make_bot
from tests.fake_slack import FakeSlack
from tests.helpers import REPO, run_dxlab

__all__ = ["connector"]
NOW = at("2026-12-02T10:00:00")


@pytest.fixture
async def bot(make_settings: Any, fake_slack: FakeSlack, connector: Connector, bundled_knowledge: Any,
              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bot]:
    b = await make_bot(make_settings, fake_slack, connector, bundled_knowledge, NOW)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DXLAB_DATABASE_URL", b.core.settings.database_url)
    monkeypatch.setenv("DXLAB_KB_DRAFTS_DIR", str(tmp_path / "drafts"))
    yield b
    await close_bot(b)


async def two_cases(bot: Bot) -> tuple[str, str]:
    await bot.say(bot.slack_user("U0REQ1"), f"相談 {QUESTION}", command=True)
    first = bot.ref()
    await bot.press(bot.slack_user("U0EXA"), "consult.accept", str(bot.case().id))
    await bot.press(bot.slack_user("U0EXA"), "consult.answered", str(bot.case().id))
    bot.now = at("2026-12-02T15:00:00")
    await bot.submit(bot.slack_user("U0REQ1"), "consult.close", {"rating": "4"}, str(bot.case().id))
    await bot.say(bot.slack_user("U0PUB"), "相談 クラウドに移行したい", command=True)
    return first, bot.ref()


async def test_cases_list_export_and_summary(bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    closed, pending = await two_cases(bot)
    assert main(["cases", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [closed, pending]
    first = rows[0]
    assert {"id", "status", "topic", "prefecture", "requester", "offered_to", "assignee", "created_at",
            "due_at"} <= set(first)
    assert (first["status"], first["topic"], first["prefecture"], first["requester"], first["assignee"]) == (
        "closed", "生産管理", "長野県", "req-slack", "ex-a")
    assert rows[1]["requester"] == "slack:U0PUB" and rows[1]["status"] == "pending" and rows[1]["due_at"]
    assert all(QUESTION not in json.dumps(r, ensure_ascii=False) for r in rows)
    assert main(["cases", "list", "--status", "割当待ち", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [pending]
    assert main(["cases", "export"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["id"] for r in table] == [closed, pending] and "text" not in table[0]
    assert main(["cases", "summary", "--json", "--now", "2026-12-04T10:00"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["open"], summary["closed"], summary["open_by_status"]["pending"]) == (1, 1, 1)
    assert summary["median_hours_to_claim"] == 0.0 and summary["median_hours_to_close"] == 5.0
    assert summary["overdue"] == 1, "the pending case's reminder (12-03 10:00) has passed"
    assert main(["kb", "drafts", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    with bot.core.db.session() as s:
        from sqlalchemy import select

        from bot.db import models as m
        actions = [r.action for r in s.scalars(select(m.AuditLog)) if r.actor.startswith("cli:")]
    assert actions.count("consult.list") == 2 and "consult.export" in actions and "consult.summary" in actions


def test_route_jsonl_is_a_dry_run(tmp_path: Path) -> None:
    lines = ["専門家に相談したい", "相談なんですが、商工会議所でも応募できますか?", "申請書を個別に見てほしい",
             json.dumps({"text": "来週の勉強会はオンラインでも参加できますか?"}, ensure_ascii=False),
             "今月は相談を15件受けて、3社が導入に進みました", "おはようございます"]
    db = tmp_path / "never.db"
    done = run_dxlab(["route", "--jsonl"], cwd=tmp_path, stdin="\n".join(lines).encode(),
                     env={"DXLAB_DATABASE_URL": f"sqlite:///{db}"})
    assert done.returncode == 0, done.stderr.decode()
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [o["intent"] for o in out] == ["consult", "faq", "consult", "event", "kpi", "other"]
    assert out[3]["text"] == "来週の勉強会はオンラインでも参加できますか?"
    assert not db.exists(), "nothing is stored"


def test_routing_accuracy_on_the_dev_and_sealed_sets(tmp_path: Path) -> None:
    dev, sealed = REPO / "knowledge/eval/routing_dev.yaml", REPO / "knowledge/eval/routing_test.yaml"
    done = run_dxlab(["route", "--eval", str(dev), str(sealed)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout.decode())
    print(json.dumps(report, ensure_ascii=False))  # the figures, for the record (pytest -s)
    assert report[str(dev)]["accuracy"] >= 0.95 and report[str(dev)]["borderline_accuracy"] >= 0.9
    assert report[str(sealed)]["total"] >= 100  # the sealed set is measured, never tuned on
    assert report[str(sealed)]["accuracy"] >= 0.6
