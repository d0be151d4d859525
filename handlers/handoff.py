"""担当者に相談する (door 1 of the consultations): the question under an FAQ answer becomes a case, with
the bot's answer carried over, matched and routed like any other; the confirmation says truthfully who was
told. The hand-off row is kept too (one per answer: a second press names the case already open)."""

from __future__ import annotations

from handlers.answers import owned_question, refused
from handlers.consult.intake import open_case
from handlers.consult.model import Door
from handlers.context import Context
from handlers.i18n import t
from handlers.messages import Action, ActionName, Reply, Visibility
from handlers.outcome import Outcome
from handlers.routes import Routes


def hand_off(ctx: Context, action: Action) -> Outcome:
    logged = owned_question(ctx, action.value)
    if logged is None:
        return refused()
    ticket = ctx.uow.handoffs.create(logged.id, ctx.address, logged.question)
    existing = ctx.uow.consult.by_question(logged.id)
    if existing is not None or not ticket.created:
        ref = existing.ref if existing is not None else ticket.ref
        return Outcome(Reply(t("consult.opened.exists", ref=ref), visibility=Visibility.PRIVATE))
    answered = ctx.services.faq.answer_entry(logged.entry_id) if logged.entry_id else None
    return open_case(ctx, Door.BUTTON, logged.question, answered.answer if answered else None, logged.id)


def register(routes: Routes) -> None:
    routes.action(ActionName.HANDOFF)(hand_off)
