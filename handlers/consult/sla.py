"""SLA on business hours (handlers/calendar.py), as due steps that each run once (their keys are unique and
the outbox keys too, so a restart or a second run at the same instant sends nothing twice):
- unclaimed after DXLAB_CONSULT_REMIND_HOURS business hours → a reminder to the offered expert, and the
  case is offered to the next candidate as well;
- unclaimed after DXLAB_CONSULT_ESCALATE_DAYS business days → escalation in the secretariat's channel;
- no message for DXLAB_CONSULT_IDLE_DAYS business days on a claimed case → a nudge to the assignee."""

from __future__ import annotations

import datetime as dt

from handlers.consult.model import UNCLAIMED, Status
from handlers.consult.people import reach
from handlers.consult.routing import ESCALATE, IDLE, REMIND, offer_next, secretariat_post
from handlers.context import Context
from handlers.i18n import t
from handlers.messages import Button, Reply, ReplyKind
from handlers.outcome import Outcome, Send
from handlers.routes import DueStep


def _dm_time(ctx: Context) -> dt.datetime | None:
    at = ctx.services.calendar.next_allowed(ctx.now)
    return at if at > ctx.now else None


def remind(ctx: Context, step: DueStep) -> Outcome:
    case = ctx.uow.consult.get(int(step.payload["case"]))
    person = str(step.payload["person"])
    if case is None or case.status not in UNCLAIMED:
        return Outcome()
    still = any(o.person == person and o.state == "offered" for o in ctx.uow.consult.offers(case.id))
    if not still:
        return Outcome()
    sends: list[Send] = []
    to = reach(ctx, person)
    if to is not None:
        reply = Reply(t("consult.offer.reminder", ref=case.ref), title=t("consult.offer.reminder_title", ref=case.ref),
                      kind=ReplyKind.PROACTIVE,
                      buttons=(Button(t("consult.button.accept"), "consult.accept", str(case.id), "primary"),
                               Button(t("consult.button.decline"), "consult.decline", str(case.id), "danger")))
        sends.append(Send(to, reply, f"consult:{case.id}:reminded:{person}", not_before=_dm_time(ctx)))
    sends += offer_next(ctx, case)  # the next candidate is asked too; whoever accepts first takes it
    return Outcome(None, sends)


def escalate(ctx: Context, step: DueStep) -> Outcome:
    case = ctx.uow.consult.get(int(step.payload["case"]))
    if case is None or case.status not in UNCLAIMED:
        return Outcome()
    return Outcome(None, secretariat_post(ctx, case, "consult.secretariat.escalation_title",
                                          "consult.secretariat.escalation", f"consult:{case.id}:escalated"))


def idle(ctx: Context, step: DueStep) -> Outcome:
    case = ctx.uow.consult.get(int(step.payload["case"]))
    if case is None or case.status != Status.ACTIVE or case.activity != int(step.payload["activity"]):
        return Outcome()
    to = reach(ctx, case.assignee)
    if to is None:
        return Outcome()
    reply = Reply(t("consult.nudge.body", ref=case.ref), title=t("consult.nudge.title", ref=case.ref),
                  kind=ReplyKind.PROACTIVE,
                  buttons=(Button(t("consult.button.answered"), "consult.answered", str(case.id)),))
    return Outcome(None, [Send(to, reply, f"consult:{case.id}:nudged:{case.activity}",
                               not_before=_dm_time(ctx))])


STEPS = {REMIND: remind, ESCALATE: escalate, IDLE: idle}
