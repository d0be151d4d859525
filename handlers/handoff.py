"""担当者に相談する: a user asks for a person. The request is recorded and posted to the secretariat's
channel through the outbox; the confirmation says truthfully what happens next."""

from __future__ import annotations

from handlers.answers import owned_question, refused
from handlers.context import Context
from handlers.i18n import t
from handlers.messages import Action, ActionName, Reply, ReplyKind
from handlers.outcome import Outcome, Send
from handlers.routes import Routes
from handlers.secretariat import secretariat_addresses

MAX_QUOTED_CHARS = 500


def hand_off(ctx: Context, action: Action) -> Outcome:
    logged = owned_question(ctx, action.value)
    if logged is None:
        return refused()
    ticket = ctx.uow.handoffs.create(logged.id, ctx.address, logged.question)
    if not ticket.created:
        return Outcome(Reply(text=t("handoff.exists", ref=ticket.ref)))
    destinations = secretariat_addresses(ctx)
    where = ctx.address
    notice = Reply(title=t("handoff.notice_title", ref=ticket.ref), kind=ReplyKind.PROACTIVE,
                   text=t("handoff.notice_body", question=logged.question[:MAX_QUOTED_CHARS],
                          platform=where.platform, conversation=where.conversation or where.user))
    sends = [Send(to, notice, f"handoff:{ticket.id}:{to.platform}") for to in destinations]
    key = "handoff.created" if destinations else "handoff.created_unrouted"
    return Outcome(Reply(text=t(key, ref=ticket.ref)), sends)


def register(routes: Routes) -> None:
    routes.action(ActionName.HANDOFF)(hand_off)
