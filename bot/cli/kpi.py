"""`dxlab kpi import|run|status|report|export`: KPI indicators, the check-in cycle with a fixed clock,
the matrix of who has reported, values received another way, and the CSV of every value."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import sys
from pathlib import Path

from bot.cli.common import print_json
from bot.cli.directory import _units, cli_actor
from bot.cli.jobs import given_up, parse_instant, run_due_once
from handlers.audit import AuditEntry
from handlers.calendar import BusinessCalendar, to_jst
from handlers.kpi.cycle import KINDS, schedule_cycle
from handlers.kpi.indicators import parse_indicators
from handlers.kpi.reporting import finish, store
from handlers.kpi.status import period_for, status_rows
from handlers.kpi.validation import Invalid, check
from scheduler.outbox import utc_now

EXPORT_COLUMNS = ("lab", "indicator", "name", "period", "value", "skipped", "reason", "reporter", "source",
                  "reported_at", "current")


def _now(args: argparse.Namespace) -> dt.datetime:
    return parse_instant(args.now) if getattr(args, "now", None) else utc_now()


def cmd_import(args: argparse.Namespace) -> int:
    files = []
    for name in args.files:
        try:
            files.append((name, Path(name).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            print(f"{name}:0: cannot read: {exc}", file=sys.stderr)
            return 1
    now, cal, units = _now(args), BusinessCalendar(), _units()
    try:
        with units() as uow:
            parsed = parse_indicators(files, cal, now, lambda lab: uow.directory.lab(lab) is not None)
            if parsed.errors:
                for problem in parsed.errors:
                    print(f"error: {problem}", file=sys.stderr)
                print(f"{len(parsed.errors)} errors: nothing imported", file=sys.stderr)
                return 1
            counts = uow.kpi.save(parsed.indicators, now)
            scheduled = schedule_cycle(uow, cal, now)
            uow.audit.record(AuditEntry(actor=cli_actor(), action="kpi.import", target=",".join(args.files),
                                        after=counts, at=now))
            uow.commit()
    finally:
        units.db.dispose()
    summary = counts | {"scheduled": scheduled}
    if args.json:
        print_json(summary)
    else:
        print(", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """`dxlab jobs run-due` restricted to KPI work: the KPI steps due at `--now`, then the outbox."""
    summary = run_due_once(_now(args), KINDS)
    steps, outbox = summary["steps"], summary["outbox"]
    if args.json:
        print_json(summary)
    else:
        print(f"{summary['now']}: {steps['ran']} KPI steps run; {outbox['sent']} messages sent")  # type: ignore[index]
    return 1 if given_up(summary) else 0


def cmd_status(args: argparse.Namespace) -> int:
    now, units = _now(args), _units()
    try:
        with units() as uow:
            rows = status_rows(uow.kpi, BusinessCalendar(), now, period=args.period, lab=args.lab)
    except ValueError as exc:
        print(f"dxlab kpi status: {exc}", file=sys.stderr)
        return 2
    finally:
        units.db.dispose()
    if args.json:
        print_json([r.as_dict() for r in rows])
        return 0
    for r in rows:
        print(f"{r.lab}\t{r.indicator}\t{r.period}\t{r.state}\t{r.value or ''}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    now, cal, units = _now(args), BusinessCalendar(), _units()
    try:
        with units() as uow:
            ind = uow.kpi.find(args.lab, args.indicator)
            if ind is None:
                print(f"dxlab kpi report: lab {args.lab!r} has no indicator {args.indicator!r}", file=sys.stderr)
                return 2
            try:
                period = period_for(cal, ind, now, args.period)
            except ValueError as exc:
                print(f"dxlab kpi report: {exc}", file=sys.stderr)
                return 2
            if period is None:
                print(f"dxlab kpi report: {args.period} is not a period {ind.key} is collected for", file=sys.stderr)
                return 2
            try:
                checked = check(ind, args.value, uow.kpi.last_number(ind.id, period))
            except Invalid as exc:
                print(f"dxlab kpi report: {exc}", file=sys.stderr)
                return 1
            if checked.confirm and not args.yes:
                print(f"dxlab kpi report: {checked.value} is 10 times the last value or more; "
                      "run again with --yes if it is right", file=sys.stderr)
                return 1
            stored = store(uow, ind, period, checked, cli_actor(), "cli", now)
            todo = finish(uow, cal, ind.lab, period)
            uow.commit()
    finally:
        units.db.dispose()
    print(f"{ind.lab} {ind.key} {period}: {stored.value}" + (f" (was {stored.old})" if stored.old else "")
          + ("" if todo else f"; {ind.lab} has reported everything for {period}"))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    units = _units()
    try:
        with units() as uow:
            by_id = {i.id: i for i in uow.kpi.indicators()}
            history = uow.kpi.history()
    finally:
        units.db.dispose()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for r in history:
        ind = by_id.get(r.indicator_id)
        writer.writerow([r.lab, ind.key if ind else r.indicator_id, ind.name if ind else "", r.period, r.value or "",
                         "true" if r.skipped else "false", r.reason or "", r.reporter, r.source,
                         to_jst(r.reported_at).isoformat(), "true" if r.current else "false"])
    if args.output:
        Path(args.output).write_text(out.getvalue(), encoding="utf-8")
    else:
        sys.stdout.write(out.getvalue())
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    kpi = sub.add_parser("kpi", help="KPI check-ins: indicators, the cycle, status, values")
    commands = kpi.add_subparsers(dest="kpi_command", required=True)
    p = commands.add_parser("import", help="check and import indicator files (YAML or CSV); all or nothing")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--now", help="the instant for the default `from` (ISO-8601; no zone = Asia/Tokyo)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import)
    p = commands.add_parser("run", help="run the KPI steps due now (or at --now), deliver, and exit")
    p.add_argument("--now", help="the instant to run at (ISO-8601; no zone = Asia/Tokyo)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_run)
    p = commands.add_parser("status", help="who has reported: lab × indicator × period")
    p.add_argument("--period", help="FY2030-Q1, FY2030-H1, FY2030 or 2030-07 (default: the latest closed)")
    p.add_argument("--lab")
    p.add_argument("--now", help="the instant the states are as of (ISO-8601)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    p = commands.add_parser("report", help="record a value received another way (audited; stops the chase)")
    p.add_argument("lab")
    p.add_argument("indicator", help="the indicator's id or name")
    p.add_argument("value")
    p.add_argument("--period", help="default: the latest closed period of the indicator's cadence")
    p.add_argument("--now", help="the instant it is recorded at (ISO-8601)")
    p.add_argument("--yes", action="store_true", help="accept a value 10 times the last one")
    p.set_defaults(func=cmd_report)
    p = commands.add_parser("export", help="CSV of every value with its history")
    p.add_argument("--output", help="a file (default: stdout)")
    p.set_defaults(func=cmd_export)
