"""The neutral message model: what comes in (Inbound, Action) and what goes out (Reply).

Each channel (Slack Block Kit, Teams Adaptive Cards, web chat HTML, console text) renders a Reply
its own way; handlers never know which one it will be.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any

from handlers.address import Address


class ActionName(StrEnum):
    """The actions of the FAQ answer's own buttons (other use cases name theirs in their module)."""

    FEEDBACK_UP = "feedback_up"
    FEEDBACK_DOWN = "feedback_down"
    HANDOFF = "handoff"
    ASK = "ask"  # a suggestion button: answer this entry


class Visibility(StrEnum):
    CONVERSATION = "conversation"  # everyone in the conversation sees it
    PRIVATE = "private"  # only the person it answers (Slack: ephemeral; elsewhere a normal message)


class ReplyKind(StrEnum):
    """What a reply is, for channels and tests; never a back channel for data."""

    ANSWER = "answer"
    HELP = "help"
    NOTICE = "notice"  # a confirmation, a refusal, a thanks
    ERROR = "error"
    PROACTIVE = "proactive"  # sent by the bot on its own (through the outbox)


@dataclass(frozen=True)
class Inbound:
    """A message from a user: free text, or a command (`/dxlab …` on Slack, `dxlab …` typed elsewhere)."""

    address: Address
    text: str
    is_command: bool = False
    lang: str = "ja"
    addressed: bool = True  # False: a message in a thread the bot may or may not be part of


@dataclass(frozen=True)
class Action:
    """A button press on a message the bot sent earlier."""

    address: Address
    name: str
    value: str
    lang: str = "ja"


@dataclass(frozen=True)
class Submission:
    """A filled-in form (a Slack modal, a Teams input card, a web chat form)."""

    address: Address
    form_id: str
    values: dict[str, str]
    context: str = ""  # what the form was about (a case id, an event id), as the form carried it
    lang: str = "ja"


@dataclass(frozen=True)
class Button:
    label: str
    action: str
    value: str
    style: str | None = None  # "primary" | "danger" | None


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    multiline: bool = False
    required: bool = True
    placeholder: str = ""
    initial: str = ""
    options: tuple[tuple[str, str], ...] = ()  # (value, label): a choice instead of free text


@dataclass(frozen=True)
class Form:
    """A modal (Slack) or an input card (Teams) the user fills in and submits."""

    id: str
    title: str
    fields: tuple[FormField, ...]
    submit_label: str
    context: str = ""


@dataclass(frozen=True)
class AnswerInfo:
    """Which knowledge-base answer a reply carries (for the log, the buttons and tests)."""

    log_id: int
    entry_id: str | None
    answered: bool
    confidence: float


MAX_ATTACHMENT_BYTES = 1_000_000  # an outbox row carries it (base64) and Teams takes it inline as a data URL


@dataclass(frozen=True)
class Attachment:
    """An image that goes with a reply (the KPI digest's chart). Small by design: it travels inside the
    outbox row, so anything bigger belongs behind a link instead."""

    name: str  # a file name: overdue.png
    title: str  # what it shows, for people (Slack's file title, alt text)
    media_type: str  # image/png
    data: bytes

    def __post_init__(self) -> None:
        if not self.media_type.startswith("image/"):
            raise ValueError(f"attachment {self.name!r}: only images can be attached, not {self.media_type!r}")
        if not 0 < len(self.data) <= MAX_ATTACHMENT_BYTES:
            raise ValueError(f"attachment {self.name!r}: {len(self.data)} bytes; an attachment has 1 to "
                             f"{MAX_ATTACHMENT_BYTES} bytes (link to anything bigger)")

    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True)
class Reply:
    text: str
    source: str | None = None  # "出典: … / …時点の情報です"
    buttons: tuple[Button, ...] = ()
    suggestions: tuple[Button, ...] = ()
    suggestion_intro: str | None = None
    form: Form | None = None  # offered with a button that opens it (or shown inline where no modal exists)
    visibility: Visibility = Visibility.CONVERSATION
    kind: ReplyKind = ReplyKind.NOTICE
    title: str | None = None
    answer: AnswerInfo | None = None
    attachment: Attachment | None = None

    @property
    def ephemeral(self) -> bool:
        return self.visibility == Visibility.PRIVATE

    def private(self) -> Reply:
        return replace(self, visibility=Visibility.PRIVATE)

    def plain_text(self) -> str:
        """The whole reply as text: for the console, notifications and fallbacks."""
        parts = [self.title or "", self.text]
        if self.source:
            parts.append(self.source)
        if self.suggestions:
            parts.append(self.suggestion_intro or "")
            parts.extend(f"  ・{b.label}" for b in self.suggestions)
        return "\n".join(p for p in parts if p)

    def to_json(self) -> str:
        """The neutral payload an outbox row keeps; each channel renders it when it is sent."""
        data = asdict(self)
        if self.attachment is not None:  # bytes have no JSON form
            data["attachment"]["data"] = base64.b64encode(self.attachment.data).decode("ascii")
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Reply:
        return _reply_from_dict(json.loads(text))


def _reply_from_dict(data: dict[str, Any]) -> Reply:
    form = data.get("form")
    answer = data.get("answer")
    attachment = data.get("attachment")
    known = {f.name for f in fields(Reply)}
    return Reply(**{
        **{k: v for k, v in data.items() if k in known},
        "buttons": tuple(Button(**b) for b in data.get("buttons", ())),
        "suggestions": tuple(Button(**b) for b in data.get("suggestions", ())),
        "form": None if form is None else Form(**{
            **form, "fields": tuple(FormField(**{**f, "options": tuple(tuple(o) for o in f.get("options", ()))})
                                    for f in form["fields"])}),
        "visibility": Visibility(data.get("visibility", Visibility.CONVERSATION)),
        "kind": ReplyKind(data.get("kind", ReplyKind.NOTICE)),
        "answer": None if answer is None else AnswerInfo(**answer),
        "attachment": None if attachment is None else Attachment(**{
            **attachment, "data": base64.b64decode(attachment["data"], validate=True)}),
    })
