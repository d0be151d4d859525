"""`dxlab directory import|export` and `dxlab audit`: the directory file and the audit log."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.cli.common import print_json
from bot.config import load_settings

TOKYO = ZoneInfo("Asia/Tokyo")


def _units():  # type: ignore[no-untyped-def]
    from bot.db.session import Database
    from bot.db.uow import UnitsOfWork

    return UnitsOfWork(Database(load_settings().database_url))


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def cmd_import(args: argparse.Namespace) -> int:
    from bot.directory.service import import_files, read_files
    from handlers.directory import Plan

    files, unreadable = read_files(Path(p) for p in args.files)
    units = _units()
    try:
        plan = Plan(directory=None, errors=unreadable) if unreadable else \
            import_files(units, files, cli_actor(), prune=args.prune, dry_run=args.dry_run)  # type: ignore[arg-type]
    finally:
        units.db.dispose()
    summary = plan.summary()
    if args.json:
        print_json(summary)
    else:
        for problem in plan.errors:
            print(f"error: {problem}", file=sys.stderr)
        for problem in plan.warnings:
            print(f"warning: {problem}", file=sys.stderr)
        if plan.errors:
            print(f"{len(plan.errors)} errors: nothing imported", file=sys.stderr)
        else:
            verb = "would be" if args.dry_run else ""
            print(f"created {summary['created']}, updated {summary['updated']}, unchanged {summary['unchanged']}, "
                  f"removed {summary['removed']}" + (f" ({verb} dry run)" if verb else ""))
            if plan.kept:
                print(f"{plan.kept} entries not in the files were kept (--prune removes them)")
    return 1 if plan.errors else 0


def cmd_export(args: argparse.Namespace) -> int:
    from handlers.directory import to_csv, to_yaml

    units = _units()
    try:
        with units() as uow:
            directory = uow.directory.snapshot()
    finally:
        units.db.dispose()
    if args.format == "csv":
        if not args.output:
            print("dxlab directory export --format csv needs --output DIR (one CSV per section)", file=sys.stderr)
            return 2
        folder = Path(args.output)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in to_csv(directory).items():
            (folder / name).write_text(text, encoding="utf-8")
            print(folder / name)
        return 0
    text = to_yaml(directory)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _since(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=TOKYO)  # a bare date: midnight in Japan


def cmd_audit(args: argparse.Namespace) -> int:
    units = _units()
    try:
        with units() as uow:
            entries = uow.audit.since(args.since, args.limit)
    finally:
        units.db.dispose()
    if args.json:
        print_json([e.as_dict() for e in entries])
        return 0
    for e in entries:
        when = e.at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M:%S") if e.at else "-"
        print(f"{when}  {e.actor}  {e.action}  {e.target}  {e.outcome}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    directory = sub.add_parser("directory", help="the directory of labs, people and experts")
    commands = directory.add_subparsers(dest="directory_command", required=True)
    imp = commands.add_parser("import", help="check and import directory files (YAML, or CSV per section)")
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument("--json", action="store_true", help="print the counts and errors as JSON")
    imp.add_argument("--prune", action="store_true", help="remove entries the files do not list")
    imp.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    imp.set_defaults(func=cmd_import)
    exp = commands.add_parser("export", help="write the directory in the shape import reads")
    exp.add_argument("--format", choices=("yaml", "csv"), default="yaml")
    exp.add_argument("--output", help="a file (yaml; default stdout) or a folder (csv)")
    exp.set_defaults(func=cmd_export)

    audit = sub.add_parser("audit", help="the audit log: directory changes and privileged actions")
    audit.add_argument("--since", type=_since, help="YYYY-MM-DD (Japan time) or an ISO date-time")
    audit.add_argument("--limit", type=int, default=None)
    audit.add_argument("--json", action="store_true")
    audit.set_defaults(func=cmd_audit)
