"""The jobs the server schedules. Each takes what it needs explicitly and runs off the event loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger(__name__)

PURGE_EVENTS_EVERY_SECONDS = 3600.0
KNOWLEDGE_POLL_SECONDS = 3.0


class PurgesEvents(Protocol):
    def purge_expired_events(self) -> int: ...


class Reloadable(Protocol):
    def changed(self) -> bool: ...

    def reload(self) -> object: ...


async def purge_processed_events(store: PurgesEvents) -> int:
    """Drop expired delivery ids (Slack retries come within minutes; rows live an hour)."""
    removed = await asyncio.to_thread(store.purge_expired_events)
    if removed:
        log.info("purged %d expired delivery ids", removed)
    return removed


async def reload_knowledge_if_changed(knowledge: Reloadable) -> bool:
    """Pick up edited knowledge files; a bad edit is refused inside reload() and logged there."""
    if not await asyncio.to_thread(knowledge.changed):
        return False
    await asyncio.to_thread(knowledge.reload)
    return True
