"""The writing side of durable work, used inside a handler's transaction: enqueue a message to send,
schedule or cancel a due step. The worker side (claiming, marking) lives beside its worker."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.db.models import DueWork, OutboxMessage, utcnow
from bot.db.models.work import CANCELLED, PENDING
from bot.db.repos.upsert import insert_new
from handlers.outcome import Send


class SqlOutboxWriter:
    def __init__(self, session: Session):
        self.session = session

    def enqueue(self, send: Send, now: dt.datetime) -> bool:
        first = max(now, send.not_before) if send.not_before else now
        return insert_new(self.session, OutboxMessage, {
            "created_at": utcnow(), "key": send.key, "platform": send.to.platform, "address": send.to.to_json(),
            "pacing_key": send.to.pacing_key, "workspace": send.to.workspace, "lane": send.lane.value,
            "payload": send.reply.to_json(), "state": PENDING, "not_before": send.not_before,
            "next_attempt_at": first, "attempts": 0, "unknown_outcome": False, "edits": send.edits})


class SqlDueWriter:
    def __init__(self, session: Session):
        self.session = session

    def schedule(self, kind: str, key: str, due_at: dt.datetime, payload: dict[str, Any]) -> bool:
        return insert_new(self.session, DueWork, {
            "created_at": utcnow(), "kind": kind, "key": key, "due_at": due_at,
            "payload": json.dumps(payload, ensure_ascii=False, sort_keys=True), "state": PENDING, "attempts": 0})

    def cancel(self, key_prefix: str) -> int:
        escaped = key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self.session.execute(
            update(DueWork).where(DueWork.state == PENDING, DueWork.key.like(escaped + "%", escape="\\"))
            .values(state=CANCELLED)).rowcount
