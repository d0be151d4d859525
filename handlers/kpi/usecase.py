"""The KPI check-in use case: chat commands, buttons, forms and the due steps of the cycle."""

from __future__ import annotations

from handlers.kpi import commands, cycle, reporting
from handlers.kpi.commands import INTENT_CUES
from handlers.routes import Routes

__all__ = ["INTENT_CUES", "register"]


def register(routes: Routes) -> None:
    commands.register(routes)
    reporting.register(routes)
    cycle.register(routes)
