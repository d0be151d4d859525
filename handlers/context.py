"""What every handler receives: its unit of work, the instant it runs at, who is acting, and the services."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from handlers.address import Address
from handlers.calendar import BusinessCalendar
from handlers.consult.settings import ConsultSettings
from handlers.events.model import EventSettings
from handlers.faq import FaqService
from handlers.ports import Rephraser, UnitOfWork

T = TypeVar("T")
BRIDGE_TIMEOUT_S = 20.0  # a slow outside call (a model) must not hold a handler's thread for ever


@dataclass(frozen=True)
class Services:
    """Long-lived collaborators, built once by the composition root (bot/app.py)."""

    faq: FaqService
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    rephraser: Rephraser | None = None
    secretariat_slack_channel: str = ""  # DXLAB_SECRETARIAT_SLACK_CHANNEL
    command_usage: tuple[str, ...] = ()  # i18n keys of every command's usage line, for help
    events: EventSettings = field(default_factory=EventSettings)  # reminders, the public URL of .ics files
    consult: ConsultSettings = field(default_factory=ConsultSettings)  # DXLAB_CONSULT_*, DXLAB_KB_DRAFTS_DIR


@dataclass
class Context:
    """One handler run. Handlers are plain functions run on a worker thread inside one transaction."""

    uow: UnitOfWork
    now: dt.datetime
    services: Services
    address: Address  # where the request came from (who acts); for a due step, where it concerns
    loop: asyncio.AbstractEventLoop | None = None  # the server's loop, for `wait`

    def wait(self, work: Awaitable[T], timeout: float = BRIDGE_TIMEOUT_S) -> T:
        """Run an async call (an SDK that only speaks asyncio) from the handler's thread and wait for it."""
        if self.loop is None:
            return asyncio.run(_awaited(work))
        return asyncio.run_coroutine_threadsafe(_awaited(work), self.loop).result(timeout)


async def _awaited(work: Awaitable[T]) -> T:
    return await work
