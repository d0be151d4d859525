"""Announcements and events as plain values, the audience language, and the use case's settings."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum


class State(StrEnum):
    DRAFT = "draft"  # composed, previewed, not yet confirmed
    SCHEDULED = "scheduled"  # a due step sends it at send_at
    SENT = "sent"
    CANCELLED = "cancelled"


class Answer(StrEnum):
    YES = "yes"  # 参加
    NO = "no"  # 不参加
    MAYBE = "maybe"  # 未定


class Status(StrEnum):
    GOING = "going"
    WAITLISTED = "waitlisted"
    NONE = "-"


OFFSET = re.compile(r"^(\d+)\s*([dhm])$")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_offsets(text: str) -> tuple[tuple[str, dt.timedelta], ...]:
    """`7d,1d,1h` → ((label, timedelta), …): how long before an event its reminders go."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        found = OFFSET.match(part)
        if not found:
            raise ValueError(f"reminder offset {part!r}: use a number and d, h or m (7d, 1d, 1h)")
        out.append((part, dt.timedelta(**{UNITS[found.group(2)]: int(found.group(1))})))
    return tuple(out)


@dataclass(frozen=True)
class EventSettings:
    """DXLAB_EVENT_REMINDERS, DXLAB_PUBLIC_URL (where `/events/{id}.ics` is reachable from outside) and
    DXLAB_EVENT_REFRESH_MINUTES (how often the copies of an invitation are edited to show the live count)."""

    reminders: tuple[tuple[str, dt.timedelta], ...] = field(default_factory=lambda: parse_offsets("7d,1d,1h"))
    public_url: str = ""
    refresh_every: dt.timedelta = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class AnnouncementInfo:
    id: int
    title: str
    body: str
    audience: str
    dm_coordinators: bool
    state: str
    created_by: str
    created_at: dt.datetime
    event_id: int | None = None
    send_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    resends: int = 0
    summary_at: dt.datetime | None = None


@dataclass(frozen=True)
class Recipient:
    """Where one copy goes: a lab's channel (`target` = lab id) or a person's DM (`dm:<person id>`)."""

    target: str
    address_json: str  # "" when the lab has no channel in the directory
    lab_id: str | None = None
    person_id: str | None = None
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: str | None = None


@dataclass(frozen=True)
class Delivery:
    """The outbox's word on one recipient's copy: sent | failed | pending (reason when failed)."""

    target: str
    state: str
    reason: str = ""
    acknowledged: bool = False


@dataclass(frozen=True)
class EventInfo:
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    organiser: str
    audience: str = "all"
    description: str = ""
    venue: str | None = None
    online_url: str | None = None
    capacity: int | None = None
    rsvp_deadline: dt.datetime | None = None
    organiser_lab: str | None = None
    id: int = 0
    state: str = "open"
    version: int = 1


@dataclass(frozen=True)
class RsvpRecord:
    event_id: int
    person: str  # directory id, or platform:@user for someone not in the directory
    name: str
    address_json: str  # their DM
    answer: str
    status: str
    answered_at: dt.datetime
    lab_id: str | None = None
    attended: bool | None = None


@dataclass(frozen=True)
class SurveyAnswer:
    event_id: int
    person: str
    score: int
    comment: str
    answered_at: dt.datetime
