"""Boundaries the design depends on: SDKs stay in their channel modules."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

SDK_OWNERS = {
    "slack_bolt": {"bot/channels/slack.py"},
    "slack_sdk": {"bot/channels/slack.py", "bot/channels/slack_sender.py"},
    "botbuilder": {"bot/channels/teams.py", "bot/channels/teams_package.py", "bot/channels/teams_sender.py"},
    "apscheduler": {"scheduler/runner.py"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_sdks_are_imported_only_by_their_adapters() -> None:
    offenders = []
    for package in ("bot", "handlers", "knowledge", "scheduler"):
        for path in (REPO / package).rglob("*.py"):
            rel = path.relative_to(REPO).as_posix()
            for sdk in _imports(path) & set(SDK_OWNERS):
                if rel not in SDK_OWNERS[sdk]:
                    offenders.append(f"{rel} imports {sdk}")
    assert not offenders


def test_handlers_and_knowledge_never_import_the_runtime_edges() -> None:
    for package in ("handlers", "knowledge"):
        for path in (REPO / package).rglob("*.py"):
            imported = _imports(path)
            assert not imported & {"aiohttp", "sqlalchemy", "alembic"}, path
