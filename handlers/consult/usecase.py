"""The consultation use case's routes: commands, buttons, forms, intents, the relay claim and SLA steps."""

from __future__ import annotations

from handlers.consult import closing, intake, lifecycle, relay, sla
from handlers.routes import Routes


def register(routes: Routes) -> None:
    routes.command("相談", "consult", usage="consult.usage")(intake.by_command)
    routes.command("状況", "status", usage="consult.status_usage")(lifecycle.show)
    routes.intent("consult")(intake.by_words)
    routes.intent("unsure")(intake.unsure)
    routes.claim(relay.relay)
    routes.action("consult.consent")(intake.give_consent)
    routes.action("consult.as_faq")(intake.as_faq)
    routes.action("consult.as_consult")(intake.as_consult)
    routes.action("consult.accept")(lifecycle.accept)
    routes.action("consult.decline")(lifecycle.decline)
    routes.action("consult.assign")(lifecycle.assign)
    routes.action("consult.answered")(lifecycle.answered)
    routes.action("consult.close")(closing.ask_rating)
    routes.action("consult.reopen")(closing.reopen_pressed)
    routes.action("consult.draft")(closing.add_faq)
    routes.action("consult.approve")(closing.approve_pressed)
    routes.form(intake.REFINE_FORM)(intake.refine)
    routes.form(lifecycle.CLOSE_FORM)(closing.close)
    for kind, step in sla.STEPS.items():
        routes.step(kind)(step)
