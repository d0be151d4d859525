"""What a handler decides: the reply for the conversation in front of it, and the messages to send
elsewhere. The dispatcher writes both in the handler's own transaction, so a decision and the
messages it causes are committed together or not at all."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from handlers.address import Address
from handlers.messages import Reply


class Lane(StrEnum):
    """REPLY: the answer to someone waiting, sent at once; BULK: broadcasts and nudges, paced per channel
    and per workspace so 800 labs never trip a platform's rate limit."""

    REPLY = "reply"
    BULK = "bulk"


@dataclass(frozen=True)
class Send:
    to: Address
    reply: Reply
    key: str  # idempotency key: a second Send with the same key is never delivered again
    not_before: dt.datetime | None = None
    lane: Lane = Lane.BULK
    # The key of an earlier Send whose message this one replaces in place (a live count, a cancellation):
    # delivered once that message is out; of several pending edits of one message only the newest goes.
    edits: str | None = None


@dataclass
class Outcome:
    reply: Reply | None = None
    sends: list[Send] = field(default_factory=list)

    @classmethod
    def of(cls, reply: Reply, *sends: Send) -> Outcome:
        return cls(reply, list(sends))
