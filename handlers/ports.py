"""The narrow interfaces handlers need from storage; bot/db implements them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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


@dataclass(frozen=True)
class HandoffTicket:
    id: int
    created: bool  # False when this answer had been handed off already

    @property
    def ref(self) -> str:
        return f"DX-{self.id:06d}"


class Store(Protocol):
    def record_question(self, record: QuestionRecord) -> int: ...

    def record_feedback(self, question_log_id: int, user_ref: str, value: int) -> bool: ...

    def create_handoff(self, question_log_id: int | None, channel: str, user_ref: str | None,
                       conversation_ref: str | None, thread_ref: str | None,
                       question: str | None = None) -> HandoffTicket | None: ...


class Rephraser(Protocol):
    """Optional: words a reviewed answer to fit the user's exact question (an LLM, when configured)."""

    async def rephrase(self, question: str, answer: str) -> str | None: ...
