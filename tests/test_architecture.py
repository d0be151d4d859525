"""Boundaries the design depends on, each checked by a function that a test of the test shows failing."""

from __future__ import annotations

import ast

from tests.helpers import REPO

SDK_OWNERS = {
    "slack_bolt": {"bot/channels/slack.py"},
    "slack_sdk": {"bot/channels/slack.py", "bot/channels/slack_sender.py"},
    "botbuilder": {"bot/channels/teams.py", "bot/channels/teams_package.py", "bot/channels/teams_sender.py"},
    "botframework": {"bot/channels/teams.py", "bot/channels/teams_sender.py"},
    "apscheduler": {"scheduler/runner.py"},
}
# What a channel may take from handlers/: the neutral model, the dispatcher and the words; never a use
# case, the route table or the intent rules (a channel that knows a command word decides domain things).
CHANNEL_MAY_IMPORT = {"handlers.address", "handlers.messages", "handlers.dispatch", "handlers.i18n",
                      "handlers.outcome"}


def _imports(source: str, full: bool = False) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name if full else a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module if full else node.module.split(".")[0])
    return names


def sdk_offenders(files: dict[str, str]) -> list[str]:
    return [f"{rel} imports {sdk}" for rel, source in files.items()
            for sdk in sorted(_imports(source) & set(SDK_OWNERS)) if rel not in SDK_OWNERS[sdk]]


def channel_offenders(files: dict[str, str]) -> list[str]:
    return [f"{rel} imports {name}" for rel, source in files.items() if rel.startswith("bot/channels/")
            for name in sorted(_imports(source, full=True))
            if name.startswith("handlers.") and name not in CHANNEL_MAY_IMPORT]


def layer_offenders(files: dict[str, str]) -> list[str]:
    """Packages point one way: bot → scheduler → handlers → knowledge. handlers/ and knowledge/ never reach
    the runtime edges (no web server, no database driver), and nothing imports the package above it."""
    banned = {"handlers": {"aiohttp", "sqlalchemy", "alembic", "bot", "scheduler"},
              "knowledge": {"aiohttp", "sqlalchemy", "alembic", "bot", "handlers", "scheduler"},
              "scheduler": {"bot"}}
    return [f"{rel} imports {name}" for rel, source in files.items()
            for name in sorted(_imports(source) & banned.get(rel.split("/")[0], set()))]


def _tree() -> dict[str, str]:
    return {path.relative_to(REPO).as_posix(): path.read_text(encoding="utf-8")
            for package in ("bot", "handlers", "knowledge", "scheduler") for path in (REPO / package).rglob("*.py")}


def test_sdks_are_imported_only_by_their_adapters() -> None:
    assert not sdk_offenders(_tree())


def test_channels_know_no_use_case() -> None:
    assert not channel_offenders(_tree())


def test_layers_point_one_way() -> None:
    assert not layer_offenders(_tree())


def test_the_rules_catch_a_breach() -> None:
    """A test of the tests: each rule flags a file that breaks it."""
    assert sdk_offenders({"handlers/x.py": "import slack_sdk\n"}) == ["handlers/x.py imports slack_sdk"]
    assert channel_offenders({"bot/channels/slack.py": "from handlers.answers import answer\n"})
    assert channel_offenders({"bot/channels/teams.py": "from handlers.routes import Routes\n"})
    assert not channel_offenders({"bot/channels/web.py": "from handlers.messages import Reply\n"})
    assert layer_offenders({"handlers/x.py": "from bot.config import Settings\n"})
    assert layer_offenders({"scheduler/x.py": "import bot.config\n"})
    assert layer_offenders({"handlers/x.py": "from scheduler.outbox import Sender\n"})
