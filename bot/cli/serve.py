"""`dxlab serve`, `chat`, `db upgrade` and `teams-package`: running and deploying the bot."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.app import build_core
from bot.config import load_settings


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.channels.console import run_console

    core = build_core()
    try:
        return run_console(core.dispatcher)
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
                 allow_unauthenticated=args.allow_unauthenticated, demo=args.demo)


def cmd_teams_package(args: argparse.Namespace) -> int:
    from bot.channels.teams_package import build_package

    path = build_package(Path(args.output), app_id=args.app_id or load_settings().microsoft_app_id)
    print(path)
    return 0



def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub.add_parser("chat", help="talk to the bot in this terminal").set_defaults(func=cmd_chat)

    serve = sub.add_parser("serve", help="run the server: Slack, Teams, web chat")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: $PORT, else 3978")
    serve.add_argument("--console", action="store_true", help="also chat in this terminal")
    serve.add_argument("--demo", action="store_true",
                       help="load the demo directory (announced labs, fictional people) into an empty directory")
    serve.add_argument("--allow-unauthenticated", action="store_true",
                       help="serve /api/messages without Bot Framework auth on a non-loopback host")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="migrate to the newest schema").set_defaults(func=cmd_db_upgrade)

    teams = sub.add_parser("teams-package", help="build the Teams app zip")
    teams.add_argument("--output", default="dxlab-teams.zip")
    teams.add_argument("--app-id", default="")
    teams.set_defaults(func=cmd_teams_package)
