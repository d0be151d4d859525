"""The live count on an invitation: every copy of an event's invitation is edited to show who is coming.

- a press (参加 / 不参加 / 未定, a promotion from the waitlist with it) edits the copy in the conversation
  it was pressed in at once, on lane REPLY;
- the other copies are refreshed by one due step per event per window (`EventSettings.refresh_every`),
  due at the window's end, on lane BULK: a burst of answers costs each channel one edit per window, not
  one per answer;
- an edit or a cancellation of the event refreshes every copy at the next tick (rsvp.refresh_now); a
  cancelled event's copies say so and lose their buttons.

A recipient's copies are its first (`announce:<id>:<target>`) and each 【再送】 one the secretariat sent it
since (`…:again<round>`, broadcast.resend_unacknowledged; a re-sent failed copy keeps its first key): all
carry the buttons, so all are edited, a re-sent one keeping its 【再送】 title. Each edit is an outbox Send
that names the copy it replaces (`edits` = the copy's key) and is keyed by that copy and by the press or
the step; the outbox delivers it once the copy is out, and of several pending edits of one copy only the
newest.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from handlers.address import Address
from handlers.events.broadcast import Desk, announce_key, copy_in
from handlers.events.model import AnnouncementInfo, EventInfo, Recipient, State
from handlers.events.render import live_invitation
from handlers.events.rsvp import REFRESH_STEP, counts, refresh_key
from handlers.messages import Reply
from handlers.outcome import Lane, Send


@dataclass(frozen=True)
class Copy:
    """One message of the invitation in a recipient's conversation: its first, or a 【再送】 one."""

    recipient: Recipient
    key: str  # its outbox key, which an edit of it names
    again: bool = False


def answered(desk: Desk, event: EventInfo, a: AnnouncementInfo, address: Address) -> list[Send]:
    """After an answer at `address`: the copies there (the first and any re-sent one) edited now, the others
    at the end of this window."""
    if a.state != State.SENT:
        return []
    window = desk.settings.refresh_every.total_seconds()
    bucket = int(desk.now.timestamp() // window)
    desk.uow.due.schedule(REFRESH_STEP, refresh_key(event.id, f"w{bucket}"),
                          dt.datetime.fromtimestamp((bucket + 1) * window, dt.UTC), {"event": event.id})
    here = copy_in(desk.uow.events.recipients(a.id), address)
    if here is None:
        return []
    tail = f"live:{desk.now.timestamp():.6f}:{address.user or '-'}"
    showing = _now_showing(desk, a, event)
    return [_edit(c, showing[c.again], tail, Lane.REPLY) for c in copies(desk, a, [here])]


def refresh(desk: Desk, event_id: int, step_key: str) -> list[Send]:
    """Every delivered-or-pending copy of the event's invitation, edited to show the event as it is now
    (each edit keyed by the step, so a step run twice enqueues nothing new)."""
    event = desk.uow.events.event(event_id)
    a = desk.uow.events.announcement_of_event(event_id)
    if event is None or a is None or a.state != State.SENT:
        return []
    desk.uow.events.lock_event(event_id)  # counted after any answer being written now, so the newest edit is right
    showing = _now_showing(desk, a, event)
    tail = step_key.removeprefix(refresh_key(event_id))
    return [_edit(c, showing[c.again], f"refresh:{tail}", Lane.BULK)
            for c in copies(desk, a, desk.uow.events.recipients(a.id))]


def copies(desk: Desk, a: AnnouncementInfo, mine: list[Recipient]) -> list[Copy]:
    """The copies of `mine` (recipients of `a`) that were sent somewhere: each one's first, then its re-sent ones."""
    resent: dict[str, list[str]] = defaultdict(list)  # by target: one pass, however many recipients
    for target, key in desk.uow.events.resent_copies(a.id):
        resent[target].append(key)
    out = []
    for r in (r for r in mine if r.address_json):
        out.append(Copy(r, announce_key(a.id, r.target)))
        out += [Copy(r, key, again=True) for key in resent.get(r.target, ())]
    return out


def _now_showing(desk: Desk, a: AnnouncementInfo, event: EventInfo) -> dict[bool, Reply]:
    """The invitation as it stands, for a first copy (False) and for a re-sent one (True)."""
    going, waiting = counts(desk, event.id)
    return {again: live_invitation(a, event, desk.settings, going, waiting, again) for again in (False, True)}


def _edit(copy: Copy, reply: Reply, tail: str, lane: Lane) -> Send:
    return Send(Address.from_json(copy.recipient.address_json), reply, f"{copy.key}:{tail}", lane=lane,
                edits=copy.key)
