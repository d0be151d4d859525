"""`dxlab kb …`: lint, export, evaluate, embed, list gaps in and recalibrate the knowledge base."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

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


def _embedder(mode: str | None):  # type: ignore[no-untyped-def]
    from knowledge.semantic import make_embedder

    settings = load_settings()
    return make_embedder(mode or settings.semantic, model=settings.embedding_model,
                         base_url=settings.openai_base_url, api_key=settings.openai_api_key)


def cmd_kb_eval(args: argparse.Namespace) -> int:
    from bot.cli.kb_eval import run_eval

    return run_eval(args, _embedder(None if args.semantic == "settings" else args.semantic))


def cmd_kb_gaps(args: argparse.Namespace) -> int:
    from bot.app import build_core
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
    from bot.cli.kb_eval import dev_cases
    from knowledge.answer import LEXICAL, vectors_dir
    from knowledge.calibrate import calibrate, write
    from knowledge.schema import bundled_dir, load_knowledge
    from knowledge.semantic import VectorStore

    root = knowledge_root() or bundled_dir()
    kb = load_knowledge(root)
    embedder = _embedder(args.semantic)
    modes = [(LEXICAL, None)] + ([(f"hybrid-{embedder.name}", embedder)] if embedder is not None else [])
    for mode, emb in modes:
        store = VectorStore(vectors_dir(root), emb.name) if emb is not None else None
        calibration, stats = calibrate(kb, root / "calibration_oos.yaml", emb, store, dev_cases(root))
        path = write(root, mode, calibration, stats)
        print(f"wrote {path} [{mode}]: threshold {calibration.threshold:.3f}, " +
              ", ".join(f"{k} {v:.3f}" for k, v in stats.items()))
    return 0


def cmd_kb_embed(args: argparse.Namespace) -> int:
    import time

    from knowledge.answer import vectors_dir
    from knowledge.schema import bundled_dir, load_knowledge
    from knowledge.semantic import SemanticIndex, VectorStore

    root = knowledge_root() or bundled_dir()
    embedder = _embedder(args.semantic)
    if embedder is None:
        print("semantic retrieval is off (DXLAB_SEMANTIC=off): nothing to embed", file=sys.stderr)
        return 1
    kb = load_knowledge(root)
    store = VectorStore(vectors_dir(root), embedder.name)
    start = time.perf_counter()
    index = SemanticIndex(kb.entries, embedder, store, embed_limit=None)
    dropped = store.keep_only(index.keys)
    store.save()
    print(f"{embedder.name}: {len(index.keys)} texts, {index.embedded_now} embedded now, {dropped} dropped, "
          f"{time.perf_counter() - start:.1f} s -> {vectors_dir(root)}")
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
    ev = kb.add_parser("eval", help="accuracy on the dev and sealed test sets, lexical-only and hybrid")
    ev.add_argument("files", nargs="*", help="evaluation files or folders (default: eval/dev and eval/test)")
    ev.add_argument("--semantic", choices=["settings", "local", "openai", "off"], default="settings",
                    help="the hybrid column's embedder (default: DXLAB_SEMANTIC); off: lexical only")
    ev.add_argument("--show-test-misses", action="store_true", help="also list the sealed test sets' misses")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--min-in-scope", type=float, default=0.0, help="exit 1 below this top-1 accuracy")
    ev.add_argument("--min-declined", type=float, default=0.0, help="exit 1 below this decline rate")
    ev.set_defaults(func=cmd_kb_eval)
    em = kb.add_parser("embed", help="compute entry vectors ahead (only texts not embedded yet)")
    em.add_argument("--semantic", choices=["local", "openai"], default=None, help="default: DXLAB_SEMANTIC")
    em.set_defaults(func=cmd_kb_embed)
    gaps = kb.add_parser("gaps", help="declined, low-confidence and 👎 questions, grouped")
    gaps.add_argument("--limit", type=int, default=30)
    gaps.add_argument("--json", action="store_true")
    gaps.set_defaults(func=cmd_kb_gaps)

    cal = kb.add_parser("calibrate", help="refit the confidence model and threshold (lexical and hybrid)")
    cal.add_argument("--semantic", choices=["local", "openai", "off"], default=None, help="default: DXLAB_SEMANTIC")
    cal.set_defaults(func=cmd_kb_calibrate)
    from bot.cli.cases import register_drafts

    register_drafts(kb)  # `kb drafts list|approve`: FAQ drafts made from consultations
