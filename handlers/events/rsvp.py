"""Events: create (with its invitation broadcast and reminders), answers 参加 / 不参加 / 未定 with a waitlist
when full (the first waiting is promoted, and told, when a place frees up), edit and cancel (everyone who
answered is told, and the invitation's copies are refreshed: handlers/events/live.py), reminders to those
coming (never in quiet hours unless the event is sooner)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from handlers.address import Address
from handlers.directory.model import Person
from handlers.events.broadcast import Desk, compose
from handlers.events.model import Answer, EventInfo, RsvpRecord, Status
from handlers.events.render import event_details, personal, when
from handlers.i18n import t
from handlers.messages import Reply
from handlers.outcome import Lane, Send

REMIND_STEP = "event.remind"
REFRESH_STEP = "event.refresh"  # the invitation's copies edited to show the event as it is now


def refresh_key(event_id: int, tail: str = "") -> str:
    return f"event:{event_id}:refresh:{tail}"


def refresh_now(desk: Desk, event: EventInfo) -> None:
    """The event itself changed: every copy of its invitation is edited at the next due tick (one step per
    version); a window's pending refresh would show the same, so it is dropped."""
    desk.uow.due.cancel(refresh_key(event.id, "w"))
    desk.uow.due.schedule(REFRESH_STEP, refresh_key(event.id, f"v{event.version}"), desk.now, {"event": event.id})


def create(desk: Desk, event: EventInfo, created_by: str, *, body: str = "", send_at: dt.datetime | None = None,
           draft: bool = False, dm: bool = False) -> tuple[int, int, int, list[Send]]:
    """Create an event and its invitation → (event id, announcement id, recipients, sends)."""
    if event.ends_at < event.starts_at:
        raise ValueError("event.error.ends_before_start")
    event_id = desk.uow.events.create_event(event, desk.now)
    announcement_id, count, sends = compose(desk, event.title, body, event.audience, created_by, dm=dm,
                                            send_at=send_at, draft=draft, event_id=event_id)
    schedule_reminders(desk, dataclasses.replace(event, id=event_id))
    return event_id, announcement_id, count, sends


def schedule_reminders(desk: Desk, event: EventInfo) -> int:
    """One due step per reminder offset still ahead, keyed by the event's version (an edit re-plans them)."""
    desk.uow.due.cancel(f"event:{event.id}:remind:")
    planned = 0
    for label, offset in desk.settings.reminders:
        at = event.starts_at - offset
        if at > desk.now:
            planned += desk.uow.due.schedule(REMIND_STEP, f"event:{event.id}:remind:v{event.version}:{label}", at,
                                             {"event": event.id, "version": event.version, "offset": label})
    return planned


def who(desk: Desk, address: Address) -> tuple[str, str, Person | None]:
    """(reference, display name, directory person) of whoever is acting at `address`."""
    person = desk.uow.directory.person_by_address(address)
    if person is not None:
        return person.id, person.name, person
    return f"{address.platform}:@{address.user or '?'}", address.user or "?", None


def counts(desk: Desk, event_id: int) -> tuple[int, int]:
    """(going, waitlisted)"""
    rows = desk.uow.events.rsvps(event_id)
    return (sum(r.status == Status.GOING for r in rows), sum(r.status == Status.WAITLISTED for r in rows))


def answer(desk: Desk, event: EventInfo, address: Address, choice: Answer) -> tuple[RsvpRecord, list[Send]]:
    """Record an answer; a place given up promotes the first on the waitlist."""
    ref, name, person = who(desk, address)
    desk.uow.events.lock_event(event.id)
    before = desk.uow.events.rsvp(event.id, ref)
    kept = before is not None and before.status in (Status.GOING, Status.WAITLISTED)
    if choice == Answer.YES and kept and before is not None:
        status, since = Status(before.status), before.answered_at  # already in: keep the place in the queue
    elif choice == Answer.YES:
        going, _ = counts(desk, event.id)
        status = Status.GOING if event.capacity is None or going < event.capacity else Status.WAITLISTED
        since = desk.now
    else:
        status, since = Status.NONE, desk.now
    dm = address.to_user(address.user) if address.user else address
    record = RsvpRecord(event.id, ref, name, dm.to_json(), choice.value, status.value, since,
                        person.labs[0] if person and person.labs else None, before.attended if before else None)
    desk.uow.events.save_rsvp(record)
    sends = promote(desk, event) if before is not None and before.status == Status.GOING and \
        status != Status.GOING else []
    return record, sends


def promote(desk: Desk, event: EventInfo) -> list[Send]:
    """Fill free places from the waitlist in answer order, telling each promoted person."""
    going, _ = counts(desk, event.id)
    free = (event.capacity - going) if event.capacity is not None else len(desk.uow.events.rsvps(event.id))
    sends = []
    for waiting in desk.uow.events.rsvps(event.id, Status.WAITLISTED)[:max(free, 0)]:
        desk.uow.events.save_rsvp(dataclasses.replace(waiting, status=Status.GOING.value))
        text = t("event.promoted.text", title=event.title, when=when(event.starts_at))
        key = f"event:{event.id}:promoted:{waiting.person}:{waiting.answered_at.timestamp():.6f}"
        sends.append(_dm(desk, event, waiting, personal(text, t("event.promoted.title")), key))
    return sends


def _dm(desk: Desk, event: EventInfo, to: RsvpRecord, reply: Reply, key: str) -> Send:
    return Send(Address.from_json(to.address_json), reply, key, not_before=desk.dm_time(event.starts_at),
                lane=Lane.BULK)


def edit(desk: Desk, event_id: int, **changes: object) -> tuple[EventInfo, list[Send]] | None:
    """Change an event (title, times, venue, capacity, …): a new version, reminders re-planned, everyone who
    answered told, and the waitlist moved up when the capacity grew."""
    event = desk.uow.events.event(event_id)
    if event is None or event.state != "open":
        return None
    updated = dataclasses.replace(event, **changes, version=event.version + 1)  # type: ignore[arg-type]
    if updated.ends_at < updated.starts_at:
        raise ValueError("event.error.ends_before_start")
    desk.uow.events.update_event(updated)
    schedule_reminders(desk, updated)
    refresh_now(desk, updated)
    text = t("event.edited.text", title=updated.title) + "\n\n" + event_details(updated, desk.settings)
    reply = personal(text, t("event.edited.title", title=updated.title))
    sends = [_dm(desk, updated, r, reply, f"event:{event_id}:edit:v{updated.version}:{r.person}")
             for r in desk.uow.events.rsvps(event_id)]
    return updated, sends + promote(desk, updated)


def cancel(desk: Desk, event_id: int, reason: str = "") -> list[Send] | None:
    event = desk.uow.events.event(event_id)
    if event is None or event.state != "open":
        return None
    cancelled = dataclasses.replace(event, state="cancelled", version=event.version + 1)
    desk.uow.events.update_event(cancelled)
    desk.uow.due.cancel(f"event:{event_id}:remind:")
    refresh_now(desk, cancelled)
    text = t("event.cancelled.text", title=event.title, when=when(event.starts_at))
    if reason:
        text += "\n" + t("event.cancelled.reason", reason=reason)
    reply = personal(text, t("event.cancelled.title", title=event.title))
    return [_dm(desk, event, r, reply, f"event:{event_id}:cancel:{r.person}") for r in desk.uow.events.rsvps(event_id)]


def remind(desk: Desk, event_id: int, version: int, label: str) -> list[Send]:
    """The reminder due now, to everyone coming (unless the event changed or was cancelled since)."""
    event = desk.uow.events.event(event_id)
    if event is None or event.state != "open" or event.version != version or event.starts_at <= desk.now:
        return []
    reply = personal(t("event.reminder.text", title=event.title) + "\n\n" + event_details(event, desk.settings),
                     t("event.reminder.title", title=event.title))
    return [_dm(desk, event, r, reply, f"event:{event_id}:remind:v{version}:{label}:{r.person}")
            for r in desk.uow.events.rsvps(event_id, Status.GOING)]
