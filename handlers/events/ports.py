"""What the announcement and event use cases need from storage (bot/db/repos/events.py implements it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from handlers.events.model import (
    AnnouncementInfo,
    Delivery,
    EventInfo,
    Recipient,
    RsvpRecord,
    SurveyAnswer,
)


class EventsRepo(Protocol):
    # -- announcements ---------------------------------------------------------------------------
    def create_announcement(self, title: str, body: str, audience: str, dm_coordinators: bool, state: str,
                            created_by: str, now: dt.datetime, send_at: dt.datetime | None = None,
                            event_id: int | None = None) -> int: ...

    def announcement(self, announcement_id: int) -> AnnouncementInfo | None: ...

    def announcements(self, limit: int = 100) -> list[AnnouncementInfo]: ...

    def announcement_of_event(self, event_id: int) -> AnnouncementInfo | None: ...

    def set_state(self, announcement_id: int, state: str, sent_at: dt.datetime | None = None,
                  send_at: dt.datetime | None = None) -> None: ...

    def add_recipients(self, announcement_id: int, recipients: Sequence[Recipient]) -> None: ...

    def set_address(self, announcement_id: int, target: str, address_json: str) -> None: ...

    def recipients(self, announcement_id: int) -> list[Recipient]: ...

    def acknowledge(self, announcement_id: int, target: str, by: str, now: dt.datetime) -> bool:
        """Record the first acknowledgement of a recipient; False when it had been acknowledged."""
        ...

    def deliveries(self, announcement_id: int) -> list[Delivery]:
        """Each recipient's first copy as the outbox has it (joined by key `announce:<id>:<target>`)."""
        ...

    def requeue_failed(self, keys: Sequence[str], now: dt.datetime) -> int:
        """Put given-up outbox rows back to pending with fresh attempts; how many were."""
        ...

    def resent_copies(self, announcement_id: int) -> list[tuple[str, str]]:
        """The re-sent copies (outbox keys `announce:<id>:<target>:again<round>`) not given up, as (target, key),
        in the order they were enqueued."""
        ...

    def next_resend_round(self, announcement_id: int) -> int: ...

    def mark_summarised(self, announcement_id: int, now: dt.datetime) -> bool: ...

    # -- events ----------------------------------------------------------------------------------
    def create_event(self, event: EventInfo, now: dt.datetime) -> int: ...

    def update_event(self, event: EventInfo) -> None:
        """Write every field of `event` (its id names the row); the caller bumps the version."""
        ...

    def lock_event(self, event_id: int) -> None:
        """Serialise changes to one event's answers for the rest of the transaction (the capacity check)."""
        ...

    def event(self, event_id: int) -> EventInfo | None: ...

    def events(self, starting_after: dt.datetime, starting_before: dt.datetime | None = None,
               include_cancelled: bool = False) -> list[EventInfo]: ...

    def rsvp(self, event_id: int, person: str) -> RsvpRecord | None: ...

    def save_rsvp(self, record: RsvpRecord) -> None: ...

    def rsvps(self, event_id: int, status: str | None = None) -> list[RsvpRecord]:
        """In answer order (the waitlist's order)."""
        ...

    def set_attended(self, event_id: int, person: str, attended: bool) -> None: ...

    def save_survey(self, answer: SurveyAnswer) -> None: ...

    def surveys(self, event_id: int) -> list[SurveyAnswer]: ...
