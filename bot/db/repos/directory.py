"""The directory and the audit log on SQLAlchemy (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, and_, delete, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from bot.db import models as m
from handlers.address import Address, Platform
from handlers.audit import AuditEntry
from handlers.directory.check import Change, Plan
from handlers.directory.model import Directory, Expert, ExpertProfile, Lab, Person, Role, SecretariatChannels
from knowledge.vocabulary import vocabulary

DEMO_PREFIX = "demo:"  # web chat in demo mode: the visitor acts as demo person <id>
LIST_ATTRIBUTES = {"prefectures": "prefecture", "regions": "region", "industries": "industry",
                   "topics": "topic", "languages": "language", "excluded_orgs": "excluded_org"}
LAB_COLUMNS = ("id", "name", "prefecture", "region", "round", "selected_on", "status", "slack_channel",
               "teams_conversation")
PERSON_COLUMNS = ("id", "name", "org", "prefecture", "industry", "email", "slack_user", "teams_user", "demo")
CHUNK = 500  # ids per IN (…) list


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def _lab(row: m.Lab) -> Lab:
    return Lab(**{c: getattr(row, c) for c in LAB_COLUMNS})


class SqlDirectory:
    def __init__(self, session: Session):
        self.session = session

    # -- reading -----------------------------------------------------------------------------
    def _people(self, query: Select[tuple[m.Person]]) -> list[Person]:
        rows = list(self.session.scalars(query))
        ids = [r.id for r in rows]
        roles: dict[str, list[str]] = defaultdict(list)
        labs: dict[str, list[str]] = defaultdict(list)
        for chunk in _chunks(ids):
            for pid, role in self.session.execute(select(m.PersonRole.person_id, m.PersonRole.role)
                                                  .where(m.PersonRole.person_id.in_(chunk))):
                roles[pid].append(role)
            for pid, lab in self.session.execute(select(m.LabMember.person_id, m.LabMember.lab_id)
                                                 .where(m.LabMember.person_id.in_(chunk))
                                                 .order_by(m.LabMember.person_id, m.LabMember.position)):
                labs[pid].append(lab)
        return [Person(**{c: getattr(r, c) for c in PERSON_COLUMNS},
                       roles=tuple(x.value for x in Role if x in roles[r.id]), labs=tuple(labs[r.id])) for r in rows]

    def _profiles(self, ids: Sequence[str]) -> dict[str, ExpertProfile]:
        attributes: dict[tuple[str, str], list[str]] = defaultdict(list)
        rows: list[m.ExpertProfile] = []
        for chunk in _chunks(ids):
            rows += self.session.scalars(select(m.ExpertProfile).where(m.ExpertProfile.person_id.in_(chunk)))
            for pid, name, value in self.session.execute(
                    select(m.ExpertAttribute.person_id, m.ExpertAttribute.field, m.ExpertAttribute.value)
                    .where(m.ExpertAttribute.person_id.in_(chunk))
                    .order_by(m.ExpertAttribute.person_id, m.ExpertAttribute.field, m.ExpertAttribute.position)):
                attributes[(pid, name)].append(value)
        return {r.person_id: ExpertProfile(
            person=r.person_id, kind=r.kind, national=r.national, capacity=r.capacity, absent_from=r.absent_from,
            absent_until=r.absent_until, substitute=r.substitute_id,
            **{f: tuple(attributes[(r.person_id, a)]) for f, a in LIST_ATTRIBUTES.items()}) for r in rows}

    def person(self, person_id: str) -> Person | None:
        found = self._people(select(m.Person).where(m.Person.id == person_id))
        return found[0] if found else None

    def expert(self, person_id: str) -> ExpertProfile | None:
        return self._profiles([person_id]).get(person_id)

    def person_by_address(self, address: Address) -> Person | None:
        if not address.user:
            return None
        if address.platform == Platform.SLACK:
            query = select(m.Person).where(m.Person.slack_user == address.user)
        elif address.platform == Platform.TEAMS:
            query = select(m.Person).where(m.Person.teams_user == address.user)
        elif address.platform == Platform.WEB and address.user.startswith(DEMO_PREFIX):
            query = select(m.Person).where(m.Person.id == address.user.removeprefix(DEMO_PREFIX), m.Person.demo)
        else:
            return None
        found = self._people(query)
        return found[0] if found else None

    def lab(self, lab_id: str) -> Lab | None:
        row = self.session.get(m.Lab, lab_id)
        return _lab(row) if row else None

    def labs(self, region: str | None = None, prefecture: str | None = None) -> list[Lab]:
        query = select(m.Lab).order_by(m.Lab.id)
        if region:
            query = query.where(m.Lab.region == region)
        if prefecture:
            query = query.where(m.Lab.prefecture == prefecture)
        return [_lab(r) for r in self.session.scalars(query)]

    def people(self, role: str | None = None, lab: str | None = None, region: str | None = None,
               prefecture: str | None = None) -> list[Person]:
        query = select(m.Person).order_by(m.Person.id)
        if role:
            query = query.where(exists().where(m.PersonRole.person_id == m.Person.id, m.PersonRole.role == role))
        if lab:
            query = query.where(exists().where(m.LabMember.person_id == m.Person.id, m.LabMember.lab_id == lab))
        if prefecture:
            query = query.where(m.Person.prefecture == prefecture)
        if region:
            query = query.where(m.Person.prefecture.in_(vocabulary().regions.get(region, ())))
        return self._people(query)

    def experts(self, topic: str | None = None, prefecture: str | None = None, industry: str | None = None,
                available_on: dt.date | None = None, for_org: str | None = None) -> list[Expert]:
        profile, attr = m.ExpertProfile, m.ExpertAttribute

        def has(name: str, value: Any) -> Any:
            return exists().where(attr.person_id == profile.person_id, attr.field == name, attr.value == value)

        query = select(profile.person_id)
        if topic:
            query = query.where(has("topic", topic))
        if industry:
            query = query.where(has("industry", industry))
        region = vocabulary().region_of(prefecture) if prefecture else None
        if prefecture:
            query = query.where(or_(profile.national, has("prefecture", prefecture), has("region", region)))
        if available_on:
            query = query.where(~and_(  # not inside an absence window (open at either end)
                or_(profile.absent_from.is_not(None), profile.absent_until.is_not(None)),
                or_(profile.absent_from.is_(None), profile.absent_from <= available_on),
                or_(profile.absent_until.is_(None), profile.absent_until >= available_on)))
        if for_org:
            query = query.where(~has("excluded_org", for_org))
        ids = list(self.session.scalars(query))
        profiles = self._profiles(ids)
        people = {p.id: p for chunk in _chunks(ids)
                  for p in self._people(select(m.Person).where(m.Person.id.in_(chunk)))}

        def nearness(e: ExpertProfile) -> tuple[int, str]:
            if prefecture is None or prefecture in e.prefectures:
                return 0, e.person
            return (1 if region in e.regions else 2), e.person

        return [Expert(people[p.person], p) for p in sorted(profiles.values(), key=nearness)]

    def secretariat_addresses(self) -> list[Address]:
        rows = self.session.scalars(select(m.SecretariatChannel).order_by(m.SecretariatChannel.platform))
        return [Address(r.platform, conversation=r.conversation) for r in rows]

    def is_empty(self) -> bool:
        return self.session.scalar(select(m.Lab.id).limit(1)) is None and \
            self.session.scalar(select(m.Person.id).limit(1)) is None

    def has_demo_people(self) -> bool:
        return self.session.scalar(select(m.Person.id).where(m.Person.demo).limit(1)) is not None

    def snapshot(self) -> Directory:
        channels = {a.platform: a.conversation for a in self.secretariat_addresses()}
        people = self._people(select(m.Person).order_by(m.Person.id))
        ids = list(self.session.scalars(select(m.ExpertProfile.person_id).order_by(m.ExpertProfile.person_id)))
        profiles = self._profiles(ids)
        return Directory(
            secretariat=SecretariatChannels(channels.get("slack"), channels.get("teams")),
            labs=[_lab(r) for r in self.session.scalars(select(m.Lab).order_by(m.Lab.id))],
            people=people, experts=[profiles[i] for i in ids])

    # -- writing -----------------------------------------------------------------------------
    def apply(self, plan: Plan, actor: str) -> None:
        now = dt.datetime.now(dt.UTC)
        rows = {lab.id: lab for lab in plan.directory.labs}
        people = {p.id: p for p in plan.directory.people}
        experts = {e.person: e for e in plan.directory.experts}
        by: dict[tuple[str, str], list[str]] = defaultdict(list)
        for change in plan.changes:
            by[(change.section, change.kind)].append(change.key)
        # Removals first (experts before the people they belong to, people before their labs).
        gone_experts = by[("experts", "removed")] + by[("experts", "updated")]
        self._delete(m.ExpertAttribute, m.ExpertAttribute.person_id, gone_experts)
        self._delete(m.ExpertProfile, m.ExpertProfile.person_id, gone_experts)
        rewritten = by[("people", "updated")] + by[("people", "removed")]
        self._delete(m.PersonRole, m.PersonRole.person_id, rewritten)
        self._delete(m.LabMember, m.LabMember.person_id, rewritten)
        self._delete(m.Person, m.Person.id, by[("people", "removed")])
        self._delete(m.Lab, m.Lab.id, by[("labs", "removed")])
        self._insert(m.Lab, [_values(rows[k], LAB_COLUMNS) | {"updated_at": now} for k in by[("labs", "created")]])
        for key in by[("labs", "updated")]:
            self.session.execute(update(m.Lab).where(m.Lab.id == key)
                                 .values(_values(rows[key], LAB_COLUMNS) | {"updated_at": now}))
        self._insert(m.Person, [_values(people[k], PERSON_COLUMNS) | {"updated_at": now}
                                for k in by[("people", "created")]])
        for key in by[("people", "updated")]:
            self.session.execute(update(m.Person).where(m.Person.id == key)
                                 .values(_values(people[key], PERSON_COLUMNS) | {"updated_at": now}))
        written = [people[k] for k in by[("people", "created")] + by[("people", "updated")]]
        self._insert(m.PersonRole, [{"person_id": p.id, "role": r} for p in written for r in p.roles])
        self._insert(m.LabMember, [{"person_id": p.id, "lab_id": lab, "position": i}
                                   for p in written for i, lab in enumerate(p.labs)])
        written_experts = [experts[k] for k in by[("experts", "created")] + by[("experts", "updated")]]
        self._insert(m.ExpertProfile, [
            {"person_id": e.person, "kind": e.kind, "national": e.national, "capacity": e.capacity,
             "absent_from": e.absent_from, "absent_until": e.absent_until, "substitute_id": e.substitute}
            for e in written_experts])
        self._insert(m.ExpertAttribute, [
            {"person_id": e.person, "field": a, "position": i, "value": v}
            for e in written_experts for f, a in LIST_ATTRIBUTES.items() for i, v in enumerate(getattr(e, f))])
        if any(c.section == "secretariat" for c in plan.changes):
            self.session.execute(delete(m.SecretariatChannel))
            s = plan.directory.secretariat
            self._insert(m.SecretariatChannel, [{"platform": p, "conversation": c} for p, c in
                                                (("slack", s.slack_channel), ("teams", s.teams_conversation)) if c])
        self._insert(m.AuditLog, [_audit_row(actor, c, now) for c in plan.changes])

    def _delete(self, table: Any, column: Any, keys: Sequence[str]) -> None:
        for chunk in _chunks(list(keys)):
            self.session.execute(delete(table).where(column.in_(chunk)))

    def _insert(self, table: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(table), rows)


def _values(row: Any, columns: Sequence[str]) -> dict[str, Any]:
    return {c: getattr(row, c) for c in columns}


def _audit_row(actor: str, change: Change, now: dt.datetime) -> dict[str, Any]:
    return {"at": now, "actor": actor, "action": f"directory.{change.kind}", "target": f"{change.section}:{change.key}",
            "outcome": "done", "before": _json(change.before), "after": _json(change.after)}


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


class SqlAudit:
    def __init__(self, session: Session):
        self.session = session

    def record(self, entry: AuditEntry) -> None:
        self.session.add(m.AuditLog(at=entry.at or dt.datetime.now(dt.UTC), actor=entry.actor, action=entry.action,
                                    target=entry.target, outcome=entry.outcome, before=_json(entry.before),
                                    after=_json(entry.after)))
        self.session.flush()

    def since(self, since: dt.datetime | None = None, limit: int | None = None) -> list[AuditEntry]:
        query = select(m.AuditLog).order_by(m.AuditLog.at, m.AuditLog.id)
        if since is not None:
            query = query.where(m.AuditLog.at >= since)
        if limit is not None:
            query = query.limit(limit)
        return [AuditEntry(actor=r.actor, action=r.action, target=r.target, outcome=r.outcome,
                           before=json.loads(r.before) if r.before else None,
                           after=json.loads(r.after) if r.after else None, at=r.at)
                for r in self.session.scalars(query)]
