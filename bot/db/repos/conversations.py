"""Conversation references (where the bot can speak later) and run-time key/value settings."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import ConversationReference, KeyValue, utcnow
from bot.db.repos.upsert import insert_new
from handlers.address import Address

BOT_THREAD = "bot-thread"  # conversation_reference.channel for a thread the bot has answered in
PERSONAL = "{}-personal"  # .channel for a user's one-to-one chat with the bot, keyed by the user's id


class SqlConversations:
    def __init__(self, session: Session):
        self.session = session

    def _row(self, channel: str, conversation_id: str) -> ConversationReference | None:
        return self.session.scalar(select(ConversationReference).where(
            ConversationReference.channel == channel, ConversationReference.conversation_id == conversation_id))

    def save(self, address: Address, reference_json: str) -> None:
        """Remember the conversation; a one-to-one chat is also remembered by its user, so that a message
        addressed to a person (a reminder, a nudge) finds the chat to go to."""
        self._put(address.platform, address.conversation, reference_json)
        if address.is_direct and address.user and address.conversation:
            self._put(PERSONAL.format(address.platform), address.user, reference_json)

    def _put(self, channel: str, key: str, reference_json: str) -> None:
        row = self._row(channel, key)
        if row is None:
            self.session.add(ConversationReference(channel=channel, conversation_id=key, reference=reference_json))
        elif row.reference != reference_json:
            row.reference, row.updated_at = reference_json, utcnow()

    def reference(self, address: Address) -> str | None:
        """The stored reference of the address's conversation, or for a person (no conversation), of their
        one-to-one chat with the bot."""
        if address.conversation:
            row = self._row(address.platform, address.conversation)
        else:
            row = self._row(PERSONAL.format(address.platform), address.user) if address.user else None
        return row.reference if row else None

    def latest(self, platform: str) -> str | None:
        """The reference the bot heard most recently on a platform (its service URL and tenant serve to
        open a chat with someone it has not talked to yet)."""
        row = self.session.scalar(select(ConversationReference).where(ConversationReference.channel == platform)
                                  .order_by(ConversationReference.updated_at.desc()).limit(1))
        return row.reference if row else None

    def mark_bot_thread(self, address: Address) -> None:
        if address.thread:
            insert_new(self.session, ConversationReference,
                       {"channel": BOT_THREAD, "conversation_id": address.conversation_key, "reference": "{}",
                        "updated_at": utcnow()}, "channel", "conversation_id")

    def is_bot_thread(self, address: Address) -> bool:
        return address.thread is not None and self._row(BOT_THREAD, address.conversation_key) is not None


class SqlKeyValue:
    def __init__(self, session: Session):
        self.session = session

    def get(self, key: str) -> str | None:
        row = self.session.get(KeyValue, key)
        return row.value if row else None

    def put(self, key: str, value: str) -> None:
        if not insert_new(self.session, KeyValue, {"key": key, "value": value, "updated_at": utcnow()}):
            row = self.session.get(KeyValue, key)
            assert row is not None
            row.value, row.updated_at = value, utcnow()
