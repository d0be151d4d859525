"""Announcements, their recipients and delivery (joined with the outbox by key), events, RSVPs, surveys."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, insert, literal, select, update
from sqlalchemy.orm import Session

from bot.db import models as m
from bot.db.models.work import CANCELLED, FAILED, PENDING, SENT, SUPERSEDED
from handlers.events.model import (
    AnnouncementInfo,
    Delivery,
    EventInfo,
    Recipient,
    RsvpRecord,
    SurveyAnswer,
)

ANNOUNCEMENT_FIELDS = [f.name for f in dataclasses.fields(AnnouncementInfo)]
EVENT_FIELDS = [f.name for f in dataclasses.fields(EventInfo)]
NO_CHANNEL = "no_channel"


def announce_key(announcement_id: int, target: str) -> str:
    """The outbox key of a recipient's first copy: a resend or a restart never delivers it twice."""
    return f"announce:{announcement_id}:{target}"


def _announcement(row: m.Announcement) -> AnnouncementInfo:
    return AnnouncementInfo(**{f: getattr(row, f) for f in ANNOUNCEMENT_FIELDS})


def _event(row: m.Event) -> EventInfo:
    return EventInfo(**{f: getattr(row, f) for f in EVENT_FIELDS})


def _recipient(row: m.AnnouncementRecipient) -> Recipient:
    return Recipient(row.target, row.address, row.lab_id, row.person_id, row.acknowledged_at, row.acknowledged_by)


def _rsvp(row: m.Rsvp) -> RsvpRecord:
    return RsvpRecord(row.event_id, row.person, row.name, row.address, row.answer, row.status, row.answered_at,
                      row.lab_id, row.attended)


class SqlEvents:
    def __init__(self, session: Session):
        self.session = session

    # -- announcements ---------------------------------------------------------------------------
    def create_announcement(self, title: str, body: str, audience: str, dm_coordinators: bool, state: str,
                            created_by: str, now: dt.datetime, send_at: dt.datetime | None = None,
                            event_id: int | None = None) -> int:
        row = m.Announcement(title=title, body=body, audience=audience, dm_coordinators=dm_coordinators, state=state,
                             created_by=created_by, created_at=now, send_at=send_at, event_id=event_id, resends=0)
        self.session.add(row)
        self.session.flush()
        return row.id

    def announcement(self, announcement_id: int) -> AnnouncementInfo | None:
        row = self.session.get(m.Announcement, announcement_id)
        return _announcement(row) if row else None

    def announcements(self, limit: int = 100) -> list[AnnouncementInfo]:
        query = select(m.Announcement).order_by(m.Announcement.id.desc()).limit(limit)
        return [_announcement(r) for r in self.session.scalars(query)]

    def announcement_of_event(self, event_id: int) -> AnnouncementInfo | None:
        row = self.session.scalars(select(m.Announcement).where(m.Announcement.event_id == event_id)
                                   .order_by(m.Announcement.id).limit(1)).first()
        return _announcement(row) if row else None

    def set_state(self, announcement_id: int, state: str, sent_at: dt.datetime | None = None,
                  send_at: dt.datetime | None = None) -> None:
        values: dict[str, Any] = {"state": state}
        if sent_at is not None:
            values["sent_at"] = sent_at
        if send_at is not None:
            values["send_at"] = send_at
        self.session.execute(update(m.Announcement).where(m.Announcement.id == announcement_id).values(values))

    def add_recipients(self, announcement_id: int, recipients: Sequence[Recipient]) -> None:
        if recipients:
            self.session.execute(insert(m.AnnouncementRecipient), [
                {"announcement_id": announcement_id, "target": r.target, "lab_id": r.lab_id,
                 "person_id": r.person_id, "address": r.address_json} for r in recipients])

    def set_address(self, announcement_id: int, target: str, address_json: str) -> None:
        self.session.execute(update(m.AnnouncementRecipient).where(
            m.AnnouncementRecipient.announcement_id == announcement_id, m.AnnouncementRecipient.target == target)
            .values(address=address_json))

    def recipients(self, announcement_id: int) -> list[Recipient]:
        query = select(m.AnnouncementRecipient).where(m.AnnouncementRecipient.announcement_id == announcement_id) \
            .order_by(m.AnnouncementRecipient.target)
        return [_recipient(r) for r in self.session.scalars(query)]

    def acknowledge(self, announcement_id: int, target: str, by: str, now: dt.datetime) -> bool:
        return self.session.execute(update(m.AnnouncementRecipient).where(
            m.AnnouncementRecipient.announcement_id == announcement_id, m.AnnouncementRecipient.target == target,
            m.AnnouncementRecipient.acknowledged_at.is_(None)).values(acknowledged_at=now, acknowledged_by=by)
        ).rowcount > 0

    def deliveries(self, announcement_id: int) -> list[Delivery]:
        prefix = announce_key(announcement_id, "")
        rows = self.session.execute(
            select(m.AnnouncementRecipient, m.OutboxMessage.state, m.OutboxMessage.last_error)
            .outerjoin(m.OutboxMessage, m.OutboxMessage.key == literal(prefix, String) + m.AnnouncementRecipient.target)
            .where(m.AnnouncementRecipient.announcement_id == announcement_id)
            .order_by(m.AnnouncementRecipient.target))
        out = []
        for recipient, state, error in rows:
            if not recipient.address:
                outcome, reason = FAILED, NO_CHANNEL
            elif state == SENT:
                outcome, reason = SENT, ""
            elif state in (FAILED, CANCELLED):
                outcome, reason = FAILED, error or state
            else:  # not yet enqueued (scheduled), pending or claimed
                outcome, reason = PENDING, ""
            out.append(Delivery(recipient.target, outcome, reason, recipient.acknowledged_at is not None))
        return out

    def requeue_failed(self, keys: Sequence[str], now: dt.datetime) -> int:
        if not keys:
            return 0
        return self.session.execute(update(m.OutboxMessage).where(
            m.OutboxMessage.key.in_(list(keys)), m.OutboxMessage.state == FAILED).values(
            state=PENDING, attempts=0, next_attempt_at=now, claimed_by=None, claimed_until=None)).rowcount

    def resent_copies(self, announcement_id: int) -> list[tuple[str, str]]:
        prefix = announce_key(announcement_id, "")
        c = m.OutboxMessage
        keys = self.session.scalars(select(c.key).where(  # the copies themselves: their edits name them instead
            c.key.like(f"{prefix}%:again%"), c.edits.is_(None), c.state.not_in((FAILED, CANCELLED, SUPERSEDED)))
            .order_by(c.id))
        out = []
        for key in keys:  # `announce:<id>:<target>:again<round>`; a target may hold a colon (dm:<person>)
            target, marker, round_ = key.removeprefix(prefix).rpartition(":again")
            if marker and round_.isdigit():
                out.append((target, key))
        return out

    def next_resend_round(self, announcement_id: int) -> int:
        self.session.execute(update(m.Announcement).where(m.Announcement.id == announcement_id)
                             .values(resends=m.Announcement.resends + 1))
        return int(self.session.scalar(select(m.Announcement.resends).where(m.Announcement.id == announcement_id)))

    def mark_summarised(self, announcement_id: int, now: dt.datetime) -> bool:
        return self.session.execute(update(m.Announcement).where(
            m.Announcement.id == announcement_id, m.Announcement.summary_at.is_(None)).values(summary_at=now)
        ).rowcount > 0

    # -- events ----------------------------------------------------------------------------------
    def create_event(self, event: EventInfo, now: dt.datetime) -> int:
        values = {f: getattr(event, f) for f in EVENT_FIELDS if f != "id"}
        row = m.Event(**values, created_at=now)
        self.session.add(row)
        self.session.flush()
        return row.id

    def update_event(self, event: EventInfo) -> None:
        values = {f: getattr(event, f) for f in EVENT_FIELDS if f != "id"}
        self.session.execute(update(m.Event).where(m.Event.id == event.id).values(values))

    def lock_event(self, event_id: int) -> None:
        # A no-op write: the row lock (PostgreSQL) or the database's write lock (SQLite) is taken now, so two
        # answers for the last place are counted one after the other, never both against the same count.
        self.session.execute(update(m.Event).where(m.Event.id == event_id).values(version=m.Event.version))

    def event(self, event_id: int) -> EventInfo | None:
        row = self.session.get(m.Event, event_id)
        return _event(row) if row else None

    def events(self, starting_after: dt.datetime, starting_before: dt.datetime | None = None,
               include_cancelled: bool = False) -> list[EventInfo]:
        query = select(m.Event).where(m.Event.starts_at >= starting_after).order_by(m.Event.starts_at, m.Event.id)
        if starting_before is not None:
            query = query.where(m.Event.starts_at < starting_before)
        if not include_cancelled:
            query = query.where(m.Event.state != "cancelled")
        return [_event(r) for r in self.session.scalars(query)]

    def rsvp(self, event_id: int, person: str) -> RsvpRecord | None:
        row = self.session.get(m.Rsvp, (event_id, person))
        return _rsvp(row) if row else None

    def save_rsvp(self, record: RsvpRecord) -> None:
        self.session.merge(m.Rsvp(event_id=record.event_id, person=record.person, name=record.name,
                                  lab_id=record.lab_id, address=record.address_json, answer=record.answer,
                                  status=record.status, answered_at=record.answered_at, attended=record.attended))
        self.session.flush()

    def rsvps(self, event_id: int, status: str | None = None) -> list[RsvpRecord]:
        query = select(m.Rsvp).where(m.Rsvp.event_id == event_id).order_by(m.Rsvp.answered_at, m.Rsvp.person)
        if status is not None:
            query = query.where(m.Rsvp.status == status)
        return [_rsvp(r) for r in self.session.scalars(query)]

    def set_attended(self, event_id: int, person: str, attended: bool) -> None:
        self.session.execute(update(m.Rsvp).where(m.Rsvp.event_id == event_id, m.Rsvp.person == person)
                             .values(attended=attended))

    def save_survey(self, answer: SurveyAnswer) -> None:
        self.session.merge(m.SurveyResponse(event_id=answer.event_id, person=answer.person, score=answer.score,
                                            comment=answer.comment, answered_at=answer.answered_at))
        self.session.flush()

    def surveys(self, event_id: int) -> list[SurveyAnswer]:
        query = select(m.SurveyResponse).where(m.SurveyResponse.event_id == event_id) \
            .order_by(m.SurveyResponse.answered_at)
        return [SurveyAnswer(r.event_id, r.person, r.score, r.comment, r.answered_at)
                for r in self.session.scalars(query)]
