"""Announcements and exchange events: a broadcast to chosen labs (and people), who it went to and who
acknowledged it; events with their RSVPs (a waitlist when full), attendance and the survey afterwards."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models.base import Base, Created, ShortText, TZDateTime


class Announcement(Base):
    """One broadcast: a notice, or the invitation of an event (event_id set). state: draft → scheduled →
    sent, or cancelled while draft/scheduled."""

    __tablename__ = "announcement"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[Created]
    created_by: Mapped[ShortText]
    title: Mapped[ShortText]
    body: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(1000))  # the audience spec as typed (`region:中部;role:lead`)
    dm_coordinators: Mapped[bool] = mapped_column(default=False)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    send_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    resends: Mapped[int] = mapped_column(default=0)  # rounds of "again, to the unacknowledged"
    summary_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())  # completion posted to the secretariat


class AnnouncementRecipient(Base):
    """One destination of a broadcast: a lab's channel (`target` = the lab id) or a person's DM
    (`dm:<person id>`); its outbox key is `announce:<id>:<target>`."""

    __tablename__ = "announcement_recipient"
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcement.id", ondelete="CASCADE"),
                                                 primary_key=True)
    target: Mapped[str] = mapped_column(String(128), primary_key=True)
    lab_id: Mapped[str | None] = mapped_column(String(64), index=True)
    person_id: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(Text)  # Address.to_json(); "" when the lab has no channel
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))


class Event(Base):
    __tablename__ = "event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[Created]
    title: Mapped[ShortText]
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[dt.datetime] = mapped_column(TZDateTime(), index=True)
    ends_at: Mapped[dt.datetime] = mapped_column(TZDateTime())
    venue: Mapped[str | None] = mapped_column(String(255))
    online_url: Mapped[str | None] = mapped_column(String(1000))
    organiser: Mapped[ShortText]
    organiser_lab: Mapped[str | None] = mapped_column(String(64))  # a lab's own event: its staff manage it
    audience: Mapped[str] = mapped_column(String(1000))
    capacity: Mapped[int | None]
    rsvp_deadline: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | cancelled
    version: Mapped[int] = mapped_column(default=1)  # bumped by every edit (reminders follow the newest)


class Rsvp(Base):
    """A person's answer: yes / no / maybe; `status` going | waitlisted | - (not coming or undecided)."""

    __tablename__ = "event_rsvp"
    __table_args__ = (Index("ix_event_rsvp_status", "event_id", "status", "answered_at"),)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), primary_key=True)
    person: Mapped[str] = mapped_column(String(128), primary_key=True)  # directory id or platform:@user
    name: Mapped[ShortText]
    lab_id: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(Text)  # where to tell them (their DM)
    answer: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[dt.datetime] = mapped_column(TZDateTime())  # the waitlist's order
    attended: Mapped[bool | None]


class SurveyResponse(Base):
    __tablename__ = "event_survey"
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), primary_key=True)
    person: Mapped[str] = mapped_column(String(128), primary_key=True)
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[dt.datetime] = mapped_column(TZDateTime())
