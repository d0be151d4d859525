"""A consultation case as a plain value, its statuses, and what the use case needs from storage."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from handlers.address import Address


class Status(StrEnum):
    RECEIVED = "received"  # 受付
    PENDING = "pending"  # 割当待ち: offered, nobody has accepted yet
    ACTIVE = "active"  # 対応中
    ANSWERED = "answered"  # 回答済
    CLOSED = "closed"  # 完了


OPEN = (Status.RECEIVED, Status.PENDING, Status.ACTIVE, Status.ANSWERED)
UNCLAIMED = (Status.RECEIVED, Status.PENDING)
CLAIMED = (Status.ACTIVE, Status.ANSWERED)


class Door(StrEnum):
    BUTTON = "button"  # 担当者に相談する under an FAQ answer
    WORDS = "words"  # a request in words (「専門家に相談したい」)
    COMMAND = "command"  # /dxlab 相談 本文 (counts as consent to share the text)


def case_ref(year: int, seq: int) -> str:
    return f"DX-{year:04d}-{seq:04d}"


def parse_ref(text: str) -> tuple[int, int] | None:
    parts = text.strip().upper().split("-")
    if len(parts) != 3 or parts[0] != "DX" or not all(p.isascii() and p.isdigit() for p in parts[1:]):
        return None
    return int(parts[1]), int(parts[2])


@dataclass(frozen=True)
class Candidate:
    person: str
    score: float
    reason: str
    substitute_for: str | None = None


@dataclass
class Case:
    id: int
    year: int
    seq: int
    status: Status
    door: str
    text: str
    requester_ref: str
    requester_address: Address
    created_at: dt.datetime
    last_activity_at: dt.datetime
    bot_answer: str | None = None
    question_log_id: int | None = None
    topic: str = ""
    prefecture: str = ""
    industry: str = ""
    org: str = ""
    size: str = ""
    want: str = ""
    contact: str = ""
    consent: bool = False
    requester_person: str | None = None
    offered_to: str | None = None
    assignee: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    claimed_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    activity: int = 0
    reopened: int = 0
    rating: int | None = None
    comment: str | None = None

    @property
    def ref(self) -> str:
        return case_ref(self.year, self.seq)


@dataclass(frozen=True)
class NewCase:
    door: str
    text: str
    requester_ref: str
    requester_address: Address
    at: dt.datetime
    year: int
    bot_answer: str | None = None
    question_log_id: int | None = None
    topic: str = ""
    prefecture: str = ""
    industry: str = ""
    org: str = ""
    consent: bool = False
    requester_person: str | None = None


@dataclass(frozen=True)
class Offer:
    person: str
    round: int
    state: str  # offered | declined | accepted | withdrawn
    at: dt.datetime


@dataclass(frozen=True)
class Relayed:
    at: dt.datetime
    side: str  # requester | expert
    sender: str
    text: str


class ConsultRepo(Protocol):
    def create(self, new: NewCase) -> Case:
        """A new case numbered next in its year (a race on the number raises Conflict; the dispatcher retries)."""
        ...

    def get(self, case_id: int) -> Case | None: ...

    def by_ref(self, ref: str) -> Case | None: ...

    def by_question(self, question_log_id: int) -> Case | None: ...

    def save(self, case: Case) -> None: ...

    def offers(self, case_id: int) -> list[Offer]: ...

    def set_offer(self, case_id: int, person: str, round_: int, state: str, at: dt.datetime) -> None: ...

    def open_counts(self, person_ids: list[str]) -> dict[str, int]:
        """Open cases per expert: assigned and not closed, or offered and not answered yet."""
        ...

    def open_for_requester(self, conversation_key: str, requester_ref: str) -> list[Case]:
        """Claimed cases (対応中/回答済) whose requester speaks from this conversation, newest first."""
        ...

    def open_for_expert(self, person_id: str) -> list[Case]:
        """Claimed cases assigned to this expert, newest activity first."""
        ...

    def add_message(self, case_id: int, message: Relayed) -> None: ...

    def messages(self, case_id: int) -> list[Relayed]: ...

    def all(self, status: str | None = None) -> list[Case]: ...
