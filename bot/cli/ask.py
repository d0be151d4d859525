"""`dxlab ask`: answer questions on the command line (one, or one per stdin line as JSON lines)."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from bot.app import Core, build_core
from bot.cli.common import print_json, stdin_lines
from bot.db.log_writer import QuestionLogWriter

EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(Exception):
    """SIGTERM arrived while taking questions."""


class SigtermStops:
    """While armed, SIGTERM raises `Terminated` in the main thread (as Ctrl-C raises
    KeyboardInterrupt), so the log is flushed on the way out instead of being lost as on SIGKILL.
    Once disarmed (the flush has begun), SIGTERM is ignored."""

    def __init__(self) -> None:
        self.armed = True

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        if self.armed:
            self.armed = False
            raise Terminated

    @contextmanager
    def installed(self) -> Iterator[SigtermStops]:
        previous = signal.signal(signal.SIGTERM, self._handle)
        try:
            yield self
        finally:
            signal.signal(signal.SIGTERM, previous)


def cmd_ask(args: argparse.Namespace) -> int:
    with SigtermStops().installed() as stops:
        try:
            return _answer(args, stops)
        except Terminated:
            return EXIT_TERMINATED


def _answer(args: argparse.Namespace, stops: SigtermStops) -> int:
    core = build_core()
    writer = QuestionLogWriter(core.db)
    try:
        if args.jsonl:
            # Each question reaches the writer before its answer is printed, and the writer is
            # drained below: every answer anyone saw is logged (end of input, Ctrl-C or SIGTERM).
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
        stops.armed = False
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
