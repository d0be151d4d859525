"""Proactive messages for the local web chat: the outbox row itself is the mailbox.

Delivering marks the row sent; the page asks `/webchat/api/updates?after=ID` for the rows sent to its
conversation since the last one it showed. Nothing is held in memory, so a message enqueued by a CLI
run or before a restart still reaches the browser.
"""

from __future__ import annotations

from scheduler.outbox import Delivered, OutboxRow


class WebSender:
    async def send(self, row: OutboxRow) -> Delivered:
        return Delivered(str(row.id))

    async def find_delivered(self, row: OutboxRow) -> str | None:
        return None  # nothing outside our own table to look in; send() cannot fail half-way
