"""Delivers outbox rows to Slack (scheduler.outbox.Sender), and finds them again after a lost answer.

- a channel: `chat.postMessage`; a thread: the same with `thread_ts`; a user with no conversation: a DM
  (`conversations.open` gives the D… channel, cached);
- a private reply (Reply.visibility private) to a conversation: through the address's `response_url`
  when it has one, else `chat.postEphemeral` to the user. An ephemeral message cannot be looked up
  afterwards, so after an unknown outcome it may arrive twice (fire-once, no reconcile);
- every posted message carries `metadata` {event_type: dxlab_delivery, event_payload: {key}}, which
  `find_delivered` looks for with `conversations.history` (or `conversations.replies` in a thread).
- a reply with an attachment (the KPI digest's chart): the message is posted as above, then the file is
  uploaded beside it, in the same channel or thread (`files_upload_v2`: files.getUploadURLExternal, the
  bytes POSTed to the upload URL, files.completeUploadExternal with channel_id/thread_ts; scope
  `files:write`). Message first, so the text keeps its metadata key and its place; the file's name
  carries a digest of the row's key. A row is delivered once both are there: after an unknown outcome
  `find_delivered` finds the message, then uploads the file only if no file of that name is in the
  channel yet, so a retry never posts the text or the file twice. (Only the last step shares the file;
  a retry that redoes the first two leaves at most an unshared upload, which nobody sees.) An
  ephemeral reply carries no file: Slack shares files with a conversation, never with one person.
- an edit replaces the original's text and blocks with `chat.update` (its channel, its ts).

The SDK's own retry handlers are removed: the outbox owns retries, so nothing is sent twice behind its
back. Errors become the outbox's three: RateLimited (429 / `ratelimited`), Transient (timeouts, 5xx,
network), Permanent (channel_not_found, not_in_channel, is_archived, …).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.slack_blocks import modal_view, render
from bot.config import Settings
from handlers.i18n import t
from handlers.messages import Attachment, Button
from scheduler.outbox import Delivered, OutboxRow, Permanent, RateLimited, Transient

log = logging.getLogger(__name__)
FORM_OPEN = "form.open"  # a button that opens the form an outbox row carried

EVENT_TYPE = "dxlab_delivery"
TIMEOUT_S = 10
LOOKBACK = dt.timedelta(minutes=1)  # history is searched from the row's creation minus this
LOOKUP_PAGES = 5
TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}


def build_slack_sender(settings: Settings) -> SlackSender:
    client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=TIMEOUT_S,
                            retry_handlers=[])
    return SlackSender(client)


class SlackSender:
    def __init__(self, client: AsyncWebClient):
        client.retry_handlers = []  # however it was built: no silent resends
        self.client = client
        self._dm_channels: dict[str, str] = {}
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self.client.session = None

    def _session(self) -> aiohttp.ClientSession:
        """One connection pool for every call (the SDK would open a new one per call without it)."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
                                               connector=aiohttp.TCPConnector(limit=64))
            self.client.session = self._http
        return self._http

    async def send(self, row: OutboxRow) -> Delivered:
        address, reply = row.address, row.reply
        if reply.form is not None:
            return await self._open_form(row)
        text, blocks = render(reply)
        if reply.ephemeral and address.response_url:
            await self._post_response_url(address.response_url, {
                "text": text, "blocks": blocks, "response_type": "ephemeral", "replace_original": False})
            return Delivered("response_url")
        if reply.ephemeral and address.conversation and address.user and not address.is_direct:
            answer = await self._call("chat_postEphemeral", channel=address.conversation, user=address.user,
                                      text=text, blocks=blocks, thread_ts=address.thread)
            return Delivered(str(answer.get("message_ts", "")))
        channel = await self._channel(row)
        answer = await self._call("chat_postMessage", channel=channel, text=text, blocks=blocks,
                                  thread_ts=address.thread, unfurl_links=False,
                                  metadata={"event_type": EVENT_TYPE, "event_payload": {"key": row.key}})
        if reply.attachment is not None:
            await self._attach_after_post(row, channel, reply.attachment)
        return Delivered(str(answer["ts"]))

    async def _open_form(self, row: OutboxRow) -> Delivered:
        """A reply with a form: its text is posted like any reply, and the form opens as a modal with the
        interaction's trigger (valid 3 s). Without a trigger (a message the bot sends on its own) or once it
        has expired, the message carries an 入力する button that opens the form from this very row
        (SlackChannel handles FORM_OPEN)."""
        address, reply = row.address, row.reply
        assert reply.form is not None
        if address.trigger:
            try:
                await self._call("views_open", trigger_id=address.trigger, view=modal_view(reply.form, address))
                opened = replace(reply, form=None)
                if not (opened.text or opened.title):
                    return Delivered("modal")
                return await self.send(replace(row, payload_json=opened.to_json()))
            except Permanent as exc:
                log.info("slack: could not open form %s (%s): offering a button instead", reply.form.id, exc)
        offer = Button(t("form.open"), FORM_OPEN, str(row.id), style="primary")
        with_button = replace(reply, form=None, buttons=(*reply.buttons, offer))
        return await self.send(replace(row, payload_json=with_button.to_json()))

    async def edit(self, row: OutboxRow) -> Delivered:
        original = row.original
        if original is None or not _is_ts(original.platform_id):
            raise Permanent(f"slack: {row.edits} was not posted as a message that can be edited")
        text, blocks = render(row.reply)
        channel = await self._channel(replace(row, address_json=original.address_json))
        await self._call("chat_update", channel=channel, ts=original.platform_id, text=text, blocks=blocks)
        return Delivered(str(original.platform_id))

    async def find_delivered(self, row: OutboxRow) -> str | None:
        address, reply = row.address, row.reply
        if reply.ephemeral and (address.response_url or (address.conversation and not address.is_direct)):
            return None  # ephemeral messages cannot be listed: fire-once
        channel = await self._channel(row)
        created = row.created_at or dt.datetime.now(dt.UTC)
        oldest = f"{(created - LOOKBACK).timestamp():.6f}"
        found = None
        async for message in self._messages(channel, address.thread, oldest):
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == EVENT_TYPE and \
                    (metadata.get("event_payload") or {}).get("key") == row.key:
                found = str(message["ts"])
                break
        if found is not None and reply.attachment is not None:
            await self._attach_missing(row, channel, oldest, reply.attachment)
        return found

    async def _attach_after_post(self, row: OutboxRow, channel: str, attachment: Attachment) -> None:
        """The message is posted, so nothing from here on may post it again: a 429 (which the worker would
        answer by sending the row afresh) becomes an unknown outcome, whose retry goes through
        find_delivered and uploads the file alone."""
        try:
            await self._upload(row, channel, attachment)
        except RateLimited as exc:
            raise Transient(f"posted; its file waits: {exc}") from exc

    async def _attach_missing(self, row: OutboxRow, channel: str, oldest: str, attachment: Attachment) -> None:
        """A row whose message is there: upload its file unless an earlier try already shared it."""
        name = upload_name(row.key, attachment)
        async for message in self._messages(channel, row.address.thread, oldest):
            if any(f.get("name") == name for f in message.get("files") or ()):
                return
        await self._upload(row, channel, attachment)

    async def _upload(self, row: OutboxRow, channel: str, attachment: Attachment) -> None:
        await self._call("files_upload_v2", file=attachment.data, filename=upload_name(row.key, attachment),
                         title=attachment.title, alt_txt=attachment.title, channel=channel,
                         thread_ts=row.address.thread)

    async def _messages(self, channel: str, thread: str | None, oldest: str) -> AsyncIterator[dict[str, Any]]:
        cursor = None
        for _ in range(LOOKUP_PAGES):
            args: dict[str, Any] = {"channel": channel, "oldest": oldest, "limit": 200,
                                    "include_all_metadata": True, "cursor": cursor}
            if thread:
                answer = await self._call("conversations_replies", ts=thread, **args)
            else:
                answer = await self._call("conversations_history", **args)
            for message in answer.get("messages") or ():
                yield message
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    async def _channel(self, row: OutboxRow) -> str:
        address = row.address
        if address.conversation:
            return address.conversation
        if not address.user:
            raise Permanent("a Slack address needs a conversation or a user")
        if address.user not in self._dm_channels:
            answer = await self._call("conversations_open", users=address.user)
            self._dm_channels[address.user] = str(answer["channel"]["id"])
        return self._dm_channels[address.user]

    async def _call(self, method: str, **args: Any) -> Any:
        self._session()
        try:
            return await getattr(self.client, method)(**{k: v for k, v in args.items() if v is not None})
        except SlackApiError as exc:
            raise _translate(method, exc) from exc
        except (TimeoutError, aiohttp.ClientError, SlackClientError, OSError) as exc:
            raise Transient(f"{method}: {type(exc).__name__}: {exc}") from exc

    async def _post_response_url(self, url: str, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            async with self._session().post(url, data=data, headers={"Content-Type": "application/json"}) as response:
                status, answer = response.status, await response.text()
                retry_after = response.headers.get("Retry-After")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise Transient(f"response_url: {type(exc).__name__}: {exc}") from exc
        if status == 429:
            raise RateLimited(_seconds(retry_after))
        if status >= 500:
            raise Transient(f"response_url: HTTP {status}")
        if status >= 400:
            raise Permanent(f"response_url: HTTP {status} {answer[:200]}")  # expired (30 min) or used up


def upload_name(key: str, attachment: Attachment) -> str:
    """The attachment's file name with a digest of the row's key: how a retry recognises its own file."""
    stem, dot, extension = attachment.name.rpartition(".")
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"{stem}-{digest}.{extension}" if dot else f"{extension}-{digest}"


def _translate(method: str, exc: SlackApiError) -> Exception:
    response = exc.response
    status = response.status_code
    error = str(response.get("error", "")) if isinstance(response.data, dict) else ""
    if status == 429 or error == "ratelimited":
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        return RateLimited(_seconds(headers.get("retry-after")))
    if status >= 500 or error in TRANSIENT_ERRORS:
        return Transient(f"{method}: HTTP {status} {error}")
    return Permanent(f"{method}: {error or f'HTTP {status}'}")


def _is_ts(value: str | None) -> bool:
    """A message's ts (`1700000000.000100`), not a private reply's stand-in ("response_url", "modal", "")."""
    return value is not None and value.replace(".", "", 1).isdigit()


def _seconds(value: object) -> float:
    try:
        return max(float(str(value)), 0.0)
    except (TypeError, ValueError):
        return 1.0
