"""Delivers outbox rows to Microsoft Teams (scheduler.outbox.Sender) with CloudAdapter.continue_conversation.

The ConversationReference comes from the stored reference of the conversation (table
`conversation_reference`, channel "teams", saved when the bot last heard from it) or, failing that, is
rebuilt from the Address (service_url, conversation id, tenant, channel "msteams"). A thread of a
channel is the conversation id `…;messageid=<root id>`. A message to a person (an Address with a user
and no conversation: a reminder, a nudge) goes to their one-to-one chat with the bot, remembered by user
when they last wrote in it.

The Bot Framework connector has no idempotency key and no way to list what the bot sent, so
`find_delivered` cannot answer (None). One duplicate therefore remains possible, and only in one
window: the connector accepted the activity (2xx) but the worker did not commit "sent" (a timeout on
the answer, a crash). Claim-before-send keeps that window to a single round trip; a row is never sent
by two workers at once.

An edit replaces the original activity (`update_activity`, a PUT of its id in its conversation).

Errors: 429 → RateLimited (Retry-After), 5xx / timeouts / network → Transient, other 4xx (the bot was
removed, the conversation is gone, bad request) → Permanent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import ChannelAccount, ConversationAccount, ConversationParameters, ConversationReference
from msrest.exceptions import ClientRequestError, HttpOperationError

from bot.channels.teams import _ReusedCredentials, adapter_config, render
from bot.config import Settings, SettingsError
from bot.db.repos.conversations import SqlConversations
from bot.db.session import Database
from handlers.address import Address, Platform
from scheduler.outbox import Delivered, OutboxRow, Permanent, RateLimited, Transient

TIMEOUT_S = 15.0
BLOCKING_WORKERS = 2

class References(Protocol):
    """Stored ConversationReference JSON (table conversation_reference)."""

    def reference(self, address: Address) -> str | None: ...  # of an address's conversation, or a person's chat
    def latest(self) -> str | None: ...  # the one heard most recently: its service URL and tenant
    def save(self, address: Address, reference_json: str) -> None: ...


class _StoredReferences:
    def __init__(self, db: Database):
        self.db = db

    def reference(self, address: Address) -> str | None:
        with self.db.session() as session:
            return SqlConversations(session).reference(address)

    def latest(self) -> str | None:
        with self.db.session() as session:
            return SqlConversations(session).latest(Platform.TEAMS)

    def save(self, address: Address, reference_json: str) -> None:
        with self.db.session() as session:
            SqlConversations(session).save(address, reference_json)
            session.commit()


def build_teams_sender(settings: Settings, db: Database,
                       auth_overrides: Mapping[str, str] | None = None) -> TeamsSender:
    """A sender with its own adapter and credentials, built like TeamsChannel's (bot/channels/teams.py)."""
    pool = ThreadPoolExecutor(BLOCKING_WORKERS, thread_name_prefix="teams-send")
    config = adapter_config(settings, auth_overrides)
    try:
        credentials = _ReusedCredentials(ConfigurationServiceClientCredentialFactory(config), pool)
        auth = ConfigurationBotFrameworkAuthentication(config, credentials_factory=credentials)
    except Exception as exc:  # the SDK raises a bare Exception naming its own config keys
        raise SettingsError(f"MICROSOFT_APP_TYPE={settings.microsoft_app_type} needs more settings: {exc}") from exc

    return TeamsSender(CloudAdapter(auth), settings.microsoft_app_id, _StoredReferences(db), pool)


class TeamsSender:
    def __init__(self, adapter: CloudAdapter, app_id: str, references: References,
                 pool: ThreadPoolExecutor | None = None):
        self.adapter = adapter
        self.app_id = app_id
        self.references = references
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def send(self, row: OutboxRow) -> Delivered:
        reference = await self.reference(row.address)
        activity = render(row.reply)
        sent: list[str] = []

        async def deliver(context: TurnContext) -> None:
            response = await context.send_activity(activity)
            sent.append(response.id if response is not None and response.id else "")

        await self._continue(reference, deliver)
        return Delivered(sent[0] if sent else "")

    async def edit(self, row: OutboxRow) -> Delivered:
        original = row.original
        if original is None or not original.platform_id:
            raise Permanent(f"teams: {row.edits} has no activity id to update")
        reference = await self.reference(original.address)
        activity = render(row.reply)
        activity.id = original.platform_id

        async def update(context: TurnContext) -> None:
            await context.update_activity(activity)

        await self._continue(reference, update)
        return Delivered(original.platform_id)

    async def _continue(self, reference: ConversationReference,
                        turn: Callable[[TurnContext], Awaitable[None]]) -> None:
        """Run `turn` in the conversation."""
        await _connector_call(self.adapter.continue_conversation(reference, turn, self.app_id))

    async def find_delivered(self, row: OutboxRow) -> str | None:
        return None  # the connector cannot list what the bot sent (see the module doc)

    async def reference(self, address: Address) -> ConversationReference:
        conversation = address.conversation
        if address.thread and ";messageid=" not in conversation:
            conversation = f"{conversation};messageid={address.thread}"
        stored = await asyncio.to_thread(self.references.reference, address)
        if stored:
            reference = ConversationReference().deserialize(json.loads(stored))
            reference.activity_id = None  # a new message, not a reply to the last one the bot heard
            if conversation and conversation != reference.conversation.id:  # a thread of a stored channel
                reference.conversation.id = conversation
            return reference
        if not conversation and address.user:
            return await self._open_personal_chat(address)
        service_url, tenant = await self._where(address)
        if not (conversation and service_url):
            raise Permanent("teams: no stored conversation and no service_url/conversation to rebuild one")
        return ConversationReference(
            channel_id="msteams", service_url=service_url,
            conversation=ConversationAccount(id=conversation, tenant_id=tenant or None,
                                             is_group=not address.is_direct),
            bot=self._bot(), user=ChannelAccount(id=address.user) if address.user else None)

    def _bot(self) -> ChannelAccount:
        return ChannelAccount(id=f"28:{self.app_id}" if self.app_id else "bot")

    async def _where(self, address: Address) -> tuple[str, str]:
        """The connector's service URL and the tenant for an address: its own, else those of the conversation
        heard last (a lab's channel the bot was never spoken to in, a person: same tenant, same connector)."""
        if address.service_url and address.workspace:
            return address.service_url, address.workspace
        known = await asyncio.to_thread(self.references.latest)
        heard = ConversationReference().deserialize(json.loads(known)) if known else None
        service_url = address.service_url or (heard.service_url if heard else None)
        tenant = address.workspace or (heard.conversation.tenant_id if heard and heard.conversation else None)
        return service_url or "", tenant or ""

    async def _open_personal_chat(self, address: Address) -> ConversationReference:
        """A one-to-one chat with a person the bot has not talked to alone yet, opened through the connector
        (Teams accepts the Azure AD object id as the member; the app must be installed for the person, as
        it is for the members of a team it was added to). Its reference is kept for the next message."""
        service_url, tenant = await self._where(address)
        if not service_url:
            raise Permanent("teams: no chat with this person yet, and no Teams conversation known to open one from")
        parameters = ConversationParameters(
            is_group=False, bot=self._bot(),
            members=[ChannelAccount(id=address.user)], tenant_id=tenant or None,
            channel_data={"tenant": {"id": tenant}} if tenant else None)
        opened: list[ConversationReference] = []

        async def keep(context: TurnContext) -> None:
            opened.append(TurnContext.get_conversation_reference(context.activity))

        await _connector_call(self.adapter.create_conversation(self.app_id, keep, parameters, "msteams", service_url))
        reference = opened[0]
        reference.user = ChannelAccount(id=address.user)
        chat = Address(Platform.TEAMS, reference.conversation.id, address.user, workspace=tenant)
        await asyncio.to_thread(self.references.save, chat, json.dumps(reference.serialize(), ensure_ascii=False))
        reference.activity_id = None
        return reference


async def _connector_call(call: Awaitable[object]) -> None:
    """Await a call to the connector, its errors translated into the outbox's."""
    try:
        await asyncio.wait_for(call, TIMEOUT_S)
    except HttpOperationError as exc:
        raise _translate(exc) from exc
    except (TimeoutError, ClientRequestError, OSError) as exc:
        raise Transient(f"teams: {type(exc).__name__}: {exc}") from exc


def _translate(exc: HttpOperationError) -> Exception:
    response = exc.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None) or 0
    if status == 429:
        headers = {k.lower(): v for k, v in dict(getattr(response, "headers", {}) or {}).items()}
        try:
            retry_after = float(headers.get("retry-after", "1"))
        except ValueError:
            retry_after = 1.0
        return RateLimited(retry_after)
    if status >= 500 or status == 0:
        return Transient(f"teams: HTTP {status} {exc}")
    return Permanent(f"teams: HTTP {status} {exc}")
