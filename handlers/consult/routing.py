"""Finding and asking experts: rank the candidates, post the case (number, topic, region, never the text)
with the top three mentioned and 割り当てる buttons in the secretariat's channel, offer it to the best
candidate directly (受ける / 断る), and schedule the SLA steps."""

from __future__ import annotations

import datetime as dt

from handlers.calendar import JST, BusinessCalendar
from handlers.consult.matching import ExpertIndex, Need
from handlers.consult.model import UNCLAIMED, Candidate, Case, Status
from handlers.consult.people import mention, reach
from handlers.context import Context
from handlers.directory.model import Expert
from handlers.i18n import t
from handlers.messages import Button, Reply, ReplyKind
from handlers.outcome import Lane, Send
from handlers.secretariat import secretariat_addresses

REMIND, ESCALATE, IDLE = "consult.remind", "consult.escalate", "consult.idle"
MAX_OFFER_ROUNDS = 20


def topic_label(case: Case) -> str:
    return case.topic or t("consult.topic_unknown")


def region_label(case: Case) -> str:
    return case.prefecture or t("consult.region_unknown")


def status_label(status: Status) -> str:
    return t(f"consult.status.{status.value}")


def business_days(calendar: BusinessCalendar, start: dt.datetime, days: int) -> dt.datetime:
    """`days` business days after `start`, counted in business hours (a day = one day's opening hours)."""
    s = calendar.settings
    per_day = (dt.datetime.combine(dt.date.min, s.business_end) - dt.datetime.combine(dt.date.min, s.business_start))
    return calendar.add_business_hours(start, days * per_day.total_seconds() / 3600)


def candidates(ctx: Context, case: Case, exclude: list[str], limit: int = 3) -> list[Candidate]:
    directory = ctx.uow.directory
    org = case.org or None
    found: dict[str, Expert] = {}
    if case.topic:
        found.update((e.person.id, e) for e in directory.experts(topic=case.topic, for_org=org))
    if case.industry:
        found.update((e.person.id, e) for e in directory.experts(industry=case.industry, for_org=org))
    # Nearness: those covering the prefecture (named, its region block, national); everyone when unknown.
    found.update((e.person.id, e) for e in directory.experts(prefecture=case.prefecture or None, for_org=org))
    for e in list(found.values()):  # an absent expert's substitute must be known to the index
        sub = e.profile.substitute
        if sub and sub not in found:
            person, profile = directory.person(sub), directory.expert(sub)
            if person is not None and profile is not None:
                found[sub] = Expert(person, profile)
    counts = ctx.uow.consult.open_counts(sorted(found))
    need = Need(case.topic, case.prefecture, case.industry, case.org)
    return ExpertIndex(found.values()).rank(need, counts, ctx.now.astimezone(JST).date(), exclude, limit)


def offered_people(ctx: Context, case: Case) -> list[str]:
    return [o.person for o in ctx.uow.consult.offers(case.id)]


def route(ctx: Context, case: Case) -> list[Send]:
    """Rank, post to the secretariat, offer to the best; the case becomes 割当待ち."""
    case.candidates = candidates(ctx, case, offered_people(ctx, case))
    case.status = Status.PENDING
    case.activity += 1  # a new routing round: its messages get new keys
    sends = secretariat_post(ctx, case, "consult.secretariat.title", "consult.secretariat.body",
                             f"consult:{case.id}:posted:{case.activity}")
    if case.candidates:
        sends += offer(ctx, case, case.candidates[0], len(offered_people(ctx, case)) + 1)
    escalate_at = business_days(ctx.services.calendar, case.created_at, ctx.services.consult.escalate_days)
    ctx.uow.due.schedule(ESCALATE, f"consult:{case.id}:escalate", escalate_at, {"case": case.id})
    case.due_at = min(escalate_at, case.due_at or escalate_at)
    ctx.uow.consult.save(case)
    return sends


def secretariat_post(ctx: Context, case: Case, title_key: str, body_key: str, key: str) -> list[Send]:
    """The case for the secretariat's channel: number, topic, region and the candidates, never the text."""
    sends = []
    for to in secretariat_addresses(ctx):
        lines = [t("consult.secretariat.candidate", rank=i, who=mention(ctx, c.person, to.platform), reason=c.reason)
                 for i, c in enumerate(case.candidates, 1)]
        buttons = tuple(Button(t("consult.button.assign", name=_name(ctx, c.person)), "consult.assign",
                               f"{case.id}:{c.person}") for c in case.candidates)
        text = t(body_key, topic=topic_label(case), region=region_label(case), ref=case.ref,
                 status=status_label(case.status), candidates="\n".join(lines) or t("consult.secretariat.none"))
        reply = Reply(text, title=t(title_key, ref=case.ref), buttons=buttons, kind=ReplyKind.PROACTIVE)
        sends.append(Send(to, reply, f"{key}:{to.platform}", lane=Lane.REPLY))
    return sends


def _name(ctx: Context, person_id: str) -> str:
    person = ctx.uow.directory.person(person_id)
    return person.name if person else person_id


def offer(ctx: Context, case: Case, candidate: Candidate, round_: int) -> list[Send]:
    """Ask one expert directly (受ける / 断る); the text goes with it only with the requester's consent."""
    ctx.uow.consult.set_offer(case.id, candidate.person, round_, "offered", ctx.now)
    case.offered_to = candidate.person
    remind_at = ctx.services.calendar.add_business_hours(ctx.now, ctx.services.consult.remind_hours)
    ctx.uow.due.schedule(REMIND, f"consult:{case.id}:remind:{candidate.person}", remind_at,
                         {"case": case.id, "person": candidate.person, "round": round_})
    case.due_at = min(remind_at, case.due_at or remind_at)
    to = reach(ctx, candidate.person)
    if to is None:
        return []
    text = shared_text(case) if case.consent else t("consult.offer.text_hidden")
    reply = Reply(t("consult.offer.body", topic=topic_label(case), region=region_label(case), reason=candidate.reason,
                    text=text),
                  title=t("consult.offer.title", ref=case.ref), kind=ReplyKind.PROACTIVE,
                  buttons=(Button(t("consult.button.accept"), "consult.accept", str(case.id), "primary"),
                           Button(t("consult.button.decline"), "consult.decline", str(case.id), "danger")))
    not_before = ctx.services.calendar.next_allowed(ctx.now)
    return [Send(to, reply, f"consult:{case.id}:offer:{candidate.person}",
                 not_before=not_before if not_before > ctx.now else None)]


def shared_text(case: Case) -> str:
    """What an expert reads once the requester consents: their words and the FAQ answer they had seen."""
    if case.bot_answer:
        return f"{case.text}\n\n{t('consult.offer.bot_answer', answer=case.bot_answer)}"
    return case.text


def offer_next(ctx: Context, case: Case) -> list[Send]:
    """Offer the case to the best candidate nobody has asked yet; tell the secretariat when none is left."""
    asked = offered_people(ctx, case)
    if case.status not in UNCLAIMED or len(asked) >= MAX_OFFER_ROUNDS:
        return []
    found = candidates(ctx, case, asked, limit=1)
    if not found:
        case.offered_to = None
        ctx.uow.consult.save(case)
        return notify_secretariat(ctx, case, "consult.secretariat.exhausted", f"consult:{case.id}:exhausted")
    sends = offer(ctx, case, found[0], len(asked) + 1)
    ctx.uow.consult.save(case)
    return sends


def notify_secretariat(ctx: Context, case: Case, key: str, send_key: str, **params: object) -> list[Send]:
    reply = Reply(t(key, ref=case.ref, **params), kind=ReplyKind.PROACTIVE)
    return [Send(to, reply, f"{send_key}:{to.platform}", lane=Lane.REPLY) for to in secretariat_addresses(ctx)]


def tell_requester(case: Case, key: str, send_key: str, buttons: tuple[Button, ...] = (), **params: object
                   ) -> Send:
    reply = Reply(t(key, ref=case.ref, **params), buttons=buttons, kind=ReplyKind.PROACTIVE)
    return Send(case.requester_address, reply, send_key, lane=Lane.REPLY)
