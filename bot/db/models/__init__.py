"""Every table, one module per domain, re-exported here so Alembic and the repositories see them all."""

from bot.db.models.base import Base, Created, ShortText, TZDateTime, utcnow
from bot.db.models.consult import ConsultCase, ConsultMessage, ConsultOffer
from bot.db.models.core import ConversationReference, Feedback, HandoffRequest, ProcessedEvent, QuestionLog
from bot.db.models.directory import (
    AuditLog,
    ExpertAttribute,
    ExpertProfile,
    Lab,
    LabMember,
    Person,
    PersonRole,
    Role,
    SecretariatChannel,
)
from bot.db.models.work import DueWork, InboxItem, KeyValue, Lease, OutboxMessage

__all__ = [
    "AuditLog", "Base", "ConsultCase", "ConsultMessage", "ConsultOffer",
    "ConversationReference", "Created", "DueWork", "ExpertAttribute", "ExpertProfile", "Feedback",
    "HandoffRequest", "InboxItem", "KeyValue", "Lab", "LabMember", "Lease", "OutboxMessage", "Person", "PersonRole",
    "ProcessedEvent", "QuestionLog", "Role", "SecretariatChannel", "ShortText", "TZDateTime", "utcnow",
]
