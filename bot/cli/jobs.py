"""`dxlab jobs run-due` and `dxlab outbox status|drain`: the outbound machine from cron, tests and the shell.

`run-due --now ISO-8601` runs everything due at that instant (due steps, then the outbox) with a fixed
clock, repeating until nothing more is due at it, and exits; run twice at one instant, it sends nothing
twice. Exit status: 0, or 1 when a step or a message was given up during this run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Mapping
from typing import Any

from bot.cli.common import print_json
from bot.config import load_settings
from bot.db.repos.outbox_worker import SqlOutboxQueue
from bot.db.session import Database
from bot.outbound import outbox_worker
from scheduler.outbox import Sender, utc_now


def parse_instant(text: str) -> dt.datetime:
    """ISO-8601; a time without a zone is Asia/Tokyo wall-clock time (what the secretariat means)."""
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone(dt.timedelta(hours=9)))
    return value.astimezone(dt.UTC)


async def _close(senders: Mapping[str, Sender]) -> None:
    for sender in senders.values():
        close = getattr(sender, "close", None)
        if close is not None:
            await close()


def run_due_once(now: dt.datetime, kinds: tuple[str, ...] = ()) -> dict[str, object]:
    """Build the core, run what is due at `now` (only `kinds` when given) with a fixed clock, and close."""
    from bot.app import build_core  # the dispatcher runs the due steps

    core = build_core()

    async def run() -> dict[str, object]:
        try:
            return await core.run_due(now, kinds)
        finally:
            await _close(core.senders)

    try:
        return asyncio.run(run())
    finally:
        core.close()


def given_up(summary: dict[str, object]) -> bool:
    steps, outbox = summary["steps"], summary["outbox"]
    return bool(steps["given_up"] or outbox["given_up"])  # type: ignore[index]


def cmd_run_due(args: argparse.Namespace) -> int:
    summary = run_due_once(parse_instant(args.now) if args.now else utc_now())
    steps, outbox = summary["steps"], summary["outbox"]
    if args.json:
        print_json(summary)
    else:
        print(f"{summary['now']}: {steps['ran']} steps run, {steps['retried']} to retry, "  # type: ignore[index]
              f"{len(steps['given_up'])} given up; {outbox['sent']} messages sent, "  # type: ignore[index]
              f"{outbox['retried']} to retry, {len(outbox['given_up'])} given up")  # type: ignore[index]
    return 1 if given_up(summary) else 0


def cmd_outbox_status(args: argparse.Namespace) -> int:
    db = Database(load_settings().database_url)
    try:
        status = SqlOutboxQueue(db).status(utc_now())
    finally:
        db.dispose()
    if args.json:
        print_json(status)
        return 0
    counts: dict[str, int] = status["counts"]  # type: ignore[assignment]
    print(", ".join(f"{state} {n}" for state, n in counts.items()))
    if status["oldest_pending_s"] is not None:
        print(f"oldest pending: {status['oldest_pending_s']} s")
    for error in status["last_errors"]:  # type: ignore[attr-defined]
        print(f"{error['state']} {error['key']} (attempt {error['attempts']}): {error['error']}")
    return 0


def cmd_outbox_drain(args: argparse.Namespace) -> int:
    from bot.app import build_core  # the senders are built with the platforms' settings

    core: Any = build_core()

    async def run() -> dict[str, object]:
        try:
            return (await outbox_worker(core.db, core.senders, core.settings).drain()).to_json()
        finally:
            await _close(core.senders)

    try:
        report = asyncio.run(run())
    finally:
        core.close()
    if args.json:
        print_json(report)
    else:
        print(f"{report['sent']} sent, {len(report['given_up'])} given up")  # type: ignore[arg-type]
        for row in report["given_up"]:  # type: ignore[attr-defined]
            print(f"given up {row['key']} after {row['attempts']} attempts: {row['error']}")
    return 1 if report["given_up"] else 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    jobs = sub.add_parser("jobs", help="time-driven work").add_subparsers(dest="jobs_command", required=True)
    p = jobs.add_parser("run-due", help="run the steps and messages due now (or at --now) and exit")
    p.add_argument("--now", help="the instant to run at (ISO-8601; no zone = Asia/Tokyo)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_run_due)
    outbox = sub.add_parser("outbox", help="messages waiting to be delivered").add_subparsers(
        dest="outbox_command", required=True)
    p = outbox.add_parser("status", help="counts by state, the oldest pending message, the last errors")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_outbox_status)
    p = outbox.add_parser("drain", help="deliver until nothing is pending or claimed, then exit")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_outbox_drain)
