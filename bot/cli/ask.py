"""`dxlab ask`: answer questions on the command line (one, or one per stdin line as JSON lines)."""

from __future__ import annotations

import argparse
import sys

from bot.app import Core, build_core
from bot.cli.common import print_json, stdin_lines
from bot.db.log_writer import QuestionLogWriter


def cmd_ask(args: argparse.Namespace) -> int:
    core = build_core()
    writer = QuestionLogWriter(core.db)
    try:
        if args.jsonl:
            for line in stdin_lines():
                print_json(_ask_logged(core, writer, line))
            return 0
        question = " ".join(args.question) if args.question else ""
        if not args.question and not sys.stdin.isatty():
            question = "\n".join(stdin_lines())
        result = _ask_logged(core, writer, question)
        if args.json:
            print_json(result)
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


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ask = sub.add_parser("ask", help="answer one question (or one per line with --jsonl)")
    ask.add_argument("question", nargs="*")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument("--jsonl", action="store_true", help="read questions from stdin, one JSON line each")
    ask.set_defaults(func=cmd_ask)
