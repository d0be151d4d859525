"""How announcements, invitations, notices and summaries read (every word from events.yaml)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from handlers.calendar import to_jst
from handlers.events.model import AnnouncementInfo, Answer, EventInfo, EventSettings
from handlers.i18n import t
from handlers.messages import Button, Reply, ReplyKind, Visibility

WEEKDAYS = "月火水木金土日"
ACK = "announce.ack"
RSVP = "event.rsvp"


def when(value: dt.datetime) -> str:
    """2031年5月12日(月) 14:00"""
    j = to_jst(value)
    return f"{j.year}年{j.month}月{j.day}日({WEEKDAYS[j.weekday()]}) {j:%H:%M}"


def span(event: EventInfo) -> str:
    start, end = to_jst(event.starts_at), to_jst(event.ends_at)
    return f"{when(start)}〜{end:%H:%M}" if start.date() == end.date() else f"{when(start)}〜{when(end)}"


def ics_url(event_id: int, settings: EventSettings) -> str:
    return f"{settings.public_url.rstrip('/')}/events/{event_id}.ics" if settings.public_url else ""


def event_details(event: EventInfo, settings: EventSettings, going: int | None = None) -> str:
    lines = [t("event.line.when", when=span(event))]
    if event.venue:
        lines.append(t("event.line.venue", venue=event.venue))
    if event.online_url:
        lines.append(t("event.line.online", url=event.online_url))
    lines.append(t("event.line.organiser", organiser=event.organiser))
    if event.capacity:
        lines.append(t("event.line.capacity", capacity=event.capacity) if going is None
                     else t("event.line.capacity_live", capacity=event.capacity, going=going))
    if event.rsvp_deadline:
        lines.append(t("event.line.deadline", deadline=when(event.rsvp_deadline)))
    url = ics_url(event.id, settings)
    if url:
        lines.append(t("event.line.ics", url=url))
    if event.description:
        lines += ["", event.description]
    return "\n".join(lines)


def announcement_reply(a: AnnouncementInfo, again: bool = False) -> Reply:
    title = t("announce.again_title", title=a.title) if again else a.title
    return Reply(text=a.body, title=title, kind=ReplyKind.PROACTIVE,
                 buttons=(Button(t("announce.ack_button"), ACK, str(a.id), "primary"),))


def rsvp_buttons(event_id: int) -> tuple[Button, ...]:
    return tuple(Button(t(f"event.answer.{a.value}"), RSVP, f"{event_id}:{a.value}",
                        "primary" if a == Answer.YES else None) for a in Answer)


def invitation_reply(a: AnnouncementInfo, event: EventInfo, settings: EventSettings, again: bool = False) -> Reply:
    title = t("announce.again_title", title=a.title) if again else a.title
    text = "\n\n".join(p for p in (a.body, event_details(event, settings)) if p)
    return Reply(text=text, title=title, kind=ReplyKind.PROACTIVE, buttons=rsvp_buttons(event.id))


def count_line(event: EventInfo, going: int, waiting: int) -> str:
    capacity = str(event.capacity) if event.capacity else t("event.no_limit")
    return t("event.rsvp.count", going=going, capacity=capacity, waiting=waiting)


def live_invitation(a: AnnouncementInfo, event: EventInfo, settings: EventSettings, going: int, waiting: int,
                    again: bool = False) -> Reply:
    """The invitation as it stands: with the count of those coming; once cancelled, marked so, without buttons.
    A re-sent copy (`again`) keeps its 【再送】 title."""
    reply = invitation_reply(a, event, settings, again)
    if event.state == "cancelled":
        return replace(reply, title=t("event.live.cancelled_title", title=reply.title), buttons=(),
                       text=t("event.live.cancelled") + "\n\n" + reply.text)
    return replace(reply, text=reply.text + "\n\n" + count_line(event, going, waiting))


def notice(text: str, title: str | None = None) -> Reply:
    """A private answer to the person in front of the bot."""
    return Reply(text=text, title=title, kind=ReplyKind.NOTICE, visibility=Visibility.PRIVATE)


def personal(text: str, title: str) -> Reply:
    """A message the bot sends someone on its own (a DM)."""
    return Reply(text=text, title=title, kind=ReplyKind.PROACTIVE)
