"""An events file (YAML) as values: `events:` a list of mappings; times in Tokyo unless a zone is given.

    events:
      - title: 地域DX推進ラボ 中部交流会
        start: 2031-05-12 14:00
        end: 2031-05-12 16:30
        venue: 名古屋市中区 …        # and/or
        online_url: https://…
        organiser: 事務局
        organiser_lab: null          # a lab's own event: its lead and coordinators manage it
        audience: region:中部         # as `dxlab announce send --to`
        capacity: 30
        rsvp_deadline: 2031-05-09 17:00
        description: |
          …
        message: 本文の前に添える案内(任意)
        announce_at: 2031-04-20 10:00  # the invitation goes then (default: at once)
        dm: false                      # also DM the labs' coordinators
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from handlers.calendar import JST
from handlers.events.audience import parse
from handlers.events.model import EventInfo

FIELDS = {"title", "start", "end", "venue", "online_url", "organiser", "organiser_lab", "audience", "capacity",
          "rsvp_deadline", "description", "message", "announce_at", "dm"}


class EventFileError(ValueError):
    pass


@dataclass(frozen=True)
class EventPlan:
    event: EventInfo
    message: str = ""
    announce_at: dt.datetime | None = None
    dm: bool = False


def instant(value: object, what: str) -> dt.datetime:
    """A YAML datetime or date or an ISO string; without a zone it is Tokyo wall-clock time."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time(0))
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise EventFileError(f"{what}: {value!r} is not a date and time (2031-05-12 14:00)") from exc
    else:
        raise EventFileError(f"{what}: a date and time is required")
    return (parsed.replace(tzinfo=JST) if parsed.tzinfo is None else parsed).astimezone(dt.UTC)


def _optional(item: dict[str, Any], name: str, where: str) -> dt.datetime | None:
    return instant(item[name], f"{where}.{name}") if item.get(name) not in (None, "") else None


def plan(data: Any) -> list[EventPlan]:
    items = data.get("events") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise EventFileError("the file needs `events:`, a list of events")
    out = []
    for n, item in enumerate(items, 1):
        where = f"events[{n}]"
        if not isinstance(item, dict):
            raise EventFileError(f"{where}: an event is a mapping of fields")
        unknown = set(item) - FIELDS
        if unknown:
            raise EventFileError(f"{where}: unknown fields {', '.join(sorted(unknown))}")
        for name in ("title", "start", "end", "organiser"):
            if item.get(name) in (None, ""):
                raise EventFileError(f"{where}.{name} is required")
        if not item.get("venue") and not item.get("online_url"):
            raise EventFileError(f"{where}: give a venue, an online_url or both")
        audience = str(item.get("audience") or "all")
        parse(audience)  # AudienceError for a term nobody understands
        capacity = item.get("capacity")
        if capacity is not None and (not isinstance(capacity, int) or capacity < 1):
            raise EventFileError(f"{where}.capacity must be a positive whole number")
        start, end = instant(item["start"], f"{where}.start"), instant(item["end"], f"{where}.end")
        if end < start:
            raise EventFileError(f"{where}: end is before start")
        event = EventInfo(title=str(item["title"]), starts_at=start, ends_at=end, organiser=str(item["organiser"]),
                          audience=audience, description=str(item.get("description") or "").strip(),
                          venue=item.get("venue") or None, online_url=item.get("online_url") or None,
                          capacity=capacity, rsvp_deadline=_optional(item, "rsvp_deadline", where),
                          organiser_lab=item.get("organiser_lab") or None)
        out.append(EventPlan(event, str(item.get("message") or "").strip(), _optional(item, "announce_at", where),
                             bool(item.get("dm", False))))
    return out
