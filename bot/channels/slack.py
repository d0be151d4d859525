"""Slack: bolt's AsyncApp behind our aiohttp route (or over Socket Mode), to and from the neutral model.

Every listener acknowledges at once and hands the answer to a tracked background task, so Slack
gets its HTTP 200 well inside its 3-second window whatever answering costs; `close()` waits for
that work at shutdown.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.channels.slack_blocks import ACTION_SEPARATOR, action_name, home_view, render
from bot.config import Settings
from bot.db.store import SqlStore
from bot.tasks import BackgroundTasks
from handlers.i18n import t
from handlers.messages import Action, ActionName, Inbound, Reply
from handlers.router import Bot

log = logging.getLogger(__name__)

EVENT_TTL = dt.timedelta(hours=1)  # Slack retries within minutes; an hour covers them with room
THREADS = "slack-thread"  # conversation_reference.channel for the threads the bot has answered in
MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
# A message with any other subtype is not a person writing: edits, deletions, joins, bot posts…
PERSON_SUBTYPES = frozenset({"thread_broadcast", "file_share"})
ANSWER_CONCURRENCY = 8
ACTION_IDS = re.compile(rf"^(?:{'|'.join(a.value for a in ActionName)}){ACTION_SEPARATOR}\d+$")


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
            body = json.loads(text)
            if isinstance(body, dict) and "type" not in body:
                raise MalformedBody("a JSON body without a type")
        else:
            form = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
            if "payload" in form:
                body = json.loads(form["payload"])
            elif "command" in form or "ssl_check" in form:
                body = form
            else:
                raise MalformedBody("a form that is neither a command nor an interaction")
    except MalformedBody:
        raise
    except ValueError as exc:  # JSONDecodeError, and parse_qsl's "bad query field"
        raise MalformedBody(str(exc)) from exc
    if not isinstance(body, dict):
        raise MalformedBody("the body is not an object")
    return body


def strip_mentions(text: str) -> str:
    return MENTION.sub(" ", text).strip()


def is_person_message(event: Mapping[str, Any]) -> bool:
    """A message a person wrote just now (not an edit, deletion, join, or any bot's post)."""
    subtype = event.get("subtype")
    return (not event.get("bot_id") and not event.get("hidden") and bool(event.get("user"))
            and (subtype is None or subtype in PERSON_SUBTYPES))


@dataclass(frozen=True)
class Place:
    """Where a reply goes, and to whom ephemeral replies are shown."""

    channel: str
    user: str
    thread_ts: str | None = None
    response_url: str | None = None  # slash commands and button clicks: works even where the bot is no member
    dm: bool = False
    asked: str | None = None  # the command to quote above an answer the whole channel sees


class DropRepeatedEvents(AsyncMiddleware):
    """Acknowledge a repeated Events API delivery (same `event_id`) without handling it again.

    The claim lives in the database, so a retry that arrives after a restart is still dropped.
    """

    def __init__(self, store: SqlStore):
        self.store = store

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        event_id = req.body.get("event_id")
        if isinstance(event_id, str) and not await asyncio.to_thread(
                self.store.claim_event, f"slack:{event_id}", EVENT_TTL):
            retry = req.headers.get("x-slack-retry-num", ["-"])[0]
            log.info("slack: dropped repeated delivery of %s (retry %s)", event_id, retry)
            return BoltResponse(status=200, body="")
        return await next()


class SlackChannel:
    def __init__(self, settings: Settings, bot: Bot, store: SqlStore):
        self.bot = bot
        self.store = store
        self.tasks = BackgroundTasks("slack")
        self.session: aiohttp.ClientSession | None = None  # opened by start(), inside the event loop
        # Answers are worked out a few at a time: under a burst, the CPU goes to acknowledging
        # every request within Slack's 3 s first, and the answers follow.
        self.answering = asyncio.Semaphore(ANSWER_CONCURRENCY)
        self.verifier = SignatureVerifier(settings.slack_signing_secret) if settings.slack_signing_secret else None
        # Signatures are checked in handle(), before the body is parsed; Socket Mode needs none.
        self.app = AsyncApp(name="dxlab", token=settings.slack_bot_token, process_before_response=True,
                            request_verification_enabled=False)
        # Set on bolt's own client: handing bolt a client instead makes it warn, at every start,
        # that the token (which it also reads from SLACK_BOT_TOKEN) goes unused.
        self.client: AsyncWebClient = self.app.client
        self.client.base_url = settings.slack_api_url
        # A burst of answers can meet Slack's per-channel rate limit: wait as its 429 asks, then retry.
        self.client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
        self.app.use(DropRepeatedEvents(store))
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.event("app_home_opened")(self._on_home_opened)
        # Any command name: the workspace admin may have renamed /dxlab (say /dxlab-dev for a test app).
        self.app.command(re.compile(r"^/"))(self._on_command)
        self.app.action(ACTION_IDS)(self._on_action)
        self.socket = AsyncSocketModeHandler(self.app, settings.slack_app_token) if settings.slack_app_token else None
        self.connecting: asyncio.Task[None] | None = None

    @property
    def http_enabled(self) -> bool:
        return self.verifier is not None

    async def start(self) -> None:
        # One pooled HTTP session for every Web API and response_url call: without it slack_sdk
        # opens (and tears down) a connection per call.
        self.session = aiohttp.ClientSession()
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
        await self.tasks.close()
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

    # -- listeners: acknowledge, then work in the background ------------------------------------

    async def _on_mention(self, ack: Any, event: dict[str, Any]) -> None:
        await ack()
        if not is_person_message(event):
            return
        place = Place(event["channel"], event["user"], thread_ts=event.get("thread_ts") or event["ts"])
        self.tasks.spawn(self._reply(place, self.bot.on_message(self._inbound(place, event))))

    async def _on_message(self, ack: Any, event: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        if not is_person_message(event):
            return
        if event.get("channel_type") == "im":
            place = Place(event["channel"], event["user"], thread_ts=event.get("thread_ts"), dm=True)
            self.tasks.spawn(self._reply(place, self.bot.on_message(self._inbound(place, event))))
        elif event.get("thread_ts") and f"<@{context.bot_user_id}" not in event.get("text", ""):
            # A mention is answered by _on_mention; other thread messages only in the bot's threads.
            place = Place(event["channel"], event["user"], thread_ts=event["thread_ts"])
            self.tasks.spawn(self._follow_up(place, event))

    async def _on_command(self, ack: Any, command: dict[str, Any]) -> None:
        await ack()
        place = Place(command["channel_id"], command["user_id"], response_url=command.get("response_url"),
                      asked=f"{command['command']} {command.get('text', '')}".strip())
        msg = Inbound("slack", place.user, place.channel, command.get("text", ""), is_command=True)
        self.tasks.spawn(self._reply(place, self._command_reply(msg)))

    async def _on_action(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
        thread_ts = (body.get("message") or {}).get("thread_ts") or container.get("thread_ts")
        place = Place(channel, body["user"]["id"], thread_ts=thread_ts, response_url=body.get("response_url"),
                      dm=channel.startswith("D"))
        pressed = Action("slack", place.user, channel, action_name(action["action_id"]), action.get("value", ""),
                         thread_id=thread_ts)
        self.tasks.spawn(self._reply(place, self.bot.on_action(pressed)))

    async def _on_home_opened(self, ack: Any, event: dict[str, Any]) -> None:
        await ack()
        if event.get("tab") == "home":
            self.tasks.spawn(self._publish_home(event["user"]))

    # -- background work ------------------------------------------------------------------------

    @staticmethod
    def _inbound(place: Place, event: Mapping[str, Any]) -> Inbound:
        return Inbound("slack", place.user, place.channel, strip_mentions(event.get("text", "")),
                       thread_id=place.thread_ts)

    async def _command_reply(self, msg: Inbound) -> Reply:
        # The answer to `ask` is posted for the whole channel (see _deliver); help, usage and
        # refusals concern only the person who typed the command.
        reply = await self.bot.on_message(msg)
        return reply if reply.meta.get("kind") == "answer" else replace(reply, ephemeral=True)

    async def _follow_up(self, place: Place, event: Mapping[str, Any]) -> None:
        key = f"{place.channel}:{place.thread_ts}"
        if await asyncio.to_thread(self.store.conversation, THREADS, key) is not None:
            await self._reply(place, self.bot.on_message(self._inbound(place, event)))

    async def _reply(self, place: Place, work: Awaitable[Reply]) -> None:
        try:
            async with self.answering:
                reply = await work
        except Exception:
            log.exception("slack: handling failed (channel %s, thread %s)", place.channel, place.thread_ts)
            reply = Reply(text=t("error.generic"), ephemeral=True)
        try:
            await self._deliver(place, reply)
        except (SlackApiError, aiohttp.ClientError, TimeoutError):
            log.exception("slack: could not deliver a reply (channel %s, thread %s)", place.channel, place.thread_ts)

    async def _deliver(self, place: Place, reply: Reply) -> None:
        text, blocks = render(reply, asked=(place.user, place.asked) if place.asked and not reply.ephemeral else None)
        if place.response_url and place.thread_ts is None:
            # response_url ignores thread_ts, so it serves only replies that do not belong in a thread.
            sent = await AsyncWebhookClient(place.response_url, session=self.session).send(
                text=text, blocks=blocks, replace_original=False,
                response_type="ephemeral" if reply.ephemeral else "in_channel")
            if sent.status_code != 200:
                log.error("slack: response_url refused the reply: %s %s", sent.status_code, sent.body)
        elif reply.ephemeral and not place.dm:
            await self.client.chat_postEphemeral(channel=place.channel, user=place.user, text=text, blocks=blocks,
                                                 thread_ts=place.thread_ts)
        else:
            if place.thread_ts and not place.dm:
                # Remembered before posting, so a reply typed the moment the answer shows is followed.
                await asyncio.to_thread(self.store.save_conversation, THREADS,
                                        f"{place.channel}:{place.thread_ts}", "{}")
            await self.client.chat_postMessage(channel=place.channel, text=text, blocks=blocks,
                                               thread_ts=place.thread_ts)

    async def _publish_home(self, user: str) -> None:
        await self.client.views_publish(user_id=user, view=home_view())
