"""Who is asked for a lab's KPI values, and where a direct message to them goes.

Slack: a DM by user id. Teams: a bot cannot open a personal chat from an AAD id alone, so the personal
conversation is remembered (`teams.personal:<aad id>` in the key/value store) when the person writes to
the bot one to one; until then they are reached on Slack, or through the lab's own channel.
"""

from __future__ import annotations

from handlers.address import Address, Platform
from handlers.context import Context
from handlers.directory.model import Lab, Person, Role
from handlers.ports import UnitOfWork

TEAMS_PERSONAL = "teams.personal:"


def coordinators(uow: UnitOfWork, lab: str) -> list[Person]:
    """The lab's coordinators; its lead when it has none."""
    found = uow.directory.people(role=Role.COORDINATOR.value, lab=lab)
    return found or uow.directory.people(role=Role.LEAD.value, lab=lab)


def leads(uow: UnitOfWork, lab: str) -> list[Person]:
    return uow.directory.people(role=Role.LEAD.value, lab=lab)


def direct(uow: UnitOfWork, person: Person) -> Address | None:
    if person.slack_user:
        return Address(Platform.SLACK, "", user=person.slack_user)
    if person.teams_user:
        stored = uow.kv.get(TEAMS_PERSONAL + person.teams_user)
        if stored:
            return Address.from_json(stored)
    return None


def lab_channel(lab: Lab | None) -> Address | None:
    if lab is None:
        return None
    if lab.slack_channel:
        return Address(Platform.SLACK, lab.slack_channel)
    if lab.teams_conversation:
        return Address(Platform.TEAMS, lab.teams_conversation)
    return None


def recipients(uow: UnitOfWork, lab: str, people: list[Person], known: Lab | None = None
               ) -> list[tuple[str, Address]]:
    """(who, address) for each person reachable directly; the lab's channel once when nobody is."""
    out = [(p.id, a) for p in people if (a := direct(uow, p)) is not None]
    if not out and (channel := lab_channel(known or uow.directory.lab(lab))) is not None:
        out.append((f"lab-{lab}", channel))
    return out


def staff_by_lab(uow: UnitOfWork) -> dict[str, list[Person]]:
    """Every lab's coordinators (its lead when it has none), in three queries for all labs."""
    out: dict[str, list[Person]] = {}
    for role in (Role.COORDINATOR.value, Role.LEAD.value):
        found: dict[str, list[Person]] = {}
        for person in uow.directory.people(role=role):
            for lab in person.labs:
                found.setdefault(lab, []).append(person)
        for lab, persons in found.items():
            out.setdefault(lab, persons)
    return out


def remember_personal(ctx: Context) -> None:
    """A Teams user writing one to one: keep that conversation for later DMs."""
    where = ctx.address
    if where.platform == Platform.TEAMS and where.user and where.is_direct:
        key = TEAMS_PERSONAL + where.user
        value = where.in_thread(None).to_json()
        if ctx.uow.kv.get(key) != value:
            ctx.uow.kv.put(key, value)
