"""A case's life: 受付 → 割当待ち → 対応中 → 回答済 → 完了 (and 再開). The requester and the secretariat are
told at each step; whoever presses a button must be the person it was meant for."""

from __future__ import annotations

from handlers.answers import parse_id
from handlers.consult.model import UNCLAIMED, Case, Status
from handlers.consult.people import audit, is_requester, me, mention, name_of, reach, remember_contact
from handlers.consult.routing import (
    IDLE,
    business_days,
    notify_secretariat,
    offer_next,
    region_label,
    shared_text,
    status_label,
    tell_requester,
    topic_label,
)
from handlers.context import Context
from handlers.i18n import t
from handlers.messages import Action, Button, Inbound, Reply, ReplyKind, Visibility
from handlers.outcome import Lane, Outcome, Send
from handlers.policy import Act, check

CLOSE_FORM = "consult.close"


def private(key: str, **params: object) -> Outcome:
    return Outcome(Reply(t(key, **params), visibility=Visibility.PRIVATE))


def case_of(ctx: Context, value: str) -> Case | None:
    case_id = parse_id(value.split(":", 1)[0])
    return ctx.uow.consult.get(case_id) if case_id is not None else None


def schedule_idle(ctx: Context, case: Case) -> None:
    """A nudge to the assignee after the idle threshold, unless a message comes first (the key has the count)."""
    ctx.uow.due.cancel(f"consult:{case.id}:idle:")
    at = business_days(ctx.services.calendar, ctx.now, ctx.services.consult.idle_days)
    ctx.uow.due.schedule(IDLE, f"consult:{case.id}:idle:{case.activity}", at, {"case": case.id,
                                                                              "activity": case.activity})
    case.due_at = at


def claim(ctx: Context, case: Case, person_id: str) -> list[Send]:
    """`person_id` takes the case: the others asked are withdrawn; everyone is told."""
    for o in ctx.uow.consult.offers(case.id):
        if o.state == "offered" and o.person != person_id:
            ctx.uow.consult.set_offer(case.id, o.person, o.round, "withdrawn", ctx.now)
    ctx.uow.consult.set_offer(case.id, person_id, len(ctx.uow.consult.offers(case.id)) + 1, "accepted", ctx.now)
    case.status, case.assignee, case.offered_to, case.claimed_at = Status.ACTIVE, person_id, None, ctx.now
    case.last_activity_at = ctx.now
    ctx.uow.due.cancel(f"consult:{case.id}:remind:")
    ctx.uow.due.cancel(f"consult:{case.id}:escalate")
    schedule_idle(ctx, case)
    ctx.uow.consult.save(case)
    audit(ctx, "consult.claim", case, after={"assignee": person_id})
    who = name_of(ctx, person_id)
    sends = [tell_requester(case, "consult.requester.assigned", f"consult:{case.id}:assigned", who=who)]
    sends += notify_secretariat(ctx, case, "consult.secretariat.assigned", f"consult:{case.id}:assigned",
                                who=who)
    expert = reach(ctx, person_id)
    if expert is not None:
        text = t("consult.offer.accepted", ref=case.ref)
        if case.consent:
            text += "\n\n" + shared_text(case)
        reply = Reply(text, title=t("consult.offer.shared_title", ref=case.ref), kind=ReplyKind.PROACTIVE,
                      buttons=(Button(t("consult.button.answered"), "consult.answered", str(case.id)),))
        sends.append(Send(expert, reply, f"consult:{case.id}:claimed:{person_id}", lane=Lane.REPLY))
    return sends


def accept(ctx: Context, action: Action) -> Outcome:
    case, person = case_of(ctx, action.value), me(ctx)
    remember_contact(ctx, person)
    offered = case is not None and person is not None and any(
        o.person == person.id and o.state == "offered" for o in ctx.uow.consult.offers(case.id))
    if case is None or person is None or not offered or case.status not in UNCLAIMED:
        return private("consult.offer.not_yours")
    return Outcome(None, claim(ctx, case, person.id))


def decline(ctx: Context, action: Action) -> Outcome:
    case, person = case_of(ctx, action.value), me(ctx)
    if case is None or person is None or not any(
            o.person == person.id and o.state == "offered" for o in ctx.uow.consult.offers(case.id)):
        return private("consult.offer.not_yours")
    offer = next(o for o in ctx.uow.consult.offers(case.id) if o.person == person.id)
    ctx.uow.consult.set_offer(case.id, person.id, offer.round, "declined", ctx.now)
    ctx.uow.due.cancel(f"consult:{case.id}:remind:{person.id}")
    audit(ctx, "consult.decline", case)
    sends = notify_secretariat(ctx, case, "consult.secretariat.declined", f"consult:{case.id}:declined:{person.id}",
                               who=person.name)
    if case.offered_to == person.id:
        sends += offer_next(ctx, case)
    return Outcome(Reply(t("consult.offer.declined", ref=case.ref), visibility=Visibility.PRIVATE), sends)


def assign(ctx: Context, action: Action) -> Outcome:
    """割り当てる in the secretariat's channel: a secretariat member gives the case to that candidate."""
    case = case_of(ctx, action.value)
    person_id = action.value.split(":", 1)[1] if ":" in action.value else ""
    decision = check(ctx, Act.CONSULT_ASSIGN, target=case.ref if case else action.value)
    if not decision.allowed:
        return private("consult.refused")
    if case is None or ctx.uow.directory.expert(person_id) is None:
        return private("consult.unknown")
    if case.status not in UNCLAIMED:
        return private("consult.offer.not_yours")
    return Outcome(None, claim(ctx, case, person_id))


def answered(ctx: Context, action: Action) -> Outcome:
    case, person = case_of(ctx, action.value), me(ctx)
    if case is None or person is None or case.assignee != person.id or case.status != Status.ACTIVE:
        return private("consult.offer.not_yours")
    case.status, case.answered_at, case.last_activity_at = Status.ANSWERED, ctx.now, ctx.now
    ctx.uow.due.cancel(f"consult:{case.id}:idle:")
    case.due_at = None
    ctx.uow.consult.save(case)
    audit(ctx, "consult.answered", case)
    n = case.reopened
    close = Button(t("consult.button.close"), "consult.close", str(case.id), "primary")
    sends = [tell_requester(case, "consult.requester.answered", f"consult:{case.id}:answered:{n}", (close,))]
    draft = Button(t("consult.button.add_faq"), "consult.draft", str(case.id))
    for s in notify_secretariat(ctx, case, "consult.secretariat.answered", f"consult:{case.id}:answered:{n}",
                                who=person.name):
        sends.append(Send(s.to, Reply(s.reply.text, buttons=(draft,), kind=ReplyKind.PROACTIVE), s.key, lane=s.lane))
    return Outcome(Reply(t("consult.secretariat.answered", ref=case.ref, who=person.name),
                         visibility=Visibility.PRIVATE), sends)


def reopen(ctx: Context, case: Case) -> list[Send]:
    case.status, case.reopened, case.last_activity_at = Status.ACTIVE, case.reopened + 1, ctx.now
    case.closed_at = None
    schedule_idle(ctx, case)
    ctx.uow.consult.save(case)
    audit(ctx, "consult.reopen", case)
    key = f"consult:{case.id}:reopened:{case.reopened}"
    sends = notify_secretariat(ctx, case, "consult.secretariat.reopened", key)
    sends.append(tell_requester(case, "consult.requester.reopened", key))
    expert = reach(ctx, case.assignee)
    if expert is not None:
        sends.append(Send(expert, Reply(t("consult.secretariat.reopened", ref=case.ref), kind=ReplyKind.PROACTIVE),
                          f"{key}:expert", lane=Lane.REPLY))
    return sends


def may_see(ctx: Context, case: Case) -> bool:
    """Requester, offered or assigned expert, or the secretariat (the policy decides and audits that)."""
    person = me(ctx)
    own = is_requester(ctx, case, person) or (person is not None and (
        person.id == case.assignee or any(o.person == person.id for o in ctx.uow.consult.offers(case.id))))
    if own:
        audit(ctx, "consult.view", case, outcome="allowed")
        return True
    return check(ctx, Act.CONSULT_VIEW, target=case.ref).allowed


def show(ctx: Context, msg: Inbound) -> Outcome:
    """`/dxlab 状況 DX-…`: the case for those allowed to see it (with the relayed messages)."""
    ref = msg.text.strip().split(maxsplit=1)[0] if msg.text.strip() else ""
    if not ref:
        return private("consult.show.usage")
    case = ctx.uow.consult.by_ref(ref)
    if case is None:
        return private("consult.show.not_found", ref=ref)
    if not may_see(ctx, case):
        return private("consult.show.refused")
    nobody = t("consult.show.nobody")
    lines = [f"[{m.at.strftime('%m/%d %H:%M')} {m.side}] {m.text}" for m in ctx.uow.consult.messages(case.id)]
    body = t("consult.show.body", topic=topic_label(case), region=region_label(case),
             created=case.created_at.isoformat(timespec="minutes"),
             assignee=name_of(ctx, case.assignee) if case.assignee else nobody,
             offered=mention(ctx, case.offered_to, "") if case.offered_to else nobody, text=case.text)
    title = t("consult.show.title", ref=case.ref, status=status_label(case.status))
    return Outcome(Reply("\n".join([body, *lines]), title=title, visibility=Visibility.PRIVATE))
