"""Microsoft Teams through the Bot Framework: POST /api/messages, Adaptive Card replies, card buttons.

A message is acknowledged with typing at once and kept in the inbox; the inbox worker answers it through
the outbox (a proactive message), so a slow answer never holds the HTTP turn past Teams' ~15 s limit and
an acknowledged message survives a restart.

botbuilder does blocking network I/O inside its async API, and this module keeps it off the event loop
(where it would stall every other conversation, Slack's included):
- checking a token downloads OpenID signing keys with `requests` (jwt_token_extractor._OpenIdMetadata):
  replaced by bot/channels/teams_keys.py (one bounded download on its own thread, cached, rate-limited);
- signing a reply asks MSAL for an Azure AD token synchronously, and botbuilder builds new credentials,
  with an empty MSAL cache, for every turn (_ReusedCredentials).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from aiohttp import web
from botbuilder.core import CardFactory, MessageFactory, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import Activity, ActivityTypes
from botbuilder.schema import Attachment as ActivityAttachment
from botframework.connector.auth import AppCredentials, AuthenticateRequestResult, ServiceClientCredentialsFactory
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from msrest.authentication import Authentication

from bot.channels import teams_keys
from bot.config import Settings, SettingsError
from bot.db.repos import deliveries, inbox
from bot.db.session import Database
from bot.http_guard import BadRequest, parse_json_limited
from handlers.address import Address, Platform
from handlers.dispatch import Dispatcher
from handlers.i18n import t
from handlers.messages import Action, Attachment, Button, Form, Inbound, Reply, Submission

log = logging.getLogger(__name__)
# Token checks take their signing keys from teams_keys (bounded downloads) instead of botbuilder's fetch.
JwtTokenExtractor.get_open_id_metadata = staticmethod(teams_keys.signing_keys)  # type: ignore[method-assign]

CHANNEL = "teams"
AUTH_TIMEOUT_S = 10.0
BLOCKING_WORKERS = 4  # stuck token downloads must not use up the default executor the store needs
CARD_VERSION = "1.4"  # ActionSet and button styles need 1.2 or newer; Teams renders 1.4 on every client
TYPING_TIMEOUT_S = 2.0
WELCOME_DEDUPE = dt.timedelta(minutes=10)  # Teams announces one install as two activities
BUTTON_STYLES = {"primary": "positive", "danger": "destructive"}
# Teams leaves base64 images out of its 100 KB message limit, but the connector refuses any request over
# 256 KiB (413 MessageSizeTooBig): a bigger image is left out rather than losing the whole message.
INLINE_IMAGE_MAX = 200_000  # characters of the data URL


def adapter_config(settings: Settings, overrides: Mapping[str, str] | None = None) -> SimpleNamespace:
    """The object ConfigurationBotFrameworkAuthentication reads its settings from, by attribute name.

    `overrides` adds its other keys (TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL, …): private clouds, and
    tests that serve signing keys from 127.0.0.1.
    """
    # With no app id (emulator mode) only MultiTenant works: the other types insist on an id.
    app_type = settings.microsoft_app_type if settings.microsoft_app_id else "MultiTenant"
    return SimpleNamespace(APP_ID=settings.microsoft_app_id, APP_PASSWORD=settings.microsoft_app_password,
                           APP_TENANTID=settings.microsoft_app_tenant_id, APP_TYPE=app_type, **(overrides or {}))


class TeamsChannel:
    def __init__(self, settings: Settings, db: Database, dispatcher: Dispatcher, accepted: Callable[[], None],
                 anonymous_allowed: bool, *, auth_overrides: Mapping[str, str] | None = None):
        self._db = db
        self._dispatcher = dispatcher
        self._accepted = accepted
        self._closed_to_all = not settings.microsoft_app_id and not anonymous_allowed
        if self._closed_to_all:
            log.warning("teams: MICROSOFT_APP_ID is empty and unauthenticated access is not allowed here: "
                        "every request to /api/messages is refused")
        self._pool = ThreadPoolExecutor(BLOCKING_WORKERS, thread_name_prefix="teams-io")
        config = adapter_config(settings, auth_overrides)
        try:
            credentials = _ReusedCredentials(ConfigurationServiceClientCredentialFactory(config), self._pool)
            auth = ConfigurationBotFrameworkAuthentication(config, credentials_factory=credentials)
        except Exception as exc:  # the SDK raises a bare Exception naming its own config keys
            raise SettingsError(
                f"MICROSOFT_APP_TYPE={settings.microsoft_app_type} needs more settings "
                f"(MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD, MICROSOFT_APP_TENANT_ID): {exc}") from exc
        self._auth = auth
        self._adapter = CloudAdapter(auth)
        self._adapter.on_turn_error = self._on_turn_error

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def handle(self, request: web.Request) -> web.Response:
        try:
            body = parse_json_limited(await request.read())  # nesting bounded before the parser sees it
        except BadRequest as exc:  # bad JSON, bad UTF-8, too deep or too large
            return web.Response(status=400, text=str(exc))
        if not _looks_like_activity(body):
            return web.Response(status=400, text="body is not a Bot Framework activity")
        try:
            activity = Activity().deserialize(body)
        except (ValueError, TypeError):  # msrest's DeserializationError is a ValueError
            return web.Response(status=400, text="body is not a Bot Framework activity")
        if self._closed_to_all:
            return web.Response(status=401)
        auth = await self._authenticate(activity, request.headers.get("Authorization"))
        if auth is None:
            return web.Response(status=401)
        try:
            invoke = await self._adapter.process_activity(auth, activity, self._on_turn)
        except Exception:  # the turn's own errors went to _on_turn_error; this is the adapter failing
            log.exception("teams: could not process activity in %s", activity.conversation.id)
            return web.Response(status=500)
        if invoke is not None:
            return web.json_response(serializer_helper(invoke.body), status=invoke.status)
        return web.Response(status=201)

    async def _authenticate(self, activity: Activity, header: str | None) -> AuthenticateRequestResult | None:
        """The verified claims, or None for 401 (no token, bad token, or keys that could not be fetched)."""
        try:  # on the event loop: the one blocking step, the key download, is bounded (teams_keys)
            return await asyncio.wait_for(self._auth.authenticate_request(activity, header), AUTH_TIMEOUT_S)
        except PermissionError as exc:
            log.info("teams: rejected request from %r: %s", activity.service_url, exc)
        except Exception as exc:  # PyJWT decode errors, network errors, timeouts: all mean "not verified"
            log.warning("teams: could not verify request from %r: %s: %s",
                        activity.service_url, type(exc).__name__, exc)
        return None

    async def _on_turn(self, context: TurnContext) -> None:
        activity = context.activity
        await self._remember(activity)
        if activity.type == ActivityTypes.message:
            await self._on_message(context)
        elif activity.type == ActivityTypes.conversation_update:
            if any(m.id == activity.recipient.id for m in activity.members_added or ()):
                await self._welcome(context)
        elif activity.type == ActivityTypes.installation_update and activity.action == "add":
            await self._welcome(context)

    async def _on_message(self, context: TurnContext) -> None:
        activity = context.activity
        if _submitted_action(activity.value) is None and _submitted_form(activity.value) is None:
            _, mentioned = _strip_bot_mention(activity)
            if activity.conversation.conversation_type in ("channel", "groupChat") and not mentioned:
                return  # only @mentions are for us outside a personal chat
        try:  # best effort, bounded: an unreachable connector must not hold the turn past Teams' limit
            await asyncio.wait_for(context.send_activity(Activity(type=ActivityTypes.typing)), TYPING_TIMEOUT_S)
        except Exception as exc:
            log.info("teams: typing indicator not sent (%s: %s)", type(exc).__name__, exc)
        key = f"teams:{activity.conversation.id}:{activity.id}"
        # The text without the bot's mention is kept beside the activity: a stored activity's entities
        # lose the mention details botbuilder keeps outside its schema.
        text, _ = _strip_bot_mention(activity)
        body = json.dumps({"activity": activity.serialize(), "text": text}, ensure_ascii=False)
        if await asyncio.to_thread(inbox.accept, self._db, key, CHANNEL, body, _now()):
            self._accepted()

    async def process(self, row: inbox.InboxRow, after: Callable[[Any], None]) -> None:
        """Answer one kept activity through the outbox; `after` marks it done in the same transaction."""
        kept = json.loads(row.body)
        activity = Activity().deserialize(kept["activity"])
        where = address_of(activity)
        reply_key = f"reply:{row.key}"
        form = _submitted_form(activity.value)
        if form is not None:
            form_id, context, values = form
            await self._dispatcher.submission(Submission(where, form_id, values, context), reply_key=reply_key,
                                              after=after)
            return
        submitted = _submitted_action(activity.value)
        if submitted is not None:
            name, value = submitted
            await self._dispatcher.action(Action(where, name, value), reply_key=reply_key, after=after)
            return
        await self._dispatcher.message(Inbound(where, kept["text"]), reply_key=reply_key, after=after)

    async def _welcome(self, context: TurnContext) -> None:
        digest = hashlib.sha256(context.activity.conversation.id.encode()).hexdigest()
        if await asyncio.to_thread(deliveries.claim_once, self._db, f"teams:welcome:{digest}", WELCOME_DEDUPE):
            await context.send_activity(render(Reply(text=t("welcome.text"))))

    async def _remember(self, activity: Activity) -> None:
        """Keep where this conversation lives, so the bot can write to it later (answers, offers, nudges)."""
        reference = json.dumps(TurnContext.get_conversation_reference(activity).serialize(), ensure_ascii=False)
        await asyncio.to_thread(self._save_reference, address_of(activity), reference)

    def _save_reference(self, where: Address, reference: str) -> None:
        with self._dispatcher.units() as uow:
            uow.conversations.save(where, reference)
            uow.commit()

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        log.error("teams: turn failed in %s", context.activity.conversation.id, exc_info=error)
        try:
            await context.send_activity(render(Reply(text=t("error.generic"))))
        except Exception:
            log.exception("teams: could not send the error message either")


class _ReusedCredentials(ServiceClientCredentialsFactory):
    """One credentials object per audience, kept across turns, its Azure AD token fetched in a worker thread.

    msrest then signs each reply from MSAL's cache instead of a blocking round trip on the event loop.
    """

    def __init__(self, inner: ServiceClientCredentialsFactory, pool: ThreadPoolExecutor):
        self._inner = inner
        self._pool = pool
        self._cache: dict[tuple[str, str, str, bool], Authentication] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        return await self._inner.is_valid_app_id(app_id)

    async def is_authentication_disabled(self) -> bool:
        return await self._inner.is_authentication_disabled()

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> Authentication:
        key = (app_id, oauth_scope, login_endpoint, validate_authority)
        if key not in self._cache:
            self._cache[key] = await self._inner.create_credentials(*key)
        credentials = self._cache[key]
        if isinstance(credentials, AppCredentials) and credentials.microsoft_app_id:  # not emulator mode
            await asyncio.get_running_loop().run_in_executor(self._pool, credentials.get_access_token)
        return credentials


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def address_of(activity: Activity) -> Address:
    """Where an activity came from; the user is the Azure AD object id when Teams gives one (the
    directory's identity), else the channel account id."""
    sender = activity.from_property
    conversation = activity.conversation
    return Address(Platform.TEAMS, conversation.id, sender.aad_object_id or sender.id, _thread_of(conversation.id),
                   conversation.tenant_id or "", activity.service_url or "")


def _looks_like_activity(body: object) -> bool:
    """The fields every Bot Framework activity carries and this channel relies on."""
    if not isinstance(body, dict) or not isinstance(body.get("type"), str) or not body["type"]:
        return False
    service_url = body.get("serviceUrl")
    if not isinstance(service_url, str) or not service_url.startswith(("https://", "http://")):
        return False
    return all(isinstance(body.get(key), dict) and isinstance(body[key].get("id"), str)
               for key in ("conversation", "from", "recipient"))


def _thread_of(conversation_id: str) -> str | None:
    # A channel thread is addressed as "19:…@thread.tacv2;messageid=<root message id>".
    _, found, message_id = conversation_id.partition(";messageid=")
    return message_id if found else None


def _submitted_action(value: object) -> tuple[str, str] | None:
    """(action, value) from an Action.Submit on one of our cards, or None for an ordinary message."""
    if isinstance(value, dict) and isinstance(value.get("action"), str) and isinstance(value.get("value"), str):
        return value["action"], value["value"]
    return None


def _strip_bot_mention(activity: Activity) -> tuple[str, bool]:
    """The text without the bot's own <at>…</at> mention, and whether the bot was mentioned.

    Not TurnContext.remove_recipient_mention: it deletes every occurrence of the bot's name, so
    "<at>地域DX推進ラボ</at> 地域DX推進ラボとは?" would become "とは?".
    """
    text, mentioned = activity.text or "", False
    for entity in activity.entities or ():
        props: dict[str, Any] = entity.additional_properties or {}
        target = props.get("mentioned")
        if (entity.type or "").lower() != "mention" or not isinstance(target, dict):
            continue
        if target.get("id") == activity.recipient.id:
            mentioned = True
            if isinstance(props.get("text"), str):
                text = text.replace(props["text"], "", 1)
    return text.strip(), mentioned


def render(reply: Reply) -> Activity:
    """A Reply as a Teams message: plain text when it is only text, otherwise an Adaptive Card.

    Teams has no ephemeral messages, so Reply.ephemeral is sent like any other reply.
    """
    image = None if reply.attachment is None else inline_image(reply.attachment)
    if reply.attachment is not None and image is None:  # the text must not speak of an image that is not there
        left_off = t("teams.image_left_off", title=reply.attachment.title or reply.attachment.name)
        reply = replace(reply, text=f"{reply.text}\n{left_off}")
    if not (reply.source or reply.buttons or reply.suggestions or reply.form or reply.title):
        message = Activity(type=ActivityTypes.message, text=reply.text, text_format="plain")
    else:
        message = MessageFactory.attachment(CardFactory.adaptive_card(adaptive_card(reply)))
        message.summary = reply.plain_text()  # notifications and clients that cannot draw the card
    if image is not None:
        message.attachments = [*(message.attachments or []), image]
    return message


def inline_image(image: Attachment) -> ActivityAttachment | None:
    """An image inside the activity itself, as a data URL (the bot needs no public URL nor a file upload
    consent to show one); None when it is too big to go inline (INLINE_IMAGE_MAX): the text goes alone."""
    url = image.data_url()
    if len(url) > INLINE_IMAGE_MAX:
        return None
    return ActivityAttachment(content_type=image.media_type, content_url=url, name=image.name)


def adaptive_card(reply: Reply) -> dict[str, object]:
    body: list[dict[str, object]] = _text_blocks(reply.title or "", weight="Bolder") + _text_blocks(reply.text)
    if reply.source:
        body += _text_blocks(reply.source, size="Small", isSubtle=True)
    if reply.suggestions:
        body += _text_blocks(reply.suggestion_intro or "")
        body.append({"type": "ActionSet", "actions": [_submit(b) for b in reply.suggestions]})
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "fallbackText": reply.plain_text(),
        "msteams": {"width": "Full"},
        "body": body + (_inputs(reply.form) if reply.form else []),
        "actions": [_submit(b) for b in reply.buttons] + ([_form_submit(reply.form)] if reply.form else []),
    }


def _inputs(form: Form) -> list[dict[str, object]]:
    """A form's fields as Adaptive Card inputs (ids are the field names; Teams posts them back by id)."""
    inputs: list[dict[str, object]] = _text_blocks(form.title, weight="Bolder")
    for f in form.fields:
        field: dict[str, object] = {"id": f.name, "label": f.label, "isRequired": f.required,
                                    "errorMessage": t("form.required", field=f.label)}
        if f.options:
            field |= {"type": "Input.ChoiceSet", "style": "compact", "value": f.initial,
                      "choices": [{"title": label, "value": value} for value, label in f.options]}
        else:
            field |= {"type": "Input.Text", "isMultiline": f.multiline, "placeholder": f.placeholder,
                      "value": f.initial}
        inputs.append(field)
    return inputs


def _form_submit(form: Form) -> dict[str, object]:
    return {"type": "Action.Submit", "title": form.submit_label, "style": "positive",
            "data": {"form": form.id, "context": form.context}}


def _submitted_form(value: object) -> tuple[str, str, dict[str, str]] | None:
    """(form id, context, values) from a card's form submission, or None."""
    if not isinstance(value, dict) or not isinstance(value.get("form"), str):
        return None
    values = {k: str(v) for k, v in value.items() if k not in ("form", "context") and isinstance(v, str | int)}
    return value["form"], str(value.get("context") or ""), values


def _text_blocks(text: str, **style: object) -> list[dict[str, object]]:
    # One block per line: TextBlock markdown joins single newlines, and Teams clients differ on "\n".
    lines = [line for line in text.splitlines() if line.strip()]
    blocks: list[dict[str, object]] = [
        {"type": "TextBlock", "text": line, "wrap": True, **style} for line in lines]
    for block in blocks[1:]:
        block["spacing"] = "None"
    return blocks


def _submit(button: Button) -> dict[str, object]:
    action: dict[str, object] = {"type": "Action.Submit", "title": button.label,
                                 "data": {"action": button.action, "value": button.value}}
    if button.style in BUTTON_STYLES:
        action["style"] = BUTTON_STYLES[button.style]
    return action
