"""Every table, one module per domain, re-exported here so Alembic and the repositories see them all."""

from bot.db.models.base import Base, Created, ShortText, TZDateTime, utcnow
from bot.db.models.core import ConversationReference, Feedback, HandoffRequest, ProcessedEvent, QuestionLog
from bot.db.models.work import DueWork, InboxItem, KeyValue, Lease, OutboxMessage

__all__ = [
    "Base", "ConversationReference", "Created", "DueWork", "Feedback", "HandoffRequest", "InboxItem", "KeyValue",
    "Lease", "OutboxMessage", "ProcessedEvent", "QuestionLog", "ShortText", "TZDateTime", "utcnow",
]
