"""Every use case, in one list: each module adds its commands, actions, forms, intents and steps."""

from __future__ import annotations

from handlers import announce, answers, directory_commands, handoff, help, secretariat
from handlers.consult import usecase as consult
from handlers.events import usecase as events
from handlers.kpi import usecase as kpi
from handlers.routes import Routes

USE_CASES = (help, answers, handoff, secretariat, directory_commands, consult, announce, events, kpi)


def build_routes() -> Routes:
    routes = Routes()
    for module in USE_CASES:
        module.register(routes)
    return routes
