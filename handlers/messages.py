"""The neutral message model: what comes in (Inbound, Action) and what goes out (Reply).

Each channel (Slack Block Kit, Teams Adaptive Cards, web chat HTML, console text) renders a Reply
its own way; handlers never know which one it will be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ActionName(StrEnum):
    FEEDBACK_UP = "feedback_up"
    FEEDBACK_DOWN = "feedback_down"
    HANDOFF = "handoff"
    ASK = "ask"  # a suggestion button: answer this entry


@dataclass(frozen=True)
class Inbound:
    """A message from a user: free text, or a command (`/dxlab ask …` on Slack)."""

    channel: str  # "slack" | "teams" | "web" | "console" | "cli"
    user_id: str
    conversation_id: str
    text: str
    thread_id: str | None = None
    is_command: bool = False
    lang: str = "ja"


@dataclass(frozen=True)
class Action:
    """A button press on a reply the bot sent earlier."""

    channel: str
    user_id: str
    conversation_id: str
    name: str
    value: str
    thread_id: str | None = None
    lang: str = "ja"


@dataclass(frozen=True)
class Button:
    label: str
    action: ActionName
    value: str
    style: str | None = None  # "primary" | "danger" | None


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    multiline: bool = False
    required: bool = True
    placeholder: str = ""


@dataclass(frozen=True)
class Form:
    """A modal (Slack) or an input card (Teams) the user fills in and submits."""

    id: str
    title: str
    fields: tuple[FormField, ...]
    submit_label: str


@dataclass(frozen=True)
class Reply:
    text: str
    source: str | None = None  # "出典: … / …時点の情報です"
    buttons: tuple[Button, ...] = ()
    suggestions: tuple[Button, ...] = ()
    suggestion_intro: str | None = None
    form: Form | None = None
    ephemeral: bool = False  # shown only to the user who acted (Slack); others render it normally
    meta: dict[str, object] = field(default_factory=dict)

    def plain_text(self) -> str:
        """The whole reply as text: for the console, notifications and fallbacks."""
        parts = [self.text]
        if self.source:
            parts.append(self.source)
        if self.suggestions:
            parts.append(self.suggestion_intro or "")
            parts.extend(f"  ・{b.label}" for b in self.suggestions)
        return "\n".join(p for p in parts if p)
