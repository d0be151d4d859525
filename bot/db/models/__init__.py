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
from bot.db.models.events import Announcement, AnnouncementRecipient, Event, Rsvp, SurveyResponse
from bot.db.models.kpi import KpiIndicator, KpiValue
from bot.db.models.work import DueWork, InboxItem, KeyValue, Lease, OutboxMessage

__all__ = [
    "Announcement", "AnnouncementRecipient", "AuditLog", "Base", "ConsultCase", "ConsultMessage", "ConsultOffer",
    "ConversationReference", "Created", "DueWork", "Event", "ExpertAttribute", "ExpertProfile", "Feedback",
    "HandoffRequest", "InboxItem", "KeyValue", "KpiIndicator", "KpiValue", "Lab", "LabMember", "Lease",
    "OutboxMessage", "Person", "PersonRole", "ProcessedEvent", "QuestionLog", "Role", "Rsvp", "SecretariatChannel",
    "ShortText", "SurveyResponse", "TZDateTime", "utcnow",
]
