"""The KPI check-in cycle through a whole quarter with a fixed clock, against the fake Slack Web API:
the period closing, the nudge waiting out quiet hours, reminders around a national holiday, a late lab
chased through every grade to the secretariat's weekly digest, a submission stopping the chase, a
correction, a skip with a reason; and exactly once across a restart in the middle of a nudge round."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import Core
from bot.cli import main
from bot.config import Settings
from bot.db.models import DueWork, KpiValue, OutboxMessage
from bot.directory.service import import_files
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.kpi_world import (
    COORD_S,
    COORD_T,
    INDICATORS,
    PNG_SIGNATURE,
    actions_of,
    bars_in,
    posted,
    press,
    run,
    say,
    submit,
    write,
)

pytest_plugins = ["tests.kpi_world"]  # the kpi_settings and core fixtures


def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DXLAB_DATABASE_URL", settings.database_url)
    return main(list(args)), ""


def due_states(core: Core, prefix: str) -> dict[str, str]:
    with core.db.session() as session:
        return {r.key.removeprefix(prefix): r.state for r in session.scalars(
            select(DueWork).where(DueWork.key.like(prefix + "%")))}


def new_posts(fake: FakeSlack, seen: int) -> list[tuple[str, str]]:
    return posted(fake)[seen:]


async def test_a_whole_quarter(core: Core, kpi_settings: Settings, fake_slack: FakeSlack, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    file = write(tmp_path, "kpi.yaml", INDICATORS)
    code, _ = cli(kpi_settings, monkeypatch, tmp_path, "kpi", "import", file, "--now", "2030-05-10T10:00")
    assert code == 0, capsys.readouterr().err
    assert "created 4" in capsys.readouterr().out

    # Before the quarter ends: nothing is due.
    assert (await run(core, "2030-06-30T23:59"))["outbox"]["sent"] == 0
    # FY2030-Q1 closes at midnight: the nudges are written at once but wait out the quiet hours (until 08:00).
    closed = await run(core, "2030-07-01T00:05")
    assert closed["steps"]["ran"] >= 1 and closed["outbox"]["sent"] == 0
    assert (await run(core, "2030-07-01T07:59"))["outbox"]["sent"] == 0
    assert (await run(core, "2030-07-01T08:00"))["outbox"]["sent"] == 2
    nudges = fake_slack.calls_to("chat.postMessage")
    assert sorted(c["channel"] for c in nudges) == ["D0001", "D0003"]
    to_shiojiri = next(c for c in nudges if c["channel"] == "D0001")
    assert "KPI報告のお願い(塩尻市・FY2030-Q1)" in to_shiojiri["text"]
    assert "参加企業数(単位: 社/目標: 50社/前回: なし)" in to_shiojiri["text"]
    # 6/30 + 15 days is 7/15, 海の日: the due day moves to the next business day.
    assert "7月16日(火)までに" in to_shiojiri["text"]
    assert [a.split(":")[0] for a in actions_of(to_shiojiri)] == ["kpi.open", "kpi.skip"]
    assert due_states(core, "kpi:shiojiri:FY2030-Q1:") == {"remind-before": "pending"}  # one grade at a time

    # 塩尻 opens the form (hints with the target) and reports both values: its chase stops at once.
    opened = await press(core, COORD_S, "kpi.open", "shiojiri|FY2030-Q1", "2030-07-05T10:00")
    assert opened.form is not None and [f.name for f in opened.form.fields] == ["members", "seminars"]
    assert opened.form.fields[0].placeholder == "前回: なし/目標: 50社"
    done = await submit(core, COORD_S, "kpi.report", {"members": "42社", "seminars": "3"}, "shiojiri|FY2030-Q1",
                        "2030-07-05T10:01")
    assert "・参加企業数: 42社" in done.text and "すべて済みました" in done.text
    assert due_states(core, "kpi:shiojiri:FY2030-Q1:") == {"remind-before": "cancelled"}

    # 3 business days before the due day (7/16; the holiday 7/15 does not count): 7/10, to 津山 only.
    seen = len(posted(fake_slack))
    assert (await run(core, "2030-07-10T08:59"))["outbox"]["sent"] == 0
    await run(core, "2030-07-10T09:00")
    before = new_posts(fake_slack, seen)
    assert [c for c, _ in before] == ["D0003"] and "期限(7月16日(火))が近づいています" in before[0][1]
    assert "参加企業数、DX実施率" in before[0][1]
    # The holiday itself: nothing. The due day: the second reminder.
    seen = len(posted(fake_slack))
    await run(core, "2030-07-15T12:00")
    assert new_posts(fake_slack, seen) == []
    await run(core, "2030-07-16T09:00")
    due_day = new_posts(fake_slack, seen)
    assert [c for c, _ in due_day] == ["D0003"] and "本日(7月16日(火))が" in due_day[0][1]
    # 津山 reports one of two: the chase goes on for the other.
    partial = await say(core, COORD_T, "kpi 参加企業数 12", "2030-07-16T15:00")
    assert "まだ報告されていない指標: DX実施率" in partial.text
    # The digest on Monday 7/22 would be the first to list it; 3 business days late (7/19): coordinator + lead.
    seen = len(posted(fake_slack))
    await run(core, "2030-07-16T10:00")  # the weekly digest of 7/15 (a holiday: moved to 7/16): nobody overdue yet
    assert new_posts(fake_slack, seen) == []
    await run(core, "2030-07-19T09:00")
    late = new_posts(fake_slack, seen)
    assert sorted(c for c, _ in late) == ["D0003", "D0004"]
    assert all("DX実施率" in text and "参加企業数" not in text.split("指標:")[1] for _, text in late)
    assert any("ラボ代表の方へ" in text for c, text in late if c == "D0004")
    seen = len(posted(fake_slack))
    await run(core, "2030-07-22T09:30")
    digest = new_posts(fake_slack, seen)
    assert [c for c, _ in digest] == ["C0SEC"]
    assert "津山市: FY2030-Q1 DX実施率" in digest[0][1] and "塩尻市" not in digest[0][1]
    assert "/admin/kpi/overdue.png" in digest[0][1]  # the admin page's chart, and the same chart attached:
    (chart,) = fake_slack.shared
    assert chart["channel"] == "C0SEC" and chart["data"].startswith(PNG_SIGNATURE)
    assert bars_in(chart["data"]) == 1  # 津山 only

    # 津山 has nothing to report this quarter for the rest: a skip with a reason stops everything.
    form = await press(core, COORD_T, "kpi.skip", "tsuyama|FY2030-Q1", "2030-07-23T10:00")
    assert form.form is not None and form.form.fields[0].name == "reason"
    empty = await submit(core, COORD_T, "kpi.skip", {"reason": " "}, "tsuyama|FY2030-Q1", "2030-07-23T10:01")
    assert "理由の入力が必要です" in empty.text
    skipped = await submit(core, COORD_T, "kpi.skip", {"reason": "調査の集計が次期にずれたため"},
                           "tsuyama|FY2030-Q1", "2030-07-23T10:02")
    assert "今期は報告なし" in skipped.text
    # 塩尻 corrects a value in chat: the history keeps the first one.
    corrected = await say(core, COORD_S, "kpi 参加企業数 45", "2030-07-24T10:00")
    assert "42 → 45社(訂正)" in corrected.text

    # The rest of the quarter: nobody is nagged again, the next digest has nobody to list.
    seen = len(posted(fake_slack))
    for when in ("2030-07-29T09:30", "2030-08-05T09:30", "2030-09-30T12:00"):
        await run(core, when)
    assert new_posts(fake_slack, seen) == []
    # Each grade went out exactly once to each person (outbox keys).
    with core.db.session() as session:
        keys = [k for k in session.scalars(select(OutboxMessage.key)) if k.startswith("kpi:")]
    assert Counter(keys).most_common(1)[0][1] == 1
    assert sorted(k.removeprefix("kpi:tsuyama:FY2030-Q1:") for k in keys if k.startswith("kpi:tsuyama")) == [
        "late-lead:t-lead", "late:t-coord", "nudge:t-coord", "remind-before:t-coord", "remind-due:t-coord"]

    # The status as of the end of July, and the export with the history.
    capsys.readouterr()
    assert cli(kpi_settings, monkeypatch, tmp_path, "kpi", "status", "--period", "FY2030-Q1", "--now",
               "2030-07-31T12:00", "--json")[0] == 0
    status = {(r["lab"], r["indicator"]): (r["state"], r["value"]) for r in json.loads(capsys.readouterr().out)}
    assert status == {("shiojiri", "members"): ("reported", "45"), ("shiojiri", "seminars"): ("reported", "3"),
                      ("tsuyama", "members"): ("reported", "12"), ("tsuyama", "rate"): ("skipped", None)}
    assert cli(kpi_settings, monkeypatch, tmp_path, "kpi", "export")[0] == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    members = [(r["value"], r["current"], r["source"]) for r in rows if r["lab"] == "shiojiri"
               and r["indicator"] == "members"]
    assert members == [("42", "false", "form"), ("45", "true", "chat")]
    assert [r["reason"] for r in rows if r["skipped"] == "true"] == ["調査の集計が次期にずれたため"]


async def test_the_next_quarter_is_chained_and_the_cli_run_is_kpi_only(
        core: Core, kpi_settings: Settings, fake_slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    file = write(tmp_path, "kpi.yaml", INDICATORS)
    assert cli(kpi_settings, monkeypatch, tmp_path, "kpi", "import", file, "--now", "2030-05-10T10:00")[0] == 0
    with core.db.session() as session:
        session.add(DueWork(kind="other.thing", key="other:1", due_at=core.dispatcher.clock(), payload="{}",
                            state="pending", attempts=0))
        session.commit()
    for key, value in {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                       "SLACK_API_URL": fake_slack.api_url, "DXLAB_SEND_RATE": "0", "DXLAB_KB_WATCH": "0"}.items():
        monkeypatch.setenv(key, value)
    code = await asyncio.to_thread(main, ["kpi", "run", "--now", "2030-07-01T09:00", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["outbox"]["sent"] == 2
    assert due_states(core, "other:") == {"1": "pending"}  # `kpi run` leaves other use cases' steps alone
    assert due_states(core, "kpi:close:") == {"FY2030-Q1": "done", "FY2030-Q2": "pending"}


async def test_restarting_in_the_middle_of_a_nudge_round(core: Core, fake_slack: FakeSlack,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    labs = 30
    directory = "labs:\n" + "".join(f"  - {{id: lab{n:02d}, name: ラボ{n}, prefecture: 長野県}}\n" for n in range(labs))
    directory += "people:\n" + "".join(f"  - {{id: c{n:02d}, name: 担当{n}, roles: [coordinator], labs: [lab{n:02d}], "
                                       f"slack_user: U9{n:04d}}}\n" for n in range(labs))
    assert not import_files(core.units, [("more.yaml", directory)], "test").errors
    indicators = "indicators:\n" + "".join(
        f"  - {{lab: lab{n:02d}, id: members, name: 参加企業数, unit: 社, type: integer, cadence: monthly}}\n"
        for n in range(labs))
    from handlers.calendar import BusinessCalendar
    from handlers.kpi.cycle import KINDS, schedule_cycle
    from handlers.kpi.indicators import parse_indicators
    from tests.kpi_world import at

    with core.units() as uow:
        parsed = parse_indicators([("k.yaml", indicators)], BusinessCalendar(), at("2030-06-10T10:00"),
                                  lambda lab: True)
        assert not parsed.errors
        uow.kpi.save(parsed.indicators, at("2030-06-10T10:00"))
        schedule_cycle(uow, BusinessCalendar(), at("2030-06-10T10:00"))
        uow.commit()

    # The round fails half-way (the 13th lab's DM cannot be written): nothing of it is kept, the step retries.
    from handlers.kpi import cycle

    real, planned = cycle.nudge_reply, []

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        if len(planned) == 12:
            raise RuntimeError("the process died here")
        planned.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(cycle, "nudge_reply", failing)
    summary = await core.run_due(at("2030-07-01T09:00"), KINDS)
    assert summary["steps"]["retried"] == 1 and summary["outbox"]["sent"] == 0
    assert [k for k in due_states(core, "kpi:lab")] == []  # no chase scheduled for the first 12 labs either
    monkeypatch.setattr(cycle, "nudge_reply", real)
    # Restarted after the backoff; the process then dies while the 5th DM is on the wire (delivered, but the
    # answer never heard), and starts again once the dead worker's claims have expired.
    fake_slack.faults["chat.postMessage"] = ["", "", "", "", "hang"]
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(core.run_due(at("2030-07-01T09:05"), KINDS), timeout=3)
    assert fake_slack.faults["chat.postMessage"] == []
    await core.run_due(at("2030-07-01T09:10"), KINDS)
    await core.run_due(at("2030-07-01T09:10"), KINDS)
    channels = Counter(c["channel"] for c in fake_slack.calls_to("chat.postMessage"))
    assert sorted(channels) == sorted(f"D9{n:04d}" for n in range(labs))  # no lab missed
    assert set(channels.values()) == {1}  # and none twice
    with core.db.session() as session:
        assert session.scalar(select(KpiValue.id)) is None


async def test_a_lab_added_after_the_round_is_asked_and_nobody_twice(
        core: Core, kpi_settings: Settings, fake_slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    shiojiri = "\n".join(INDICATORS.splitlines()[:5]) + "\n"
    assert cli(kpi_settings, monkeypatch, tmp_path, "kpi", "import", write(tmp_path, "a.yaml", shiojiri),
               "--now", "2030-05-10T10:00")[0] == 0
    await run(core, "2030-07-01T09:00")
    assert [c for c, _ in posted(fake_slack)] == ["D0001"]
    # 津山's indicators arrive on 7/3, collected from FY2030-Q1: the round runs again now, for 津山 only.
    tsuyama = INDICATORS.replace("due_days: 15}", "due_days: 15, from: FY2030-Q1}")
    assert cli(kpi_settings, monkeypatch, tmp_path, "kpi", "import", write(tmp_path, "b.yaml", tsuyama),
               "--now", "2030-07-03T10:00")[0] == 0
    await run(core, "2030-07-03T10:00")
    await run(core, "2030-07-03T10:00")
    assert [c for c, _ in posted(fake_slack)] == ["D0001", "D0003"]
