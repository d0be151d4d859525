"""Proactive messages for the local web chat: the outbox row itself is the mailbox.

Delivering marks the row sent; the page asks `/webchat/api/updates?after=ID` for the rows sent to its
conversation since the last one it showed. Nothing is held in memory, so a message enqueued by a CLI
run or before a restart still reaches the browser. An edit is delivered the same way, carrying the
original's row id (its platform_id), so the page replaces that message instead of adding one.
"""

from __future__ import annotations

from scheduler.outbox import Delivered, OutboxRow, Permanent


class WebSender:
    async def send(self, row: OutboxRow) -> Delivered:
        return Delivered(str(row.id))

    async def find_delivered(self, row: OutboxRow) -> str | None:
        return None  # nothing outside our own table to look in; send() cannot fail half-way

    async def edit(self, row: OutboxRow) -> Delivered:
        if row.original is None or not row.original.platform_id:
            raise Permanent(f"web: {row.edits} was never shown")
        return Delivered(row.original.platform_id)
