"""Announcements: compose (a draft to preview, or at once), schedule, send through the outbox, cancel while
scheduled, acknowledge, report delivery, resend to the failed or the unacknowledged, and tell the
secretariat when a broadcast has settled.

Every copy goes through the outbox on lane BULK with the key `announce:<id>:<target>` (target: a lab id
or `dm:<person id>`), so a resend, a restart or a second press never delivers a copy twice. These are
functions of a Desk (a unit of work, the instant, the calendar, the settings) so the chat handlers, the
CLI and the admin pages share them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from handlers.address import Address
from handlers.calendar import BusinessCalendar
from handlers.context import Context
from handlers.events.audience import AudienceError, lab_address, parse, person_address, recipients
from handlers.events.model import AnnouncementInfo, EventSettings, Recipient, State
from handlers.events.render import announcement_reply, invitation_reply
from handlers.messages import Reply
from handlers.outcome import Lane, Send
from handlers.ports import UnitOfWork

SEND_STEP, COMPLETE_STEP = "announce.send", "announce.complete"
CHECK_EVERY = dt.timedelta(minutes=1)  # how often a sent broadcast is checked for completion
CHECK_ROUNDS = 24 * 60  # after a day the summary goes out with whatever is still pending


@dataclass
class Desk:
    """What the announcement and event functions work with, from a handler's Context or from the CLI."""

    uow: UnitOfWork
    now: dt.datetime
    calendar: BusinessCalendar
    settings: EventSettings

    @classmethod
    def of(cls, ctx: Context) -> Desk:
        return cls(ctx.uow, ctx.now, ctx.services.calendar, ctx.services.events)

    def dm_time(self, before: dt.datetime | None = None) -> dt.datetime | None:
        """When a DM may go: now, or the end of quiet hours, unless `before` (the event) comes first."""
        allowed = self.calendar.next_allowed(self.now)
        if allowed <= self.now or (before is not None and allowed >= before):
            return None
        return allowed


def announce_key(announcement_id: int, target: str) -> str:
    return f"announce:{announcement_id}:{target}"


def resend_key(announcement_id: int, target: str, round_: int) -> str:
    """A 【再送】 copy: a message of its own beside the first (EventsRepo.resent_copies lists them)."""
    return f"{announce_key(announcement_id, target)}:again{round_}"


def send_key(announcement_id: int) -> str:
    return f"announce:{announcement_id}:send"


def compose(desk: Desk, title: str, body: str, audience: str, created_by: str, *, dm: bool = False,
            send_at: dt.datetime | None = None, draft: bool = False, event_id: int | None = None
            ) -> tuple[int, int, list[Send]]:
    """Create an announcement → (id, recipients now, sends). A draft waits for `release`."""
    found = recipients(parse(audience), desk.uow.directory, dm)
    if not found:
        raise AudienceError("announce.audience.nobody", audience)
    state = State.DRAFT if draft else State.SCHEDULED
    announcement_id = desk.uow.events.create_announcement(title, body, audience, dm, state, created_by, desk.now,
                                                          send_at=send_at, event_id=event_id)
    return announcement_id, len(found), ([] if draft else release(desk, announcement_id))


def release(desk: Desk, announcement_id: int) -> list[Send]:
    """Confirm a draft (or a scheduled one whose time has come): schedule it, or send it now."""
    a = desk.uow.events.announcement(announcement_id)
    if a is None or a.state not in (State.DRAFT, State.SCHEDULED):
        return []
    if a.send_at is not None and a.send_at > desk.now:
        desk.uow.events.set_state(a.id, State.SCHEDULED)
        desk.uow.due.schedule(SEND_STEP, send_key(a.id), a.send_at, {"announcement": a.id})
        return []
    return _deliver(desk, a)


def reply_for(desk: Desk, a: AnnouncementInfo, again: bool = False) -> Reply:
    if a.event_id is not None:
        event = desk.uow.events.event(a.event_id)
        if event is not None:
            return invitation_reply(a, event, desk.settings, again)
    return announcement_reply(a, again)


def _send(desk: Desk, r: Recipient, reply: Reply, key: str) -> Send:
    direct = r.target.startswith("dm:")
    return Send(Address.from_json(r.address_json), reply, key, not_before=desk.dm_time() if direct else None,
                lane=Lane.BULK)


def _deliver(desk: Desk, a: AnnouncementInfo) -> list[Send]:
    found = recipients(parse(a.audience), desk.uow.directory, a.dm_coordinators)  # the directory as it is now
    desk.uow.events.add_recipients(a.id, found)
    desk.uow.events.set_state(a.id, State.SENT, sent_at=desk.now)
    desk.uow.due.schedule(COMPLETE_STEP, f"announce:{a.id}:complete:1", desk.now + CHECK_EVERY,
                          {"announcement": a.id, "round": 1})
    reply = reply_for(desk, a)
    return [_send(desk, r, reply, announce_key(a.id, r.target)) for r in found if r.address_json]


def cancel(desk: Desk, announcement_id: int) -> bool:
    """Cancel a draft or a scheduled announcement; False once it has been sent (or was cancelled)."""
    a = desk.uow.events.announcement(announcement_id)
    if a is None or a.state not in (State.DRAFT, State.SCHEDULED):
        return False
    desk.uow.events.set_state(a.id, State.CANCELLED)
    desk.uow.due.cancel(send_key(a.id))
    return True


def report(desk: Desk, announcement_id: int) -> dict[str, Any] | None:
    a = desk.uow.events.announcement(announcement_id)
    if a is None:
        return None
    deliveries = desk.uow.events.deliveries(a.id)
    counts = Counter(d.state for d in deliveries)
    total = len(deliveries)
    if a.state in (State.DRAFT, State.SCHEDULED):  # not resolved yet: who it would reach now
        total = len(recipients(parse(a.audience), desk.uow.directory, a.dm_coordinators))
        counts = Counter({"pending": total})
    return {"announcement": a.id, "title": a.title, "state": a.state, "audience": a.audience,
            "event": a.event_id, "send_at": a.send_at.isoformat() if a.send_at else None,
            "sent_at": a.sent_at.isoformat() if a.sent_at else None,
            "recipients": total, "sent": counts["sent"], "failed": counts["failed"], "pending": counts["pending"],
            "acknowledged": sum(d.acknowledged for d in deliveries),
            "failures": [{"target": d.target, "reason": d.reason} for d in deliveries if d.state == "failed"]}


def resend_failed(desk: Desk, announcement_id: int) -> tuple[int, list[Send]]:
    """Try the failed copies again under their own keys: a given-up outbox row goes back to pending; a lab
    that had no channel is looked up again (its channel may have been added since)."""
    a = desk.uow.events.announcement(announcement_id)
    if a is None or a.state != State.SENT:
        return 0, []
    failed = {d.target for d in desk.uow.events.deliveries(a.id) if d.state == "failed"}
    mine = [r for r in desk.uow.events.recipients(a.id) if r.target in failed]
    requeued = desk.uow.events.requeue_failed([announce_key(a.id, r.target) for r in mine if r.address_json], desk.now)
    sends, reply = [], reply_for(desk, a)
    for r in (r for r in mine if not r.address_json):
        address = _look_up(desk, r)
        if address is not None:
            desk.uow.events.set_address(a.id, r.target, address.to_json())
            sends.append(_send(desk, Recipient(r.target, address.to_json()), reply, announce_key(a.id, r.target)))
    return requeued + len(sends), sends


def _look_up(desk: Desk, r: Recipient) -> Address | None:
    if r.person_id:
        person = desk.uow.directory.person(r.person_id)
        return person_address(person) if person else None
    lab = desk.uow.directory.lab(r.lab_id or r.target)
    return lab_address(lab) if lab else None


def resend_unacknowledged(desk: Desk, announcement_id: int) -> list[Send]:
    """Send again, marked as a reminder, to every delivered copy nobody has acknowledged yet."""
    a = desk.uow.events.announcement(announcement_id)
    if a is None or a.state != State.SENT:
        return []
    unread = {d.target for d in desk.uow.events.deliveries(a.id) if d.state == "sent" and not d.acknowledged}
    if not unread:
        return []
    round_ = desk.uow.events.next_resend_round(a.id)
    reply = reply_for(desk, a, again=True)
    return [_send(desk, r, reply, resend_key(a.id, r.target, round_))
            for r in desk.uow.events.recipients(a.id) if r.target in unread]


def copy_in(mine: list[Recipient], address: Address) -> Recipient | None:
    """The copy in the conversation of `address` (a button pressed on it): a channel's, or the presser's own
    DM copy (addressed to the user, pressed in their DM); None when it was pressed elsewhere. A card posted
    in a Teams channel opens a thread there, and its buttons are pressed from that thread (`…;messageid=`)."""
    for r in (r for r in mine if r.address_json):
        copy = Address.from_json(r.address_json)
        if copy.platform != address.platform:
            continue
        if copy.conversation and copy.base_conversation == address.base_conversation:
            return r
        if not copy.conversation and address.is_direct and copy.user == address.user:
            return r
    return None


def acknowledge(desk: Desk, announcement_id: int, address: Address) -> str | None:
    """Record who pressed 確認しました: the lab channel it was pressed in, or the presser's own DM copy, or
    (failing both) their lab's copy. The recipient's target, or None when the press matches no copy."""
    mine = desk.uow.events.recipients(announcement_id)
    person = desk.uow.directory.person_by_address(address)
    by = person.id if person else f"{address.platform}:@{address.user or '?'}"
    here = copy_in(mine, address)
    target = here.target if here else None
    if target is None and person is not None:
        targets = {r.target for r in mine}
        target = next((x for x in (f"dm:{person.id}", *person.labs) if x in targets), None)
    if target is None:
        return None
    desk.uow.events.acknowledge(announcement_id, target, by, desk.now)
    return target
