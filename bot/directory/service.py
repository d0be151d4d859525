"""Import files into the stored directory: read, plan against what is stored, and apply only when the
whole plan is free of errors (one transaction: nothing is ever half imported)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bot.db.uow import UnitsOfWork
from handlers.directory import Directory, Plan, Problem, parse_files, plan_import


def read_files(paths: Iterable[Path]) -> tuple[list[tuple[str, str]], list[Problem]]:
    files, problems = [], []
    for path in paths:
        try:
            files.append((str(path), path.read_text(encoding="utf-8-sig")))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), 0, f"cannot read: {exc}"))
    return files, problems


def _is_demo(directory: Directory) -> bool:
    return bool(directory.people) and all(p.demo for p in directory.people)


def import_files(units: UnitsOfWork, files: list[tuple[str, str]], actor: str, prune: bool = False,
                 dry_run: bool = False) -> Plan:
    """Plan the import of (name, text) files and, unless it has errors (or `dry_run`), apply it."""
    parsed = parse_files(files)
    with units() as uow:
        existing = uow.directory.snapshot()
        replace_demo = _is_demo(existing) and not _is_demo(parsed.directory)
        plan = plan_import(existing, parsed, prune or replace_demo)
        if replace_demo:  # said out loud, never silent: the demo's entries go
            plan.warnings.append(Problem("(directory)", 0, "the demo directory was replaced: its entries were removed"))
        if not plan.errors and not dry_run:
            uow.directory.apply(plan, actor)
            uow.commit()
    return plan
