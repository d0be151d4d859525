"""`dxlab announce send|report|resend|cancel|list` and `dxlab events import|list|edit|cancel|attend|report`.

Each command runs in one unit of work and writes its messages to the outbox in the same transaction;
the server's worker (or `dxlab outbox drain`, `dxlab jobs run-due`) delivers them. Exit status 1 when the
thing asked for does not exist or cannot be done, 2 on a malformed request.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from bot.cli.common import print_json
from bot.cli.directory import cli_actor
from bot.config import load_settings
from handlers.calendar import BusinessCalendar
from handlers.events import after, broadcast, rsvp
from handlers.events.audience import AudienceError
from handlers.events.broadcast import Desk
from handlers.events.importer import EventFileError, instant, plan
from handlers.events.render import when
from handlers.i18n import t
from handlers.outcome import Send
from scheduler.outbox import utc_now


@contextmanager
def desk() -> Iterator[Desk]:
    """A Desk on the configured database; commits (with its sends enqueued) when the block ends cleanly."""
    from bot.db.session import Database
    from bot.db.uow import UnitsOfWork

    settings = load_settings()
    db = Database(settings.database_url)
    try:
        with UnitsOfWork(db)() as uow:
            yield Desk(uow, utc_now(), BusinessCalendar(), settings.events)
            uow.commit()
    finally:
        db.dispose()


def enqueue(d: Desk, sends: list[Send]) -> int:
    return sum(d.uow.outbox.enqueue(s, d.now) for s in sends)


def fail(message: str, code: int = 1) -> int:
    print(f"dxlab: {message}", file=sys.stderr)
    return code


def read_message(args: argparse.Namespace) -> tuple[str, str]:
    """(title, body) from --text or a Markdown file (its first `# ` heading is the title unless --title)."""
    if args.file:
        lines = Path(args.file).read_text(encoding="utf-8").strip().splitlines()
        heading = lines[0][2:].strip() if lines and lines[0].startswith("# ") else ""
        body = "\n".join(lines[1:] if heading else lines).strip()
        return args.title or heading or t("announce.untitled"), body
    return args.title or t("announce.untitled"), args.text.strip()


def out(args: argparse.Namespace, data: Any, text: Callable[[], str]) -> int:
    if getattr(args, "json", False):
        print_json(data)
    else:
        print(text())
    return 0


# -- announce ----------------------------------------------------------------------------------------

def cmd_send(args: argparse.Namespace) -> int:
    title, body = read_message(args)
    if not body:
        return fail("the message is empty (--text or --file)", 2)
    try:
        at = instant(args.at, "--at") if args.at else None
        with desk() as d:
            announcement_id, count, sends = broadcast.compose(d, title, body, args.to, cli_actor(), dm=args.dm,
                                                              send_at=at)
            enqueue(d, sends)
    except (AudienceError, EventFileError) as exc:
        return fail(t(exc.key, term=exc.term) if isinstance(exc, AudienceError) else str(exc), 2)
    result = {"announcement": announcement_id, "recipients": count}
    return out(args, result, lambda: f"announcement {announcement_id}: {count} recipients"
               + (f", scheduled for {when(at)}" if at else ""))


def cmd_report(args: argparse.Namespace) -> int:
    with desk() as d:
        found = broadcast.report(d, args.id)
    if found is None:
        return fail(f"no announcement {args.id}")
    return out(args, found, lambda: t("announce.report.text", **found) + "".join(
        f"\n  {f['target']}: {f['reason']}" for f in found["failures"]))


def cmd_resend(args: argparse.Namespace) -> int:
    with desk() as d:
        if d.uow.events.announcement(args.id) is None:
            return fail(f"no announcement {args.id}")
        if args.failed:
            count, sends = broadcast.resend_failed(d, args.id)
            enqueue(d, sends)
        else:
            count = enqueue(d, broadcast.resend_unacknowledged(d, args.id))
    return out(args, {"announcement": args.id, "resent": count}, lambda: f"{count} copies to send again")


def cmd_cancel(args: argparse.Namespace) -> int:
    with desk() as d:
        ok = broadcast.cancel(d, args.id)
    if not ok:
        return fail(t("announce.not_cancellable", id=args.id))
    return out(args, {"announcement": args.id, "cancelled": True}, lambda: t("announce.cancelled", id=args.id))


def cmd_list(args: argparse.Namespace) -> int:
    with desk() as d:
        rows = [broadcast.report(d, a.id) for a in d.uow.events.announcements()]
    return out(args, rows, lambda: "\n".join(
        f"{r['announcement']:>5} {r['state']:<9} {r['sent']}/{r['recipients']} sent, {r['acknowledged']} ack  "
        f"{r['title']}" for r in rows if r))


# -- events ------------------------------------------------------------------------------------------

def cmd_import(args: argparse.Namespace) -> int:
    try:
        plans = plan(yaml.safe_load(Path(args.file).read_text(encoding="utf-8")))
    except (EventFileError, AudienceError, yaml.YAMLError, OSError) as exc:
        return fail(f"{args.file}: {t(exc.key, term=exc.term) if isinstance(exc, AudienceError) else exc}", 2)
    results = []
    with desk() as d:
        for p in plans:
            existing = [e for e in d.uow.events.events(p.event.starts_at, include_cancelled=True)
                        if e.title == p.event.title and e.starts_at == p.event.starts_at]
            if existing:  # importing the same file again creates nothing twice
                results.append({"event": existing[0].id, "title": p.event.title, "created": False})
                continue
            event_id, announcement_id, count, sends = rsvp.create(d, p.event, cli_actor(), body=p.message,
                                                                  send_at=p.announce_at, dm=p.dm)
            enqueue(d, sends)
            results.append({"event": event_id, "announcement": announcement_id, "recipients": count,
                            "title": p.event.title, "created": True})
    return out(args, results, lambda: "\n".join(
        f"event {r['event']}: {r['title']}" + (f" → {r['recipients']} recipients" if r["created"] else " (exists)")
        for r in results))


def cmd_events(args: argparse.Namespace) -> int:
    with desk() as d:
        rows = [after.summary(d, e.id) for e in d.uow.events.events(d.now, include_cancelled=args.all)]
    return out(args, rows, lambda: "\n".join(
        f"{r['event']:>5} {r['starts_at'][:16]} {r['state']:<9} going {r['going']}"
        f"{'/' + str(r['capacity']) if r['capacity'] else ''}, waiting {r['waitlisted']}  {r['title']}"
        for r in rows if r))


EDITABLE = {"title": str, "description": str, "venue": str, "online_url": str, "organiser": str, "capacity": int}


def cmd_edit(args: argparse.Namespace) -> int:
    changes: dict[str, object] = {k: v for k in EDITABLE if (v := getattr(args, k)) is not None}
    try:
        for name, option in (("starts_at", "start"), ("ends_at", "end"), ("rsvp_deadline", "deadline")):
            if getattr(args, option):
                changes[name] = instant(getattr(args, option), f"--{option}")
        with desk() as d:
            done = rsvp.edit(d, args.id, **changes)
            if done is None:
                return fail(f"no open event {args.id}")
            enqueue(d, done[1])
    except (EventFileError, ValueError) as exc:
        return fail(t(str(exc)) if str(exc).startswith("event.") else str(exc), 2)
    return out(args, {"event": args.id, "version": done[0].version, "notified": len(done[1])},
               lambda: f"event {args.id} changed (version {done[0].version}); {len(done[1])} messages")


def cmd_event_cancel(args: argparse.Namespace) -> int:
    with desk() as d:
        sends = rsvp.cancel(d, args.id, args.reason or "")
        if sends is None:
            return fail(f"no open event {args.id}")
        enqueue(d, sends)
    return out(args, {"event": args.id, "cancelled": True, "notified": len(sends)},
               lambda: f"event {args.id} cancelled; {len(sends)} people told")


def cmd_attend(args: argparse.Namespace) -> int:
    try:
        with desk() as d:
            marked = after.mark_attendance(d, args.id, args.people)
            if marked is None:
                return fail(f"no event {args.id}")
            enqueue(d, marked[1])
    except KeyError as exc:
        return fail(f"not among those who answered: {exc.args[0]}")
    return out(args, {"event": args.id, "attended": marked[0], "surveys": len(marked[1])},
               lambda: f"{marked[0]} attended; {len(marked[1])} surveys sent")


def cmd_event_report(args: argparse.Namespace) -> int:
    with desk() as d:
        found = after.summary(d, args.id)
        rows = after.attendance_rows(d, args.id)
    if found is None:
        return fail(f"no event {args.id}")
    if args.csv:
        write_csv(sys.stdout, rows, after.ATTENDANCE_COLUMNS)
        return 0
    return out(args, {**found, "people": rows}, lambda: "\n".join(f"{k}: {v}" for k, v in found.items()))



def write_csv(stream: Any, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    writer = csv.DictWriter(stream, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    a = sub.add_parser("announce", help="announcements to labs").add_subparsers(dest="announce_command",
                                                                                  required=True)
    p = a.add_parser("send", help="send (or schedule) an announcement")
    p.add_argument("--to", required=True, help="all | region:中部 | prefecture:長野県 | round:3 | lab:ID[,ID…] | "
                   "role:coordinator; terms joined with ; narrow each other")
    text = p.add_mutually_exclusive_group(required=True)
    text.add_argument("--text")
    text.add_argument("--file", help="a Markdown file (its first '# ' line is the title)")
    p.add_argument("--title")
    p.add_argument("--at", help="send at this time (ISO-8601; no zone = Asia/Tokyo)")
    p.add_argument("--dm", action="store_true", help="also DM each lab's coordinators")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_send)
    for name, func, helptext in (("report", cmd_report, "delivery report"), ("cancel", cmd_cancel,
                                                                              "cancel a scheduled announcement")):
        p = a.add_parser(name, help=helptext)
        p.add_argument("id", type=int)
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=func)
    p = a.add_parser("resend", help="send again to the failed or the unacknowledged recipients")
    p.add_argument("id", type=int)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--failed", action="store_true")
    which.add_argument("--unacknowledged", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_resend)
    p = a.add_parser("list", help="announcements, newest first, with their delivery counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    e = sub.add_parser("events", help="exchange events").add_subparsers(dest="events_command", required=True)
    p = e.add_parser("import", help="create events from a YAML file and send their invitations")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import)
    p = e.add_parser("list", help="upcoming events with their counts")
    p.add_argument("--all", action="store_true", help="include cancelled events")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_events)
    p = e.add_parser("edit", help="change an event; everyone who answered is told")
    p.add_argument("id", type=int)
    for name, kind in EDITABLE.items():
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind)
    for option in ("start", "end", "deadline"):
        p.add_argument(f"--{option}")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_edit)
    p = e.add_parser("cancel", help="cancel an event; everyone who answered is told")
    p.add_argument("id", type=int)
    p.add_argument("--reason")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_event_cancel)
    p = e.add_parser("attend", help="mark who came (the others who were coming: absent); surveys go out")
    p.add_argument("id", type=int)
    p.add_argument("people", nargs="*", help="person ids (or platform:@user for people not in the directory)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_attend)
    p = e.add_parser("report", help="RSVP against attendance and the survey summary")
    p.add_argument("id", type=int)
    p.add_argument("--csv", action="store_true", help="one row per person who answered")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_event_report)
