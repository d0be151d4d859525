"""The directory: labs, people and their platform identities, roles (as data), lab membership,
expert profiles, the secretariat's own channels, and the audit log of changes and privileged actions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models.base import Base, Created, ShortText, TZDateTime, utcnow

Id = String(64)


class Role(Base):
    """The roles a person can hold (secretariat, lead, coordinator, expert, company): rows, not code."""

    __tablename__ = "role"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    lab_scoped: Mapped[bool] = mapped_column(default=False)  # held in a lab: acts for its own labs only
    description: Mapped[str] = mapped_column(String(255), default="")


class Lab(Base):
    __tablename__ = "lab"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[ShortText]
    prefecture: Mapped[str] = mapped_column(String(8), index=True)
    region: Mapped[str] = mapped_column(String(16), index=True)
    round: Mapped[int | None]
    selected_on: Mapped[str | None] = mapped_column(String(10))  # YYYY-MM-DD or YYYY-MM
    status: Mapped[str] = mapped_column(String(16), default="active")
    slack_channel: Mapped[str | None] = mapped_column(String(64))
    teams_conversation: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime(), default=utcnow)


class Person(Base):
    __tablename__ = "person"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[ShortText]
    org: Mapped[str | None] = mapped_column(String(255))
    prefecture: Mapped[str | None] = mapped_column(String(8), index=True)
    industry: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(255))
    slack_user: Mapped[str | None] = mapped_column(String(64), unique=True)
    teams_user: Mapped[str | None] = mapped_column(String(128), unique=True)
    demo: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime(), default=utcnow)


class PersonRole(Base):
    __tablename__ = "person_role"
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(ForeignKey("role.name"), primary_key=True, index=True)


class LabMember(Base):
    """A person's membership of a lab; their lab-scoped roles (lead, coordinator, company) apply here."""

    __tablename__ = "lab_member"
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    lab_id: Mapped[str] = mapped_column(ForeignKey("lab.id", ondelete="CASCADE"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(default=0)


class ExpertProfile(Base):
    __tablename__ = "expert_profile"
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    national: Mapped[bool] = mapped_column(default=False, index=True)
    capacity: Mapped[int] = mapped_column(default=3)
    absent_from: Mapped[dt.date | None] = mapped_column(Date)
    absent_until: Mapped[dt.date | None] = mapped_column(Date)
    substitute_id: Mapped[str | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))


class ExpertAttribute(Base):
    """One value of an expert's list fields (prefecture, region, industry, topic, language, excluded_org):
    a row each, so "experts for topic T in prefecture P" is an indexed lookup."""

    __tablename__ = "expert_attribute"
    __table_args__ = (Index("ix_expert_attribute_lookup", "field", "value"),)
    person_id: Mapped[str] = mapped_column(ForeignKey("expert_profile.person_id", ondelete="CASCADE"),
                                           primary_key=True)
    field: Mapped[str] = mapped_column(String(16), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[ShortText]


class SecretariatChannel(Base):
    """Where the secretariat reads, per platform, as the directory file says."""

    __tablename__ = "secretariat_channel"
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    conversation: Mapped[ShortText]


class AuditLog(Base):
    """Every directory change and every privileged action (allowed or refused): who, what, when, before/after."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[Created]
    actor: Mapped[ShortText]  # a person id, a platform address key, or cli:<os user>
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(255), default="")
    outcome: Mapped[str] = mapped_column(String(16))  # done | allowed | refused
    before: Mapped[str | None] = mapped_column(Text)  # JSON
    after: Mapped[str | None] = mapped_column(Text)  # JSON
