"""The web chat's mailbox: messages the outbox delivered to a browser conversation (or to the demo person
acting in it), read by the page's polling."""

from __future__ import annotations

from sqlalchemy import select

from bot.db.models import OutboxMessage
from bot.db.models.work import SENT
from bot.db.session import Database

MAX_MESSAGES = 50


def delivered_since(db: Database, pacing_keys: list[str], after: int) -> list[tuple[int, str, int | None]]:
    """(row id, reply payload, the row id of the message it replaces or None) of the messages sent to these
    web addresses after row `after`, oldest first."""
    with db.session() as s:
        rows = s.execute(select(OutboxMessage.id, OutboxMessage.payload, OutboxMessage.edits,
                                OutboxMessage.platform_id)
                         .where(OutboxMessage.platform == "web", OutboxMessage.state == SENT,
                                OutboxMessage.pacing_key.in_(pacing_keys), OutboxMessage.id > after)
                         .order_by(OutboxMessage.id).limit(MAX_MESSAGES)).all()
    return [(int(i), str(p), int(original) if edits and original and original.isdigit() else None)
            for i, p, edits, original in rows]
