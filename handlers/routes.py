"""Routes are data: command words, action names, form ids, free-text intents and due-step kinds,
each mapped to the handler that serves it. Every use-case module adds its own in `register(routes)`;
`handlers.usecases.build_routes()` collects them. Channels never read this table: they convert a
platform payload into an Inbound, Action or Submission and hand it to the dispatcher.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from handlers.context import Context
from handlers.messages import Action, Inbound, Submission
from handlers.outcome import Outcome


@dataclass(frozen=True)
class DueStep:
    """A scheduled step whose time has come (an SLA check, a reminder, a nudge round)."""

    kind: str
    key: str
    due_at: dt.datetime
    payload: dict[str, Any]


MessageHandler = Callable[[Context, Inbound], Outcome]
ActionHandler = Callable[[Context, Action], Outcome]
FormHandler = Callable[[Context, Submission], Outcome]
StepHandler = Callable[[Context, DueStep], Outcome]
ClaimHandler = Callable[[Context, Inbound], Outcome | None]  # takes a free-text message, or None to pass it on
H = TypeVar("H")


class RouteConflict(ValueError):
    """Two use cases claimed the same command word, action, form, intent or step kind."""


def _add(table: dict[str, H], names: tuple[str, ...], handler: H, what: str) -> None:
    for name in names:
        key = name.lower()
        if key in table:
            raise RouteConflict(f"{what} {name!r} is routed twice")
        table[key] = handler


@dataclass
class Routes:
    commands: dict[str, MessageHandler] = field(default_factory=dict)  # first word of a command → handler
    actions: dict[str, ActionHandler] = field(default_factory=dict)
    forms: dict[str, FormHandler] = field(default_factory=dict)
    intents: dict[str, MessageHandler] = field(default_factory=dict)  # free text, by classified intent
    steps: dict[str, StepHandler] = field(default_factory=dict)
    usage: list[str] = field(default_factory=list)  # i18n keys of each command's one-line usage, for help
    unknown_command: MessageHandler | None = None  # a command word nobody routed
    claims: list[ClaimHandler] = field(default_factory=list)  # asked first for free text (a case's relay)
    cue_words: dict[str, list[str]] = field(default_factory=dict)  # intent → cue words (handlers.intent)

    def claim(self, handler: ClaimHandler) -> ClaimHandler:
        self.claims.append(handler)
        return handler

    def cues(self, intent: str, words: tuple[str, ...] | list[str]) -> None:
        """Words that point a free-text message to `intent` (a use case's INTENT_CUES)."""
        self.cue_words.setdefault(intent, []).extend(words)

    def command(self, *words: str, usage: str | None = None) -> Callable[[MessageHandler], MessageHandler]:
        def add(handler: MessageHandler) -> MessageHandler:
            _add(self.commands, words, handler, "command")
            if usage:
                self.usage.append(usage)
            return handler
        return add

    def action(self, *names: str) -> Callable[[ActionHandler], ActionHandler]:
        def add(handler: ActionHandler) -> ActionHandler:
            _add(self.actions, names, handler, "action")
            return handler
        return add

    def form(self, *ids: str) -> Callable[[FormHandler], FormHandler]:
        def add(handler: FormHandler) -> FormHandler:
            _add(self.forms, ids, handler, "form")
            return handler
        return add

    def intent(self, *names: str) -> Callable[[MessageHandler], MessageHandler]:
        def add(handler: MessageHandler) -> MessageHandler:
            _add(self.intents, names, handler, "intent")
            return handler
        return add

    def step(self, *kinds: str) -> Callable[[StepHandler], StepHandler]:
        def add(handler: StepHandler) -> StepHandler:
            _add(self.steps, kinds, handler, "step")
            return handler
        return add

    def find_command(self, text: str) -> tuple[MessageHandler, str, str] | None:
        """(handler, word, rest) when `text` starts with a routed command word (two words first:
        `secretariat here`), else None."""
        words = text.strip().split(maxsplit=2)
        for n in (2, 1):
            if len(words) >= n:
                word = " ".join(words[:n]).lower()
                if word in self.commands:
                    rest = text.strip()[len(" ".join(words[:n])):].strip()
                    return self.commands[word], word, rest
        return None
