"""The `dxlab` command (also `python -m bot`): one module per area, each adding its subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.cli import announce, ask, cases, directory, jobs, kb, kpi, serve
from bot.config import SettingsError
from handlers.i18n import t

# Each module has `register(subparsers)`; the order is the order of `dxlab --help`.
COMMAND_MODULES = (ask, kb, serve, directory, jobs, cases, announce, kpi)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dxlab", description=t("help.title"))
    sub = p.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
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
