"""One KPI nudge round for 800 labs × 5 indicators: the period closes, each lab's nudge step plans its DM
(pending indicators, hints with the last value and target, the chase it schedules) and enqueues it; then
the outbox delivers the 800 DMs to the fake Slack Web API on 127.0.0.1 (conversations.open + postMessage,
no rate limit).

Targets on 2 cores (SQLite): plan and enqueue the round in ≤ 15 s (measured ~8 s); deliver ≥ 100 DMs/s
(measured ~150-170); every lab's coordinator gets exactly one DM.
Run: `python -m benchmarks.bench_kpi` (or `make bench`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot.app import build_core
from bot.config import load_settings
from bot.db.repos.outbox_worker import SqlDueQueue
from bot.directory.service import import_files
from bot.outbound import outbox_worker
from handlers.calendar import BusinessCalendar
from handlers.kpi.cycle import KINDS, schedule_cycle
from handlers.kpi.model import Indicator
from scheduler.due import DueRunner
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack

LABS, INDICATORS = 800, 5
TARGET_PLAN_S, TARGET_MSG_S = 15.0, 100.0
JST = dt.timezone(dt.timedelta(hours=9))
IMPORTED, CLOSED = dt.datetime(2030, 5, 10, 10, 0, tzinfo=JST), dt.datetime(2030, 7, 1, 9, 0, tzinfo=JST)
NAMES = ("参加企業数", "セミナー開催数", "DX実施率", "事業費", "相談件数")
TYPES = ("integer", "integer", "percent", "yen", "integer")


def directory() -> str:
    labs = "".join(f"  - {{id: lab{n:03d}, name: ラボ{n}, prefecture: 長野県}}\n" for n in range(LABS))
    people = "".join(f"  - {{id: c{n:03d}, name: 担当{n}, roles: [coordinator], labs: [lab{n:03d}], "
                     f"slack_user: U{n:06d}}}\n" for n in range(LABS))
    return f"secretariat: {{slack_channel: C0SEC}}\nlabs:\n{labs}people:\n{people}"


async def run(folder: Path) -> bool:
    fake = await FakeSlack().start()
    settings = load_settings(env={"DXLAB_DATABASE_URL": f"sqlite:///{folder / 'kpi.db'}", "DXLAB_KB_WATCH": "0",
                                  "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                  "SLACK_API_URL": fake.api_url, "DXLAB_SEND_RATE": "0", "DXLAB_LOG_LEVEL": "WARNING"},
                             dotenv_path=Path("/nonexistent"))
    core = build_core(settings)
    assert not import_files(core.units, [("directory.yaml", directory())], "bench").errors
    cal = BusinessCalendar()
    with core.units() as uow:
        uow.kpi.save([Indicator(f"lab{n:03d}", f"k{i}", NAMES[i], unit="", type=TYPES[i], target=50.0,
                                cadence="quarterly", first_period="FY2030-Q1")
                      for n in range(LABS) for i in range(INDICATORS)], IMPORTED)
        schedule_cycle(uow, cal, IMPORTED)
        uow.commit()

    core.dispatcher.clock = lambda: CLOSED
    runner = DueRunner(SqlDueQueue(core.db, kinds=KINDS), core.run_due_step)
    started = time.perf_counter()
    steps = await runner.run_ready(CLOSED)
    plan_s = time.perf_counter() - started
    worker = outbox_worker(core.db, core.senders, settings, clock=lambda: CLOSED)
    started = time.perf_counter()
    report = await worker.drain()
    send_s = time.perf_counter() - started
    channels = Counter(c["channel"] for c in fake.calls_to("chat.postMessage"))
    for sender in core.senders.values():
        close = getattr(sender, "close", None)
        if close is not None:
            await close()
    core.close()
    await fake.close()

    rate = report.sent / send_s if send_s else float("inf")
    print(f"plan+enqueue: {steps.ran} steps ({LABS} labs × {INDICATORS} indicators) in {plan_s:.2f} s "
          f"({LABS / plan_s:.0f} labs/s; target ≤ {TARGET_PLAN_S:.0f} s)")
    print(f"delivery: {report.sent} DMs in {send_s:.2f} s = {rate:.0f} msg/s (target ≥ {TARGET_MSG_S:.0f}); "
          f"{len(channels)} coordinators reached, most to one: {max(channels.values(), default=0)}")
    ok = plan_s <= TARGET_PLAN_S and rate >= TARGET_MSG_S and len(channels) == LABS and \
        set(channels.values()) == {1} and not report.failed
    if not ok:
        print("bench_kpi: target missed", file=sys.stderr)
    return ok


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        return 0 if asyncio.run(run(Path(tmp))) else 1


if __name__ == "__main__":
    raise SystemExit(main())
