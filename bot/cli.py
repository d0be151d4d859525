"""The `dxlab` command (also `python -m bot`)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.app import Core, build_core
from bot.config import SettingsError, load_settings
from bot.db.log_writer import QuestionLogWriter
from bot.i18n import t


def _print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _stdin_lines():  # type: ignore[no-untyped-def]
    # Bytes, decoded leniently: binary garbage on stdin must become a polite answer, not a crash.
    for raw in sys.stdin.buffer:
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def cmd_ask(args: argparse.Namespace) -> int:

    core = build_core()
    writer = QuestionLogWriter(core.db)
    try:
        if args.jsonl:
            for line in _stdin_lines():
                _print_json(_ask_logged(core, writer, line))
            return 0
        question = " ".join(args.question) if args.question else ""
        if not args.question and not sys.stdin.isatty():
            question = "\n".join(_stdin_lines())
        result = _ask_logged(core, writer, question)
        if args.json:
            _print_json(result)
        else:
            print(result["answer"])
            if result.get("source_line"):
                print(result["source_line"])
        return 0
    finally:
        writer.close()
        core.close()


def _ask_logged(core: Core, writer: QuestionLogWriter, question: str) -> dict[str, object]:
    result = core.faq.ask(question)
    if not result.rejected:
        writer.submit(result.record("cli", None, None))
    out = result.as_json()
    if result.source_line:
        out["source_line"] = result.source_line
    return out


def _knowledge_root() -> Path | None:
    settings = load_settings()
    return Path(settings.knowledge_dir) if settings.knowledge_dir else None


def cmd_kb_lint(args: argparse.Namespace) -> int:
    from knowledge.lint import lint

    settings = load_settings()
    max_age = args.max_age_days if args.max_age_days is not None else settings.kb_max_age_days
    today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()
    report = lint(_knowledge_root(), today, max_age)
    if args.json:
        _print_json({"entries": report.entries, "errors": list(report.errors), "warnings": list(report.warnings)})
    else:
        for line in report.errors:
            print(f"error: {line}")
        for line in report.warnings:
            print(f"warning: {line}")
        print(f"{report.entries} entries, {len(report.errors)} errors, {len(report.warnings)} warnings")
    return 0 if report.ok or (not report.errors and not args.strict) else 1


def cmd_kb_export(args: argparse.Namespace) -> int:
    from knowledge.schema import load_knowledge

    kb = load_knowledge(_knowledge_root())
    json.dump([e.as_dict() for e in kb.entries], sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


def cmd_kb_eval(args: argparse.Namespace) -> int:
    from handlers.faq import FaqService
    from knowledge.evaluate import evaluate, load_cases
    from knowledge.live import LiveKnowledge

    settings = load_settings()
    faq = FaqService(LiveKnowledge(_knowledge_root(), settings.answer_threshold), settings.max_question_chars)

    def ask(q: str) -> tuple[str | None, bool, float]:
        r = faq.ask(q)
        return r.entry_id, r.answered, r.confidence

    report = evaluate(load_cases(Path(p) for p in args.files), ask)
    data = report.as_dict()
    if args.json:
        _print_json(data)
    else:
        for f in data["failures"]:  # type: ignore[union-attr]
            print(f"FAIL  {f['question']}\n      expected {f['expected']}, got {f['got']} "
                  f"(answered={f['answered']}, confidence={f['confidence']})")
        ins, oos = data["in_scope"], data["out_of_scope"]
        print(f"in scope: {ins['passed']}/{ins['total']} top-1"  # type: ignore[index]
              f"  out of scope: {oos['declined']}/{oos['total']} declined")  # type: ignore[index]
    (ip, it), (op, ot) = report.in_scope, report.out_of_scope
    below = (it and ip / it < args.min_in_scope) or (ot and op / ot < args.min_declined)
    return 1 if below else 0


def cmd_kb_gaps(args: argparse.Namespace) -> int:
    from bot.db.store import question_misses
    from knowledge.gaps import Miss, group_misses

    core = build_core()
    try:
        threshold = core.knowledge.engine.threshold
        misses = [Miss(q, r, e) for q, r, e in question_misses(core.db, low_confidence=threshold + 0.1)]
        gaps = group_misses(misses, core.knowledge.engine.index.analyzer)[: args.limit]
    finally:
        core.close()
    if args.json:
        _print_json([g.as_dict() for g in gaps])
        return 0
    if not gaps:
        print("no gaps: every logged question was answered with confidence")
    for g in gaps:
        d = g.as_dict()
        reasons = ", ".join(f"{k} {v}" for k, v in d["reasons"].items())  # type: ignore[union-attr]
        print(f"{d['count']:>4}  {d['question']}  ({reasons})")
        for example in d["examples"][1:]:  # type: ignore[index]
            print(f"        - {example}")
    return 0


def cmd_kb_calibrate(args: argparse.Namespace) -> int:
    from knowledge.calibrate import calibrate, write
    from knowledge.schema import bundled_dir, load_knowledge

    root = _knowledge_root() or bundled_dir()
    calibration, threshold, stats = calibrate(load_knowledge(root), root / "calibration_oos.yaml")
    write(root / "calibration.yaml", calibration, threshold, stats)
    print(f"wrote {root / 'calibration.yaml'}: threshold {threshold:.2f}, " +
          ", ".join(f"{k} {v:.3f}" for k, v in stats.items()))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.channels.console import run_console

    core = build_core()
    try:
        return run_console(core.bot)
    finally:
        core.close()


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.db.session import current_revision, make_engine, upgrade

    engine = make_engine(load_settings().database_url)
    upgrade(engine)
    print(f"database at revision {current_revision(engine)}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.server import serve

    return serve(host=args.host, port=args.port, console=args.console,
                 allow_unauthenticated=args.allow_unauthenticated)


def cmd_teams_package(args: argparse.Namespace) -> int:
    from bot.channels.teams_package import build_package

    path = build_package(Path(args.output), app_id=args.app_id or load_settings().microsoft_app_id)
    print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dxlab", description=t("help.title"))
    sub = p.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="answer one question (or one per line with --jsonl)")
    ask.add_argument("question", nargs="*")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument("--jsonl", action="store_true", help="read questions from stdin, one JSON line each")
    ask.set_defaults(func=cmd_ask)

    kb = sub.add_parser("kb", help="knowledge base: lint, export, eval, gaps").add_subparsers(
        dest="kb_command", required=True)
    lint = kb.add_parser("lint", help="validate the knowledge base")
    lint.add_argument("--max-age-days", type=int, default=None, help="volatile facts older than this warn")
    lint.add_argument("--today", help="the date to measure age from (YYYY-MM-DD)")
    lint.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    lint.add_argument("--json", action="store_true")
    lint.set_defaults(func=cmd_kb_lint)
    kb.add_parser("export", help="all entries as a JSON array").set_defaults(func=cmd_kb_export)
    ev = kb.add_parser("eval", help="accuracy over evaluation files or folders")
    ev.add_argument("files", nargs="+")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--min-in-scope", type=float, default=0.0, help="exit 1 below this top-1 accuracy")
    ev.add_argument("--min-declined", type=float, default=0.0, help="exit 1 below this decline rate")
    ev.set_defaults(func=cmd_kb_eval)
    gaps = kb.add_parser("gaps", help="declined, low-confidence and 👎 questions, grouped")
    gaps.add_argument("--limit", type=int, default=30)
    gaps.add_argument("--json", action="store_true")
    gaps.set_defaults(func=cmd_kb_gaps)

    kb.add_parser("calibrate", help="refit the confidence model and threshold").set_defaults(
        func=cmd_kb_calibrate)

    sub.add_parser("chat", help="talk to the bot in this terminal").set_defaults(func=cmd_chat)

    serve = sub.add_parser("serve", help="run the server: Slack, Teams, web chat")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: $PORT, else 3978")
    serve.add_argument("--console", action="store_true", help="also chat in this terminal")
    serve.add_argument("--allow-unauthenticated", action="store_true",
                       help="serve /api/messages without Bot Framework auth on a non-loopback host")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="migrate to the newest schema").set_defaults(func=cmd_db_upgrade)

    teams = sub.add_parser("teams-package", help="build the Teams app zip")
    teams.add_argument("--output", default="dxlab-teams.zip")
    teams.add_argument("--app-id", default="")
    teams.set_defaults(func=cmd_teams_package)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"dxlab: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
