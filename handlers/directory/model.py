"""The directory as plain values: labs, people (with their platform identities, roles and labs),
expert profiles and the secretariat's own channels. The file the secretariat edits, the database
and the export all speak these types."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    SECRETARIAT = "secretariat"
    LEAD = "lead"
    COORDINATOR = "coordinator"
    EXPERT = "expert"
    COMPANY = "company"


LAB_ROLES = frozenset({Role.LEAD, Role.COORDINATOR, Role.COMPANY})  # roles held in a lab: need `labs`
LAB_STATUSES = ("active", "inactive")


@dataclass(frozen=True)
class Lab:
    id: str
    name: str
    prefecture: str
    region: str = ""  # derived from the prefecture; kept for filtering
    round: int | None = None
    selected_on: str | None = None  # ISO date, or its year-month when only that is public
    status: str = "active"
    slack_channel: str | None = None  # where the lab's announcements go
    teams_conversation: str | None = None


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    org: str | None = None
    prefecture: str | None = None
    industry: str | None = None
    email: str | None = None
    slack_user: str | None = None
    teams_user: str | None = None  # the Azure AD object id Teams gives as the sender's aadObjectId
    roles: tuple[str, ...] = ()
    labs: tuple[str, ...] = ()
    demo: bool = False  # a fictional person of the demo directory (the web chat may act as them)

    def has(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class ExpertProfile:
    person: str
    kind: str
    prefectures: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    national: bool = False
    industries: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    capacity: int = 3  # open cases at a time
    languages: tuple[str, ...] = ("ja",)
    absent_from: dt.date | None = None
    absent_until: dt.date | None = None
    substitute: str | None = None
    excluded_orgs: tuple[str, ...] = ()  # organisations this expert must not advise (conflicts of interest)

    def absent_on(self, day: dt.date) -> bool:
        if self.absent_from is None and self.absent_until is None:
            return False
        start = self.absent_from or dt.date.min
        end = self.absent_until or dt.date.max
        return start <= day <= end


@dataclass(frozen=True)
class Expert:
    person: Person
    profile: ExpertProfile


@dataclass(frozen=True)
class SecretariatChannels:
    slack_channel: str | None = None
    teams_conversation: str | None = None


@dataclass
class Directory:
    secretariat: SecretariatChannels = field(default_factory=SecretariatChannels)
    labs: list[Lab] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    experts: list[ExpertProfile] = field(default_factory=list)


SECTIONS = ("secretariat", "labs", "people", "experts")
LIST_FIELDS = {name for cls in (Person, ExpertProfile) for name, f in cls.__dataclass_fields__.items()
               if str(f.type).startswith("tuple")}


def as_record(value: Lab | Person | ExpertProfile | SecretariatChannels) -> dict[str, Any]:
    """The row as the file writes it: lists as lists, dates as ISO strings, in field order."""
    out: dict[str, Any] = {}
    for f in fields(value):
        v = getattr(value, f.name)
        if isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, dt.date):
            v = v.isoformat()
        out[f.name] = v
    return out
