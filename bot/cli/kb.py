"""`dxlab kb …`: lint, export, evaluate, list gaps in and recalibrate the knowledge base."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from bot.app import build_core
from bot.cli.common import knowledge_root, print_json
from bot.config import load_settings


def cmd_kb_lint(args: argparse.Namespace) -> int:
    from knowledge.lint import lint

    settings = load_settings()
    max_age = args.max_age_days if args.max_age_days is not None else settings.kb_max_age_days
    today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()
    report = lint(knowledge_root(), today, max_age)
    if args.json:
        print_json({"entries": report.entries, "errors": list(report.errors), "warnings": list(report.warnings)})
    else:
        for line in report.errors:
            print(f"error: {line}")
        for line in report.warnings:
            print(f"warning: {line}")
        print(f"{report.entries} entries, {len(report.errors)} errors, {len(report.warnings)} warnings")
    return 0 if report.ok or (not report.errors and not args.strict) else 1


def cmd_kb_export(args: argparse.Namespace) -> int:
    from knowledge.schema import load_knowledge

    kb = load_knowledge(knowledge_root())
    json.dump([e.as_dict() for e in kb.entries], sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


def cmd_kb_eval(args: argparse.Namespace) -> int:
    from handlers.faq import FaqService
    from knowledge.evaluate import evaluate, load_cases
    from knowledge.live import LiveKnowledge

    settings = load_settings()
    faq = FaqService(LiveKnowledge(knowledge_root(), settings.answer_threshold), settings.max_question_chars)

    def ask(q: str) -> tuple[str | None, bool, float]:
        r = faq.ask(q)
        return r.entry_id, r.answered, r.confidence

    report = evaluate(load_cases(Path(p) for p in args.files), ask)
    data = report.as_dict()
    if args.json:
        print_json(data)
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
    from bot.db.repos.questions import question_misses
    from knowledge.gaps import Miss, group_misses

    core = build_core()
    try:
        threshold = core.knowledge.engine.threshold
        misses = [Miss(q, r, e) for q, r, e in question_misses(core.db, low_confidence=threshold + 0.1)]
        gaps = group_misses(misses, core.knowledge.engine.index.analyzer)[: args.limit]
    finally:
        core.close()
    if args.json:
        print_json([g.as_dict() for g in gaps])
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

    root = knowledge_root() or bundled_dir()
    calibration, threshold, stats = calibrate(load_knowledge(root), root / "calibration_oos.yaml")
    write(root / "calibration.yaml", calibration, threshold, stats)
    print(f"wrote {root / 'calibration.yaml'}: threshold {threshold:.2f}, " +
          ", ".join(f"{k} {v:.3f}" for k, v in stats.items()))
    return 0



def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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
    from bot.cli.cases import register_drafts

    register_drafts(kb)  # `kb drafts list|approve`: FAQ drafts made from consultations
