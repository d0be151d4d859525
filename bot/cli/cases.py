"""`dxlab cases list|export|summary` (the secretariat's view of every consultation), `dxlab route` (the
intent decision as a dry run: nothing stored or sent) and `dxlab kb drafts list|approve` (FAQ drafts made
from consultations). Every look at the cases is audited as the CLI user."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from pathlib import Path

from bot.cli.common import print_json, stdin_lines
from bot.cli.directory import cli_actor
from bot.config import load_settings
from handlers.audit import AuditEntry
from handlers.consult import report
from handlers.consult.model import Status


def _units():  # type: ignore[no-untyped-def]
    from bot.db.session import Database
    from bot.db.uow import UnitsOfWork

    return UnitsOfWork(Database(load_settings().database_url))


def _status(value: str | None) -> str | None:
    """A status as stored (`active`) or as shown (`対応中`)."""
    if not value:
        return None
    from handlers.i18n import t

    for status in Status:
        if value in (status.value, t(f"consult.status.{status.value}")):
            return status.value
    raise SystemExit(f"dxlab: unknown status {value!r} (one of {', '.join(s.value for s in Status)})")


def _cases(action: str, status: str | None = None) -> list:  # type: ignore[type-arg]
    units = _units()
    try:
        with units() as uow:
            cases = uow.consult.all(status)
            uow.audit.record(AuditEntry(actor=cli_actor(), action=action, target=f"cases:{status or 'all'}",
                                        outcome="done", at=dt.datetime.now(dt.UTC)))
            uow.commit()
        return cases
    finally:
        units.db.dispose()


def cmd_list(args: argparse.Namespace) -> int:
    rows = [report.row(c) for c in _cases("consult.list", _status(args.status))]
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        print(f"{r['id']}  {r['status']:<8} {r['topic'] or '-':<12} {r['prefecture'] or '-':<5} "
              f"requester={r['requester']} offered={r['offered_to'] or '-'} assignee={r['assignee'] or '-'} "
              f"due={r['due_at'] or '-'}")
    print(f"{len(rows)} cases")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    cases = _cases("consult.export", _status(args.status))
    columns = (*report.COLUMNS, "text") if args.with_text else report.COLUMNS
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for case in cases:
        writer.writerow(report.row(case, with_text=args.with_text))
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from bot.cli.jobs import parse_instant

    now = parse_instant(args.now) if args.now else dt.datetime.now(dt.UTC)
    result = report.summary(_cases("consult.summary"), now)
    if args.json:
        print_json(result)
        return 0
    by_status = ", ".join(f"{k} {v}" for k, v in result["open_by_status"].items())
    print(f"open {result['open']} ({by_status}); closed {result['closed']}; overdue {result['overdue']}")
    print(f"median hours to claim {result['median_hours_to_claim']}, to close {result['median_hours_to_close']};"
          f" mean rating {result['mean_rating']}")
    return 0


def cmd_route(args: argparse.Namespace) -> int:
    from handlers.intent import decide
    from handlers.usecases import build_routes
    from knowledge.routing_eval import evaluate_routing, load_routing

    cues = build_routes().cue_words  # the cue words every use case registers

    def intent(text: str) -> str:
        found = decide(text, cues).intent
        return found if found in ("faq", "consult", "event", "kpi") else "other"

    if args.eval:
        results = {path: evaluate_routing(load_routing(Path(path)), intent) for path in args.eval}
        print_json({path: r.as_dict(with_misses=args.misses) for path, r in results.items()})
        return 0 if all(r.accuracy >= args.min_accuracy for r in results.values()) else 1
    for line in stdin_lines():
        if not line.strip():
            continue
        text = line
        if args.jsonl and line.lstrip().startswith("{"):
            try:
                text = str(json.loads(line).get("text", ""))
            except (ValueError, AttributeError):
                text = line
        decision = decide(text, cues)
        print_json({"text": text, "intent": intent(text), "unsure": decision.unsure,
                    "scores": {k: round(v, 2) for k, v in decision.scores.items()}})
    return 0


def cmd_drafts_list(args: argparse.Namespace) -> int:
    from handlers.consult.drafts import list_drafts

    drafts = list_drafts(Path(load_settings().kb_drafts_dir))
    rows = [{"id": d.id, "status": d.status, "created_by": d.created_by, "approved_by": d.approved_by,
             "path": str(d.path), "entry": d.entry.get("id")} for d in drafts]
    if args.json:
        print_json(rows)
    else:
        for r in rows:
            print(f"{r['id']}  {r['status']:<9} by {r['created_by']}  {r['path']}")
        print(f"{len(rows)} drafts")
    return 0


def cmd_drafts_approve(args: argparse.Namespace) -> int:
    """A second secretariat member (`--as`, a directory id) publishes a draft after `kb lint` passes."""
    from handlers.calendar import JST
    from handlers.consult.drafts import ApprovalError, approve
    from handlers.directory.model import Role
    from handlers.i18n import t

    settings = load_settings()
    units = _units()
    try:
        with units() as uow:
            person = uow.directory.person(args.as_person)
            allowed = person is not None and person.has(Role.SECRETARIAT)
            uow.audit.record(AuditEntry(actor=f"{cli_actor()} as {args.as_person}", action="consult.approve",
                                        target=args.id, outcome="allowed" if allowed else "refused",
                                        at=dt.datetime.now(dt.UTC)))
            uow.commit()
    finally:
        units.db.dispose()
    if not allowed:
        print(f"dxlab: {args.as_person} is not a secretariat member in the directory", file=sys.stderr)
        return 1
    try:
        path = approve(Path(settings.kb_drafts_dir), args.id, args.as_person, settings.knowledge_dir,
                       dt.datetime.now(JST).date())
    except ApprovalError as exc:
        print(t(exc.reason, draft=args.id, errors="\n".join(exc.errors)), file=sys.stderr)
        return 1
    print(t("consult.draft.approved", draft=args.id, path=path))
    return 0


def register_drafts(kb: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    drafts = kb.add_parser("drafts", help="FAQ drafts made from consultations").add_subparsers(
        dest="drafts_command", required=True)
    p = drafts.add_parser("list", help="drafts and their status")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_drafts_list)
    p = drafts.add_parser("approve", help="publish a draft (a second secretariat member; kb lint must pass)")
    p.add_argument("id", help="the draft's 受付番号 (DX-YYYY-NNNN)")
    p.add_argument("--as", dest="as_person", required=True, help="your directory id (a secretariat member)")
    p.set_defaults(func=cmd_drafts_approve)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cases = sub.add_parser("cases", help="consultations: list, export, summary").add_subparsers(
        dest="cases_command", required=True)
    p = cases.add_parser("list", help="every case (a JSON array with --json)")
    p.add_argument("--status", help="received|pending|active|answered|closed (or 受付, 割当待ち, …)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = cases.add_parser("export", help="every case as CSV on stdout")
    p.add_argument("--status")
    p.add_argument("--with-text", action="store_true", help="include the requesters' text (keep it private)")
    p.set_defaults(func=cmd_export)
    p = cases.add_parser("summary", help="open by status, overdue, median time to claim and to close")
    p.add_argument("--json", action="store_true")
    p.add_argument("--now", help="the instant overdue is measured at (ISO-8601; no zone = Asia/Tokyo)")
    p.set_defaults(func=cmd_summary)
    p = sub.add_parser("route", help="which use case takes each stdin line (dry run: nothing stored or sent)")
    p.add_argument("--jsonl", action="store_true", help="one JSON object per line out (lines in: text or JSON)")
    p.add_argument("--eval", nargs="+", metavar="FILE", help="accuracy over routing sets instead")
    p.add_argument("--misses", action="store_true", help="with --eval: list the misses")
    p.add_argument("--min-accuracy", type=float, default=0.0, help="with --eval: exit 1 below this")
    p.set_defaults(func=cmd_route)
