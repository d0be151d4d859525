"""Who is who in a case: the acting person, where to reach an expert, how to name them on each platform,
and the audit record of every view and change."""

from __future__ import annotations

from handlers.address import Address, Platform
from handlers.audit import AuditEntry
from handlers.consult.model import Case
from handlers.context import Context
from handlers.directory.model import Person
from handlers.policy import actor_ref

CONTACT_KEY = "consult.contact."  # kv: a person's Teams personal chat, learnt when they last wrote to the bot


def requester_ref(address: Address) -> str:
    return f"{address.platform}:{address.user or address.conversation}"


def me(ctx: Context) -> Person | None:
    return ctx.uow.directory.person_by_address(ctx.address)


def remember_contact(ctx: Context, person: Person | None) -> None:
    """A known person writing to the bot directly on Teams: keep that chat to reach them later."""
    where = ctx.address
    if person is not None and where.platform == Platform.TEAMS and where.is_direct and where.conversation:
        value = where.in_thread(None).to_json()
        if ctx.uow.kv.get(CONTACT_KEY + person.id) != value:
            ctx.uow.kv.put(CONTACT_KEY + person.id, value)


def reach(ctx: Context, person_id: str | None) -> Address | None:
    """Where a direct message to this person goes: their Slack DM, else their last Teams chat with the bot."""
    person = ctx.uow.directory.person(person_id) if person_id else None
    if person is None:
        return None
    if person.slack_user:
        return Address(Platform.SLACK, "", person.slack_user)
    stored = ctx.uow.kv.get(CONTACT_KEY + person.id)
    return Address.from_json(stored) if stored else None


def name_of(ctx: Context, person_id: str | None) -> str:
    person = ctx.uow.directory.person(person_id) if person_id else None
    return person.name if person else (person_id or "")


def mention(ctx: Context, person_id: str, platform: str) -> str:
    """`<@U…>` on Slack (so they are notified), the name elsewhere."""
    person = ctx.uow.directory.person(person_id)
    if person is None:
        return person_id
    if platform == Platform.SLACK and person.slack_user:
        return f"<@{person.slack_user}>"
    return person.name


def is_requester(ctx: Context, case: Case, person: Person | None) -> bool:
    if person is not None and case.requester_person == person.id:
        return True
    return requester_ref(ctx.address) == case.requester_ref


def audit(ctx: Context, action: str, case: Case, outcome: str = "done", after: dict[str, object] | None = None
          ) -> None:
    ctx.uow.audit.record(AuditEntry(actor=actor_ref(me(ctx), ctx.address), action=action, target=case.ref,
                                    outcome=outcome, after=after, at=ctx.now))
