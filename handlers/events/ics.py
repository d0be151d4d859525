"""An event as an iCalendar file (RFC 5545): times in Asia/Tokyo with a VTIMEZONE, so that Google Calendar
and Outlook show the same wall-clock time in Japan; SEQUENCE follows the event's edits and a cancelled
event says STATUS:CANCELLED (a calendar that imported it earlier updates it)."""

from __future__ import annotations

import datetime as dt

import icalendar

from handlers.calendar import JST, to_jst
from handlers.events.model import EventInfo
from handlers.i18n import t

PRODID = "-//dxlab-bot//events//JA"


def event_uid(event_id: int, domain: str = "dxlab-bot") -> str:
    return f"event-{event_id}@{domain}"


def build_ics(event: EventInfo, stamp: dt.datetime, url: str = "") -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    item = icalendar.Event()
    item.add("uid", event_uid(event.id))
    item.add("dtstamp", stamp.astimezone(dt.UTC))
    item.add("dtstart", to_jst(event.starts_at).replace(tzinfo=JST))
    item.add("dtend", to_jst(event.ends_at).replace(tzinfo=JST))
    item.add("summary", event.title)
    lines = [event.description] if event.description else []
    lines.append(t("event.line.organiser", organiser=event.organiser))
    if event.online_url:
        lines.append(t("event.line.online", url=event.online_url))
        item.add("url", event.online_url)
    elif url:
        item.add("url", url)
    item.add("description", "\n".join(lines))
    if event.venue or event.online_url:
        item.add("location", event.venue or event.online_url)
    item.add("sequence", event.version - 1)
    item.add("status", "CANCELLED" if event.state == "cancelled" else "CONFIRMED")
    cal.add_component(item)
    cal.add_missing_timezones()
    return cal.to_ical()
