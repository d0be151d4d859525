"""Requester and expert talk through the bot: a message in the requester's case conversation (their
thread, or a direct chat) goes to the assignee's direct chat, and the assignee's direct messages go back
to the requester's conversation, across platforms. Every message is kept for the secretariat to read.
A requester who writes after 回答済 reopens the case (再開)."""

from __future__ import annotations

from handlers.consult.lifecycle import reopen, schedule_idle
from handlers.consult.model import Case, Relayed, Status, parse_ref
from handlers.consult.people import audit, me, name_of, reach, remember_contact, requester_ref
from handlers.consult.routing import notify_secretariat
from handlers.context import Context
from handlers.i18n import t
from handlers.messages import Inbound, Reply, ReplyKind, Visibility
from handlers.outcome import Lane, Outcome, Send


def _named(cases: list[Case], text: str) -> tuple[Case, str]:
    """A message may start with a 受付番号 to pick one of several cases; else the most recent one."""
    head, _, rest = text.strip().partition(" ")
    head = head.rstrip(":：")
    if parse_ref(head) is not None:
        for case in cases:
            if case.ref == head.upper():
                return case, rest.strip() or text
    return cases[0], text


def relay(ctx: Context, msg: Inbound) -> Outcome | None:
    """A claim on free text: None when the message belongs to no case (it goes to the intents)."""
    if msg.is_command or not msg.text.strip():
        return None
    person = me(ctx)
    remember_contact(ctx, person)
    where = ctx.address
    if person is not None and where.is_direct:
        mine = ctx.uow.consult.open_for_expert(person.id)
        if mine:
            case, text = _named(mine, msg.text)
            return _forward(ctx, case, "expert", person.id, text)
    ref = requester_ref(where)
    theirs = [c for c in ctx.uow.consult.open_for_requester(where.conversation_key, ref)
              if c.requester_address.conversation_key == where.conversation_key
              or (where.is_direct and c.requester_ref == ref)]
    if theirs:
        case, text = _named(theirs, msg.text)
        return _forward(ctx, case, "requester", ref, text)
    return None


def _forward(ctx: Context, case: Case, side: str, sender: str, text: str) -> Outcome:
    sends: list[Send] = []
    if side == "requester" and case.status == Status.ANSWERED:
        sends += reopen(ctx, case)
    ctx.uow.consult.add_message(case.id, Relayed(ctx.now, side, sender, text))
    case.activity += 1
    case.last_activity_at = ctx.now
    schedule_idle(ctx, case)
    ctx.uow.consult.save(case)
    audit(ctx, "consult.relay", case, after={"side": side})
    if side == "requester":
        to = reach(ctx, case.assignee)
        body = t("consult.relay.from_requester", ref=case.ref, text=text)
    else:
        to = case.requester_address
        body = t("consult.relay.from_expert", ref=case.ref, who=name_of(ctx, case.assignee), text=text)
    key = f"consult:{case.id}:relay:{case.activity}"
    if to is None:
        sends += notify_secretariat(ctx, case, "consult.relay.unreachable", key)
        return Outcome(Reply(t("consult.relay.unreachable", ref=case.ref), visibility=Visibility.PRIVATE), sends)
    sends.append(Send(to, Reply(body, kind=ReplyKind.PROACTIVE), key, lane=Lane.REPLY))
    return Outcome(Reply(t("consult.relay.sent", ref=case.ref), visibility=Visibility.PRIVATE), sends)
