"""Every table, one module per domain, re-exported here so Alembic and the repositories see them all."""

from bot.db.models.base import Base, Created, ShortText, TZDateTime, utcnow
from bot.db.models.core import ConversationReference, Feedback, HandoffRequest, ProcessedEvent, QuestionLog

__all__ = [
    "Base", "ConversationReference", "Created", "Feedback", "HandoffRequest", "ProcessedEvent", "QuestionLog",
    "ShortText", "TZDateTime", "utcnow",
]
