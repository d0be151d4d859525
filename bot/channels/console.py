"""The terminal channel: plain text, with numbered choices for buttons and suggestions."""

from __future__ import annotations

import asyncio
import sys

from handlers.address import Address, Platform
from handlers.dispatch import Dispatcher
from handlers.i18n import t
from handlers.messages import Action, Button, Inbound, Reply

EXIT_WORDS = {"exit", "quit", "終了", "おわり"}


def render(reply: Reply) -> tuple[str, list[Button]]:
    """The reply as text, and the buttons in the order their numbers are shown."""
    choices = [*reply.buttons, *reply.suggestions]
    lines = [reply.text]
    if reply.source:
        lines.append(reply.source)
    if reply.attachment is not None:  # a terminal cannot show it: say what there is
        lines.append(t("console.attachment", title=reply.attachment.title, name=reply.attachment.name,
                       size=len(reply.attachment.data)))
    if reply.suggestions and reply.suggestion_intro:
        lines.append(reply.suggestion_intro)
    if choices:
        lines.append("  ".join(f"[{i}] {b.label}" for i, b in enumerate(choices, 1)))
    return "\n".join(lines), choices


HERE = Address(Platform.CONSOLE, "console", "console-user")


async def converse(dispatcher: Dispatcher, lines, write) -> bool:  # type: ignore[no-untyped-def]
    """One conversation: read lines, answer each; a number presses the matching button.
    True when the user typed an exit word, False when the input simply ended."""
    choices: list[Button] = []
    async for line in lines:
        text = line.strip()
        if text.lower() in EXIT_WORDS:
            return True
        if text.isdigit() and 1 <= int(text) <= len(choices):
            button = choices[int(text) - 1]
            reply = await dispatcher.action(Action(HERE, button.action, button.value))
        else:
            reply = await dispatcher.message(Inbound(HERE, text))
        if reply is None:
            continue
        shown, new_choices = render(reply)
        choices = new_choices or choices
        write(f"{t('console.bot')}{shown}\n")
    return False


def run_console(dispatcher: Dispatcher) -> int:
    interactive = sys.stdin.isatty()

    async def lines():  # type: ignore[no-untyped-def]
        while True:
            try:
                line = await asyncio.to_thread(input, t("console.prompt") if interactive else "")
            except EOFError:
                return
            yield line

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    if interactive:
        write(t("console.banner") + "\n")
    asyncio.run(converse(dispatcher, lines(), write))
    if interactive:
        write(t("console.bye") + "\n")
    return 0
