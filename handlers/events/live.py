"""The live count on an invitation: every copy of an event's invitation is edited to show who is coming.

- a press (参加 / 不参加 / 未定, a promotion from the waitlist with it) edits the copy in the conversation
  it was pressed in at once, on lane REPLY;
- the other copies are refreshed by one due step per event per window (`EventSettings.refresh_every`),
  due at the window's end, on lane BULK: a burst of answers costs each channel one edit per window, not
  one per answer;
- an edit or a cancellation of the event refreshes every copy at the next tick (rsvp.refresh_now); a
  cancelled event's copies say so and lose their buttons.

Each is an outbox Send that names the copy it replaces (`edits` = the copy's key `announce:<id>:<target>`);
the outbox delivers it once the copy is out, and of several pending edits of one copy only the newest.
"""

from __future__ import annotations

import datetime as dt

from handlers.address import Address
from handlers.events.broadcast import Desk, announce_key, copy_in
from handlers.events.model import AnnouncementInfo, EventInfo, Recipient, State
from handlers.events.render import live_invitation
from handlers.events.rsvp import REFRESH_STEP, counts, refresh_key
from handlers.messages import Reply
from handlers.outcome import Lane, Send


def answered(desk: Desk, event: EventInfo, a: AnnouncementInfo, address: Address) -> list[Send]:
    """After an answer at `address`: the copy there edited now, the others at the end of this window."""
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
    return [_edit(a, here, _now_showing(desk, a, event), tail, Lane.REPLY)]


def refresh(desk: Desk, event_id: int, step_key: str) -> list[Send]:
    """Every delivered-or-pending copy of the event's invitation, edited to show the event as it is now
    (each edit keyed by the step, so a step run twice enqueues nothing new)."""
    event = desk.uow.events.event(event_id)
    a = desk.uow.events.announcement_of_event(event_id)
    if event is None or a is None or a.state != State.SENT:
        return []
    desk.uow.events.lock_event(event_id)  # counted after any answer being written now, so the newest edit is right
    reply = _now_showing(desk, a, event)
    tail = step_key.removeprefix(refresh_key(event_id))
    return [_edit(a, r, reply, f"refresh:{tail}", Lane.BULK) for r in desk.uow.events.recipients(a.id)
            if r.address_json]


def _now_showing(desk: Desk, a: AnnouncementInfo, event: EventInfo) -> Reply:
    going, waiting = counts(desk, event.id)
    return live_invitation(a, event, desk.settings, going, waiting)


def _edit(a: AnnouncementInfo, copy: Recipient, reply: Reply, tail: str, lane: Lane) -> Send:
    original = announce_key(a.id, copy.target)
    return Send(Address.from_json(copy.address_json), reply, f"{original}:{tail}", lane=lane, edits=original)
