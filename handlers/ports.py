"""What handlers need from storage: narrow repositories that share one transaction (a unit of work).

bot/db implements them on SQLAlchemy; the contract suite in tests/test_repos.py runs every
implementation on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from handlers.address import Address
from handlers.audit import AuditRepo
from handlers.consult.model import ConsultRepo
from handlers.directory.ports import DirectoryRepo
from handlers.events.ports import EventsRepo
from handlers.kpi.ports import KpiRepo
from handlers.outcome import Send


@dataclass(frozen=True)
class QuestionRecord:
    channel: str
    user_ref: str | None
    conversation_ref: str | None
    question: str
    entry_id: str | None
    confidence: float
    answered: bool
    escalated: bool
    clicked: bool = False  # a suggestion button was pressed: not a typed question


@dataclass(frozen=True)
class LoggedQuestion:
    id: int
    question: str
    entry_id: str | None
    conversation_ref: str | None
    user_ref: str | None


@dataclass(frozen=True)
class HandoffTicket:
    id: int
    created: bool  # False when this answer had been handed off already

    @property
    def ref(self) -> str:
        return f"DX-{self.id:06d}"


class QuestionRepo(Protocol):
    def record(self, record: QuestionRecord) -> int: ...

    def get(self, log_id: int) -> LoggedQuestion | None: ...


class FeedbackRepo(Protocol):
    def record(self, question_log_id: int, user_ref: str, value: int) -> None: ...


class HandoffRepo(Protocol):
    def create(self, question_log_id: int | None, address: Address, question: str) -> HandoffTicket: ...


class ConversationRepo(Protocol):
    """Where the bot can speak later: platform conversation references and the bot's own threads."""

    def save(self, address: Address, reference_json: str) -> None: ...

    def reference(self, address: Address) -> str | None: ...

    def mark_bot_thread(self, address: Address) -> None: ...

    def is_bot_thread(self, address: Address) -> bool: ...


class OutboxWriter(Protocol):
    def enqueue(self, send: Send, now: dt.datetime) -> bool:
        """Write a message to deliver; False (and nothing written) when its key was enqueued before."""
        ...


class DueWriter(Protocol):
    def schedule(self, kind: str, key: str, due_at: dt.datetime, payload: dict[str, Any]) -> bool:
        """Make a step due at `due_at`; False (and nothing changed) when `key` was scheduled before."""
        ...

    def cancel(self, key_prefix: str) -> int:
        """Cancel every pending step whose key starts with `key_prefix`."""
        ...


class KeyValueRepo(Protocol):
    """Small settings the bot learns at run time (say, the Teams conversation the secretariat reads)."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...


class UnitOfWork(Protocol):
    questions: QuestionRepo
    feedback: FeedbackRepo
    handoffs: HandoffRepo
    conversations: ConversationRepo
    outbox: OutboxWriter
    due: DueWriter
    kv: KeyValueRepo
    directory: DirectoryRepo
    audit: AuditRepo
    kpi: KpiRepo
    events: EventsRepo
    consult: ConsultRepo


class Rephraser(Protocol):
    """Optional: words a reviewed answer to fit the user's exact question (an LLM, when configured)."""

    async def rephrase(self, question: str, answer: str) -> str | None: ...


class Conflict(Exception):
    """Two requests raced to write the same thing (a double press); the dispatcher retries once."""
