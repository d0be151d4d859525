"""`dxlab kb eval`: the dev set (tuned on), the holdout (written like the test set, split off the
later dev sets and only counted) and the sealed test sets (`test`, and `test2` written later, never
tuned on), side by side, lexical-only and hybrid, per question style; the dev misses (the sealed
sets' misses only when asked, the holdout's never)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bot.cli.common import knowledge_root, print_json
from bot.config import load_settings
from knowledge.evaluate import HANDOFF, IN_SCOPE, OUT_OF_SCOPE, Answer, Case, EvalReport, evaluate, load_cases
from knowledge.schema import bundled_dir
from knowledge.semantic import Embedder

SEALED = "test"  # the first sealed set; every later `test*` folder (test2, …) is sealed as well
HOLDOUT = "holdout"


def _sealed(name: str) -> bool:
    return re.fullmatch(rf"{SEALED}\d*", name) is not None


def _unlisted(name: str) -> bool:
    """Whether a set's misses are kept from view: reading them would be tuning on them."""
    return name == HOLDOUT or _sealed(name)


def dev_cases(root: Path) -> list[Case]:
    """The cases tuned on (the `dev` column): what calibration may fit to."""
    return load_cases(_default_sets(root / "eval").get("dev", []))


def _sets(files: list[str]) -> dict[str, list[Path]]:
    if not files:
        return _default_sets((knowledge_root() or bundled_dir()) / "eval")
    sets: dict[str, list[Path]] = {}
    for f in map(Path, files):
        name = f.stem if f.is_file() else f.name
        if name in sets:  # dev2/tune_in_scope.yaml beside dev3/tune_in_scope.yaml: both are kept
            name = f"{f.parent.name}/{name}"
        sets.setdefault(name, []).append(f)
    return sets


def _default_sets(evals: Path) -> dict[str, list[Path]]:
    later = sorted(evals.glob("dev[0-9]*"))  # dev2, dev3, …: each split into tune_* and holdout_*
    sets = {"dev": [p for p in (evals / "dev", *(f for d in later for f in sorted(d.glob("tune_*.yaml"))))
                    if p.exists()],
            HOLDOUT: [f for d in later for f in sorted(d.glob("holdout_*.yaml"))],
            **{d.name: [d] for d in sorted(evals.glob(f"{SEALED}*")) if d.is_dir() and _sealed(d.name)}}
    return {name: paths for name, paths in sets.items() if paths}


def _service(embedder: Embedder | None):  # type: ignore[no-untyped-def]
    from handlers.faq import FaqService
    from knowledge.live import LiveKnowledge

    settings = load_settings()
    live = LiveKnowledge(knowledge_root(), settings.answer_threshold, embedder=embedder)
    faq = FaqService(live, settings.max_question_chars)

    def ask(question: str) -> Answer:
        result = faq.ask(question)
        entry = live.engine.entry(result.entry_id) if result.entry_id else None
        facts = entry.cited_facts if entry else frozenset()
        return Answer(result.entry_id, result.answered, result.escalate, result.confidence, facts,
                      bool(entry and entry.handoff))

    return ask


def _cell(figure: tuple[int, int]) -> str:
    passed, total = figure
    return f"{passed:>3}/{total:<3} {passed / total:6.1%}" if total else "      -       "


def _table(reports: dict[tuple[str, str], EvalReport]) -> list[str]:
    columns = list(reports)
    width = 16
    lines = ["".ljust(26) + "".join(f"{s} {m}"[:width].ljust(width) for s, m in columns)]
    styles = sorted({s for r in reports.values() for s in r.styles()})
    rows: list[tuple[str, str, str | None]] = [("in scope, top-1", IN_SCOPE, None)]
    rows += [(f"  {style}", IN_SCOPE, style) for style in styles]
    rows += [("out of scope, declined", OUT_OF_SCOPE, None), ("hand-off", HANDOFF, None)]
    for label, category, style in rows:
        lines.append(label.ljust(26) + "".join(_cell(reports[c].rate(category, style)).ljust(width) for c in columns))
    return lines


def run_eval(args: argparse.Namespace, embedder: Embedder | None) -> int:
    sets = {name: load_cases(paths) for name, paths in _sets(args.files).items()}
    modes = {"lexical": None} | ({"hybrid": embedder} if embedder is not None else {})
    reports: dict[tuple[str, str], EvalReport] = {}
    for mode, emb in modes.items():
        ask = _service(emb)
        for name, cases in sets.items():
            reports[(name, mode)] = evaluate(cases, ask)
    primary = list(modes)[-1]
    if args.json:
        listed = {name for name in sets if not _unlisted(name) or (_sealed(name) and args.show_test_misses)}
        print_json({f"{name}/{mode}": r.as_dict(with_failures=name in listed) for (name, mode), r in reports.items()})
    else:
        for (name, mode), report in reports.items():
            if mode != primary or name == HOLDOUT or (_sealed(name) and not args.show_test_misses):
                continue
            for f in report.failures():
                print(f"MISS [{name}/{f['category']}/{f['style']}] {f['question']}\n"
                      f"      expected {f['expected']}, got {f['got']} "
                      f"(answered={f['answered']}, confidence={f['confidence']})")
        print("\n".join(_table(reports)))
        sealed = [name for name in sets if _sealed(name)]
        if sealed and not args.show_test_misses:
            print(f"(the sealed sets' misses ({', '.join(sealed)}) are not listed: they are never used for tuning)")
        if HOLDOUT in sets:
            print(f"(`{HOLDOUT}`: the later dev sets' held-out parts (dev2: a third, dev3: half), only counted, "
                  "its misses never listed)")
    below = False
    for (_, mode), report in reports.items():
        (ip, it), (op, ot) = report.in_scope, report.out_of_scope
        if mode == primary and ((it and ip / it < args.min_in_scope) or (ot and op / ot < args.min_declined)):
            below = True
    return 1 if below else 0
