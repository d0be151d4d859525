"""Consultation cases, their offers and relayed messages on SQLAlchemy (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.db import models as m
from bot.db.repos.upsert import insert_new
from handlers.address import Address
from handlers.consult.model import CLAIMED, Candidate, Case, NewCase, Offer, Relayed, Status, parse_ref

MUTABLE = ("status", "topic", "prefecture", "industry", "org", "size", "want", "contact", "consent", "offered_to",
           "assignee", "claimed_at", "answered_at", "closed_at", "last_activity_at", "due_at", "activity",
           "reopened", "rating", "comment")


def _case(row: m.ConsultCase) -> Case:
    return Case(
        id=row.id, year=row.year, seq=row.seq, status=Status(row.status), door=row.door, text=row.text,
        requester_ref=row.requester_ref, requester_address=Address.from_json(row.requester_address),
        created_at=row.created_at, last_activity_at=row.last_activity_at, bot_answer=row.bot_answer,
        question_log_id=row.question_log_id, topic=row.topic, prefecture=row.prefecture, industry=row.industry,
        org=row.org, size=row.size, want=row.want, contact=row.contact, consent=row.consent,
        requester_person=row.requester_person, offered_to=row.offered_to, assignee=row.assignee,
        candidates=[Candidate(**c) for c in json.loads(row.candidates)], claimed_at=row.claimed_at,
        answered_at=row.answered_at, closed_at=row.closed_at, due_at=row.due_at, activity=row.activity,
        reopened=row.reopened, rating=row.rating, comment=row.comment)


class SqlConsult:
    def __init__(self, session: Session):
        self.session = session

    def create(self, new: NewCase) -> Case:
        seq = (self.session.scalar(select(func.max(m.ConsultCase.seq)).where(m.ConsultCase.year == new.year)) or 0) + 1
        row = m.ConsultCase(
            year=new.year, seq=seq, status=Status.RECEIVED.value, door=new.door, text=new.text,
            bot_answer=new.bot_answer, question_log_id=new.question_log_id, topic=new.topic,
            prefecture=new.prefecture, industry=new.industry, org=new.org, size="", want="", contact="",
            consent=new.consent, requester_person=new.requester_person, requester_ref=new.requester_ref,
            requester_address=new.requester_address.to_json(),
            requester_conversation=new.requester_address.conversation_key, candidates="[]", created_at=new.at,
            last_activity_at=new.at, activity=0, reopened=0)
        self.session.add(row)
        self.session.flush()  # a concurrent case with the same number: IntegrityError → Conflict → retry
        return _case(row)

    def get(self, case_id: int) -> Case | None:
        row = self.session.get(m.ConsultCase, case_id)
        return _case(row) if row else None

    def by_ref(self, ref: str) -> Case | None:
        parsed = parse_ref(ref)
        if parsed is None:
            return None
        row = self.session.scalar(select(m.ConsultCase).where(m.ConsultCase.year == parsed[0],
                                                              m.ConsultCase.seq == parsed[1]))
        return _case(row) if row else None

    def by_question(self, question_log_id: int) -> Case | None:
        row = self.session.scalar(select(m.ConsultCase).where(m.ConsultCase.question_log_id == question_log_id))
        return _case(row) if row else None

    def save(self, case: Case) -> None:
        row = self.session.get(m.ConsultCase, case.id)
        assert row is not None, f"case {case.id} vanished"
        for name in MUTABLE:
            value = getattr(case, name)
            setattr(row, name, value.value if isinstance(value, Status) else value)
        row.candidates = json.dumps([asdict(c) for c in case.candidates], ensure_ascii=False)

    def offers(self, case_id: int) -> list[Offer]:
        rows = self.session.scalars(select(m.ConsultOffer).where(m.ConsultOffer.case_id == case_id)
                                    .order_by(m.ConsultOffer.round, m.ConsultOffer.at))
        return [Offer(r.person_id, r.round, r.state, r.at) for r in rows]

    def set_offer(self, case_id: int, person: str, round_: int, state: str, at: dt.datetime) -> None:
        values = {"case_id": case_id, "person_id": person, "round": round_, "state": state, "at": at}
        if not insert_new(self.session, m.ConsultOffer, values, "case_id", "person_id"):
            row = self.session.get(m.ConsultOffer, (case_id, person))
            assert row is not None
            row.state = state

    def open_counts(self, person_ids: list[str]) -> dict[str, int]:
        if not person_ids:
            return {}
        case, offer = m.ConsultCase, m.ConsultOffer
        counts: dict[str, int] = dict.fromkeys(person_ids, 0)
        for person, n in self.session.execute(
                select(case.assignee, func.count()).where(case.assignee.in_(person_ids),
                                                          case.status.in_([s.value for s in CLAIMED]))
                .group_by(case.assignee)):
            counts[person] += n
        for person, n in self.session.execute(
                select(offer.person_id, func.count()).join(case, case.id == offer.case_id)
                .where(offer.person_id.in_(person_ids), offer.state == "offered",
                       case.status.in_([Status.RECEIVED.value, Status.PENDING.value]))
                .group_by(offer.person_id)):
            counts[person] += n
        return counts

    def open_for_requester(self, conversation_key: str, requester_ref: str) -> list[Case]:
        case = m.ConsultCase
        rows = self.session.scalars(select(case).where(
            case.status.in_([s.value for s in CLAIMED]),
            or_(case.requester_conversation == conversation_key, case.requester_ref == requester_ref))
            .order_by(case.last_activity_at.desc(), case.id.desc()))
        return [_case(r) for r in rows]

    def open_for_expert(self, person_id: str) -> list[Case]:
        case = m.ConsultCase
        rows = self.session.scalars(select(case).where(case.assignee == person_id,
                                                       case.status.in_([s.value for s in CLAIMED]))
                                    .order_by(case.last_activity_at.desc(), case.id.desc()))
        return [_case(r) for r in rows]

    def add_message(self, case_id: int, message: Relayed) -> None:
        self.session.add(m.ConsultMessage(case_id=case_id, at=message.at, side=message.side, sender=message.sender,
                                          text=message.text))

    def messages(self, case_id: int) -> list[Relayed]:
        rows = self.session.scalars(select(m.ConsultMessage).where(m.ConsultMessage.case_id == case_id)
                                    .order_by(m.ConsultMessage.id))
        return [Relayed(r.at, r.side, r.sender, r.text) for r in rows]

    def all(self, status: str | None = None) -> list[Case]:
        query = select(m.ConsultCase).order_by(m.ConsultCase.year, m.ConsultCase.seq)
        if status:
            query = query.where(m.ConsultCase.status == status)
        return [_case(r) for r in self.session.scalars(query)]
