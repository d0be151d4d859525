"""Slack: bolt's AsyncApp behind our aiohttp route (or over Socket Mode), to and from the neutral model.

Nothing is acknowledged that is not kept: a middleware writes each delivery (events, commands, button
presses, form submissions) to the inbox before bolt's listeners acknowledge it, and answers 503 when
the database cannot take it in time, so Slack retries instead of losing the question. A retried
delivery whose row exists is acknowledged and dropped. The inbox worker then converts the stored body
(bot/channels/slack_convert.py) and hands it to the dispatcher; the answer goes out through the outbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.slack_blocks import home_view, modal_view
from bot.channels.slack_convert import HOME, convert, inbox_key
from bot.channels.slack_sender import FORM_OPEN
from bot.config import Settings
from bot.db.repos import inbox
from bot.db.repos.outbox_worker import stored_message
from bot.db.session import Database
from bot.http_guard import parse_json_limited
from bot.inbox_intake import InboxIntake
from handlers.address import Address
from handlers.dispatch import Dispatcher
from handlers.i18n import t
from handlers.messages import Action, Inbound, Reply, Submission

log = logging.getLogger(__name__)

ACCEPT_BUDGET_S = 1.5  # past this the database is not keeping up: 503, and Slack retries
API_TIMEOUT_S = 10.0
ACTION_IDS = re.compile(r"^[a-z][a-z0-9_.]*:\d+$")


class MalformedBody(ValueError):
    """The request is signed but is not a body Slack would send."""


def parse_body(text: str, content_type: str) -> dict[str, Any]:
    """A Slack request body: JSON (Events API) or a form (slash commands; `payload=` for interactivity).

    Parsed here, strictly, rather than by bolt: bolt's parser turns any form body that merely
    contains the word "payload" (say `/dxlab ask payloadとは`) into an empty request, and lets a
    JSON array through to fail later with a 500.
    """
    try:
        if content_type == "application/json" or text.lstrip().startswith("{"):
            body = parse_json_limited(text.encode())
            if isinstance(body, dict) and "type" not in body:
                raise MalformedBody("a JSON body without a type")
        else:
            form = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
            if "payload" in form:
                body = parse_json_limited(form["payload"].encode())
            elif "command" in form or "ssl_check" in form:
                body = form
            else:
                raise MalformedBody("a form that is neither a command nor an interaction")
    except MalformedBody:
        raise
    except ValueError as exc:  # BadRequest (too deep, not JSON), and parse_qsl's "bad query field"
        raise MalformedBody(str(exc)) from exc
    if not isinstance(body, dict):
        raise MalformedBody("the body is not an object")
    problem = shape_problem(body)
    if problem:
        raise MalformedBody(problem)
    return body


def shape_problem(body: Mapping[str, Any]) -> str | None:
    """What is wrong with a signed body's fields that the bot relies on, or None (Slack never sends these;
    a 400 says so plainly instead of a failure deep inside the answer)."""
    def text(value: object) -> bool:
        return isinstance(value, str)

    kind = body.get("type")
    if "command" not in body and not text(kind):
        return "a body without a type"
    if "event" in body and not isinstance(body["event"], dict):  # bolt's middleware reads it as an object
        return "an event that is not an object"
    problem = _bolt_fields_problem(body)
    if problem:
        return problem
    if kind == "event_callback":
        event = body.get("event")
        if not text(body.get("event_id")) or not isinstance(event, dict) or not text(event.get("type")):
            return "an event callback needs event_id and an event object with a type"
        if any(k in event and not text(event[k]) for k in ("text", "user", "channel", "ts", "thread_ts")):
            return "an event field that should be text is not"
    elif "command" in body:
        if not all(text(body.get(k)) for k in ("command", "user_id", "channel_id", "trigger_id")):
            return "a command needs command, user_id, channel_id and trigger_id"
    elif kind in ("block_actions", "view_submission"):
        if not text(body.get("trigger_id")) or not body["trigger_id"]:  # the inbox key: without it, lost
            return "an interaction needs a trigger_id"
        user = body.get("user")
        if not isinstance(user, dict) or not text(user.get("id")):
            return "an interaction needs a user with an id"
        actions = body.get("actions", [])
        if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
            return "actions must be a list of objects"
        if kind == "view_submission" and not isinstance(body.get("view"), dict):
            return "a view submission needs a view"
    return None


# Fields bolt reads while building a request's context, each as a string or an object (or absent/null);
# it fails with a TypeError on a number, a boolean or a list (`"id" in True`). Looked for at the top and in the
# objects bolt descends into.
BOLT_FIELDS = ("user", "channel", "team", "enterprise", "user_team", "item", "message", "previous_message",
               "assistant_thread", "container", "view", "team_id", "enterprise_id", "user_id", "channel_id",
               "context_team_id", "context_enterprise_id", "thread_ts", "bot_access_token", "function_data")
BOLT_NESTED = ("event", "message", "previous_message", "item", "assistant_thread")


def _bolt_fields_problem(node: Mapping[str, Any], depth: int = 0) -> str | None:
    for name in BOLT_FIELDS:
        if not isinstance(node.get(name), str | dict | None):
            return f"{name} is neither text nor an object"
    authorizations = node.get("authorizations", [])
    if not isinstance(authorizations, list) or not all(isinstance(a, dict) for a in authorizations):
        return "authorizations must be a list of objects"
    for name in BOLT_NESTED if depth < 2 else ():
        inner = node.get(name)
        problem = _bolt_fields_problem(inner, depth + 1) if isinstance(inner, dict) else None
        if problem:
            return f"{name}.{problem}"
    return None


class KeepBeforeAck(AsyncMiddleware):
    """Write the delivery to the inbox before any listener acknowledges it (HTTP and Socket Mode alike)."""

    def __init__(self, db: Database, accepted: Callable[[], None]):
        self.intake = InboxIntake(db)  # deliveries arriving together are kept in one transaction
        self.accepted = accepted

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        key = inbox_key(req.body)
        if key is None:
            return await next()
        body = json.dumps(req.body, ensure_ascii=False)
        try:
            fresh = await asyncio.wait_for(self.intake.accept(key, "slack", body), ACCEPT_BUDGET_S)
        except Exception as exc:  # a locked or unreachable database, or the budget ran out
            log.error("slack: could not keep delivery %s (%s: %s): answering 503 so that Slack retries",
                      key, type(exc).__name__, exc)
            return BoltResponse(status=503, body="")
        if not fresh:
            retry = req.headers.get("x-slack-retry-num", ["-"])[0]
            log.info("slack: dropped repeated delivery %s (retry %s)", key, retry)
            return BoltResponse(status=200, body="")
        self.accepted()
        # Acknowledged here, not by a listener: bolt's authorization (an auth.test call until one has
        # succeeded) runs after this middleware, so a slow or failing Slack Web API never delays the ack.
        return BoltResponse(status=200, body="")


class SlackChannel:
    def __init__(self, settings: Settings, db: Database, dispatcher: Dispatcher, accepted: Callable[[], None]):
        self.db = db
        self.dispatcher = dispatcher
        self.session: aiohttp.ClientSession | None = None  # opened by start(), inside the event loop
        self.verifier = SignatureVerifier(settings.slack_signing_secret) if settings.slack_signing_secret else None
        # Signatures are checked in handle(), before the body is parsed; Socket Mode needs none.
        self.app = AsyncApp(name="dxlab", token=settings.slack_bot_token, process_before_response=True,
                            request_verification_enabled=False, before_authorize=KeepBeforeAck(db, accepted))
        # Set on bolt's own client: handing bolt a client instead makes it warn, at every start,
        # that the token (which it also reads from SLACK_BOT_TOKEN) goes unused.
        self.client: AsyncWebClient = self.app.client
        self.client.base_url = settings.slack_api_url
        self.client.timeout = int(API_TIMEOUT_S)
        for event in ("app_mention", "message", "app_home_opened"):
            self.app.event(event)(self._ack)
        # Any command name: the workspace admin may have renamed /dxlab (say /dxlab-dev for a test app).
        self.app.command(re.compile(r"^/"))(self._ack)
        self.app.action(ACTION_IDS)(self._ack)
        self.app.view(re.compile(r".*"))(self._ack)
        self.socket = AsyncSocketModeHandler(self.app, settings.slack_app_token) if settings.slack_app_token else None
        self.connecting: asyncio.Task[None] | None = None
        self._bot_user_id: str | None = None

    @property
    def http_enabled(self) -> bool:
        return self.verifier is not None

    async def start(self) -> None:
        # One pooled HTTP session with a timeout for every Web API call: without a timeout on the
        # session, slack_sdk's own limit never applies and a stalled API holds a task for ever.
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=API_TIMEOUT_S))
        self.client.session = self.session
        if self.socket is not None:
            # slack_sdk retries a failed connection forever, so start-up does not wait for it.
            self.connecting = asyncio.create_task(self._connect_socket(self.socket), name="slack-socket-mode")

    async def _connect_socket(self, socket: AsyncSocketModeHandler) -> None:
        await socket.connect_async()
        log.info("slack: connected over Socket Mode")

    async def close(self) -> None:
        if self.connecting is not None:
            self.connecting.cancel()
            await asyncio.gather(self.connecting, return_exceptions=True)
        if self.socket is not None:
            await self.socket.close_async()
        if self.session is not None:
            await self.session.close()

    # -- HTTP edge ---------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        """POST /slack/events: events, slash commands and interactivity share this one URL."""
        raw = await request.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return web.json_response({"error": "the body is not UTF-8"}, status=400)
        if not self._signed(text, request.headers):
            return web.json_response({"error": "invalid or expired Slack signature"}, status=401)
        try:
            body = parse_body(text, request.content_type)
        except MalformedBody as exc:
            return web.json_response({"error": f"malformed body: {exc}"}, status=400)
        # An already parsed body is accepted only in "socket_mode"; that mode only skips bolt's
        # own signature check, which is done above.
        bolt_request = AsyncBoltRequest(body=body, headers=request.headers, mode="socket_mode")  # type: ignore[arg-type]
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    def _signed(self, text: str, headers: Mapping[str, str]) -> bool:
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        signature = headers.get("X-Slack-Signature", "")
        # is_valid rejects a timestamp more than 5 minutes off; it cannot take a non-number.
        return (self.verifier is not None and timestamp.isdigit()
                and self.verifier.is_valid(text, timestamp, signature))

    @staticmethod
    async def _ack(ack: Any) -> None:
        await ack()

    # -- the inbox worker's side --------------------------------------------------------------

    async def process(self, row: inbox.InboxRow, after: Callable[[Any], None]) -> None:
        """Answer one stored delivery; `after` marks it done in the answer's own transaction."""
        converted = convert(json.loads(row.body), await self._bot_user())
        reply_key = f"reply:{row.key}"
        if isinstance(converted, Inbound):
            await self.dispatcher.message(converted, reply_key=reply_key, after=after)
        elif isinstance(converted, Action) and converted.name == FORM_OPEN:
            await self._open_stored_form(converted)
            await asyncio.to_thread(self._done, after)
        elif isinstance(converted, Action):
            await self.dispatcher.action(converted, reply_key=reply_key, after=after)
        elif isinstance(converted, Submission):
            await self.dispatcher.submission(converted, reply_key=reply_key, after=after)
        else:
            if converted == HOME:
                await self.client.views_publish(user_id=json.loads(row.body)["event"]["user"], view=home_view())
            await asyncio.to_thread(self._done, after)

    async def _open_stored_form(self, pressed: Action) -> None:
        """入力する on a message the bot sent: open the form that message carried, for its own recipient."""
        row_id = int(pressed.value) if pressed.value.isascii() and pressed.value.isdigit() else None
        stored = await asyncio.to_thread(stored_message, self.db, row_id) if row_id is not None else None
        reply = Reply.from_json(stored[1]) if stored else None
        sent_to = Address.from_json(stored[0]) if stored else None
        here = pressed.address
        if reply is None or reply.form is None or sent_to is None or not (
                sent_to.conversation == here.conversation or (sent_to.user and sent_to.user == here.user)):
            await self.client.chat_postEphemeral(channel=here.conversation, user=here.user, text=t("form.gone"))
            return
        await self.client.views_open(trigger_id=here.trigger, view=modal_view(reply.form, sent_to))

    def _done(self, after: Callable[[Any], None]) -> None:
        with self.dispatcher.units() as uow:
            after(uow)
            uow.commit()

    async def _bot_user(self) -> str:
        if self._bot_user_id is None:
            self._bot_user_id = str((await self.client.auth_test()).get("user_id") or "")
        return self._bot_user_id
