"""A stand-in for Slack on 127.0.0.1: its Web API, its response URLs and its file upload URLs, recording
every call (a file shared by files.completeUploadExternal is kept with its bytes, in `shared`, and shows
in the channel's history as a message carrying it).

Also builds what Slack sends us: Events API envelopes, slash-command forms, interaction payloads,
and their `X-Slack-Signature` headers (HMAC-SHA256 over `v0:{timestamp}:{body}`, as Slack signs).
Used by the tests and by benchmarks/bench_slack.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import WSMsgType, web

BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0000001"
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"  # Socket Mode's app-level token


@dataclass(frozen=True)
class Call:
    method: str  # "chat.postMessage", … or "response_url"
    args: dict[str, Any]
    path: str = ""
    at: float = field(default_factory=time.monotonic)


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    fail_methods: set[str] = field(default_factory=set)  # answer these with ok=false
    delays: dict[str, float] = field(default_factory=dict)  # seconds to wait before answering a method
    # Hold every call of a method until this many have arrived (a barrier: two workers both in flight).
    hold_until: dict[str, int] = field(default_factory=dict)
    _arrived: dict[str, int] = field(default_factory=dict)
    rate_limited: set[str] = field(default_factory=set)  # answer the next call with 429 (once per method)
    # Scripted faults, taken one per call of a method: "429:<retry-after>", "500", "drop" (do the call,
    # then cut the connection before answering: the message is there but the caller never hears so), or
    # "hang" (do the call, then never answer).
    faults: dict[str, list[str]] = field(default_factory=dict)
    chaos_429: float = 0.0  # chance that a chat.postMessage gets 429 (Retry-After: chaos_retry_after)
    chaos_retry_after: str = "1"
    chaos_seed: int = 7
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel → posted messages
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)  # file id → filename, length, bytes
    shared: list[dict[str, Any]] = field(default_factory=list)  # files completed into a channel, with their bytes
    socket_acks: list[dict[str, Any]] = field(default_factory=list)  # what our app answered over Socket Mode
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _last_ts: float = 0.0
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    _rng: random.Random | None = None
    url: str = ""

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # conversations.history and .replies are GETs
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        self._closing.set()
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.url}/response/{name}"

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [c.args for c in self.calls if c.method == method]

    def posts(self) -> list[Call]:
        """Everything that puts a message in front of a user."""
        return [c for c in self.calls if c.method in ("chat.postMessage", "chat.postEphemeral", "response_url",
                                                      "files.completeUploadExternal")]

    async def _until(self, condition: Callable[[], bool], timeout: float) -> None:
        """Wait for `condition` (a bound against hanging, not a timing assertion)."""
        async def reached() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(reached(), timeout)

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The calls to `method` once there are `count` of them."""
        await self._until(lambda: len(self.calls_to(method)) >= count, timeout)
        return self.calls_to(method)

    async def push(self, envelope: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """Deliver a Socket Mode envelope to the connected app; return the app's acknowledgement."""
        await self._until(lambda: bool(self._sockets), timeout)
        await self._sockets[-1].send_json(envelope)
        envelope_id = envelope["envelope_id"]
        await self._until(lambda: any(a.get("envelope_id") == envelope_id for a in self.socket_acks), timeout)
        return next(a for a in self.socket_acks if a.get("envelope_id") == envelope_id)

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._changed.set()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        else:
            args.update(dict(parse_qsl(await request.text())))
        token = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if request.headers.get("Authorization") != f"Bearer {token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method in self.hold_until:
            self._arrived[method] = self._arrived.get(method, 0) + 1
            async with asyncio.timeout(10):  # a bound against hanging, not a timing assertion
                while self._arrived[method] < self.hold_until[method]:
                    await asyncio.sleep(0.005)
        await asyncio.sleep(self.delays.get(method, 0))
        if method in self.rate_limited:
            self.rate_limited.discard(method)
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "0"})
        fault = self.faults.get(method, []).pop(0) if self.faults.get(method) else ""
        if method == "chat.postMessage" and self.chaos_429:
            self._rng = self._rng or random.Random(self.chaos_seed)
            if self._rng.random() < self.chaos_429:
                fault = f"429:{self.chaos_retry_after}"
        if fault.startswith("429"):
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": fault.partition(":")[2] or "1"})
        if fault == "500":
            return web.Response(status=500, text="<html>Internal Server Error</html>", content_type="text/html")
        self._record(Call(method, args))
        if method in self.fail_methods:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        ts = self._next_ts()
        if method == "chat.postMessage":
            self._remember(args, ts)
        if method == "files.completeUploadExternal" and not self._share(args, ts):
            return web.json_response({"ok": False, "error": "invalid_arguments"})  # a file never uploaded
        if fault == "hang":
            await self._closing.wait()
            return web.Response(status=503)
        if fault == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)  # never reaches the caller
        match method:
            case "auth.test":
                body = {"url": "https://fake.slack.test/", "team": "Fake", "user": "dxlab", "team_id": TEAM_ID,
                        "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}
            case "chat.postMessage":
                body = {"channel": args.get("channel"), "ts": ts, "message": {"ts": ts, "text": args.get("text")}}
            case "chat.postEphemeral":
                body = {"message_ts": ts}
            case "chat.update":
                if not self._edit(args):
                    return web.json_response({"ok": False, "error": "message_not_found"})
                body = {"channel": args.get("channel"), "ts": args.get("ts"), "text": args.get("text")}
            case "apps.connections.open":
                body = {"url": self.url.replace("http://", "ws://") + "/socket"}
            case "views.publish":
                body = {"view": {"id": "V1", **(args.get("view") or {})}}
            case "conversations.open":
                body = {"channel": {"id": "D" + str(args.get("users", "")).lstrip("U")}}
            case "conversations.history" | "conversations.replies":
                body = self._listing(method, args)
            case "files.getUploadURLExternal":
                file_id = f"F{len(self.uploads) + 1:08d}"
                self.uploads[file_id] = {"filename": args.get("filename"), "length": int(args.get("length", 0)),
                                         "data": None}
                body = {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
            case "files.completeUploadExternal":
                body = {"files": [{"id": f["id"], "title": f.get("title")} for f in json.loads(args["files"])]}
            case _:
                body = {}
        return web.json_response({"ok": True, **body})

    def _next_ts(self) -> str:
        """Slack's ts: the posting time in seconds with microseconds, unique within the fake."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def _remember(self, args: dict[str, Any], ts: str) -> None:
        metadata = args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        message = {"type": "message", "ts": ts, "text": args.get("text"), "bot_id": BOT_ID}
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        if metadata:
            message["metadata"] = metadata
        self.history.setdefault(str(args.get("channel")), []).append(message)

    def _share(self, args: dict[str, Any], ts: str) -> bool:
        """files.completeUploadExternal: each uploaded file shared into `channel_id` (and `thread_ts`), as one
        message carrying them; False when a file was never uploaded."""
        files = json.loads(args["files"])
        if any((self.uploads.get(f["id"]) or {}).get("data") is None for f in files):
            return False
        shown = []
        for f in files:
            upload = self.uploads[f["id"]]
            shown.append({"id": f["id"], "name": upload["filename"], "title": f.get("title") or upload["filename"]})
            self.shared.append({**shown[-1], "channel": args.get("channel_id"), "thread_ts": args.get("thread_ts"),
                                "data": upload["data"]})
        message = {"type": "message", "ts": ts, "text": args.get("initial_comment", ""), "bot_id": BOT_ID,
                   "upload": True, "files": shown}
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        self.history.setdefault(str(args.get("channel_id")), []).append(message)
        return True

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL files.getUploadURLExternal handed out: the raw bytes, no token (as on Slack)."""
        file_id = request.match_info["file_id"]
        data = await request.read()
        fault = self.faults.get("upload", []).pop(0) if self.faults.get("upload") else ""
        if fault == "500":
            return web.Response(status=500, text="upload failed")
        if file_id not in self.uploads:
            return web.Response(status=404, text="no such upload")
        self._record(Call("upload", {"file_id": file_id, "length": len(data)}, request.path))
        self.uploads[file_id]["data"] = data
        return web.Response(text=f"OK - {len(data)}")


    def _edit(self, args: dict[str, Any]) -> bool:
        """chat.update: the posted message (channel, ts) takes the new text; False when there is none."""
        message = next((m for m in self.history.get(str(args.get("channel")), []) if m["ts"] == args.get("ts")), None)
        if message is None:
            return False
        message.update(text=args.get("text"), edited={"user": BOT_USER_ID, "ts": self._next_ts()})
        return True

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        return self.history.get(channel, [])

    def _listing(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """conversations.history (parents only, newest first) or .replies (one thread, oldest first),
        `oldest`-filtered, `limit` per page with a cursor; metadata only with include_all_metadata."""
        messages = self.history.get(str(args.get("channel")), [])
        oldest = float(args.get("oldest") or 0)
        if method == "conversations.history":
            chosen = [m for m in reversed(messages) if m.get("thread_ts", m["ts"]) == m["ts"]]
        else:
            chosen = [m for m in messages if m["ts"] == args.get("ts") or m.get("thread_ts") == args.get("ts")]
        chosen = [m for m in chosen if float(m["ts"]) >= oldest]
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        if not with_metadata:
            chosen = [{k: v for k, v in m.items() if k != "metadata"} for m in chosen]
        start, limit = int(args.get("cursor") or 0), int(args.get("limit") or 100)
        page = chosen[start: start + limit]
        more = start + limit < len(chosen)
        return {"messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}})
        self._sockets.append(ws)
        self._changed.set()
        async for frame in ws:
            if frame.type == WSMsgType.TEXT:
                self.socket_acks.append(json.loads(frame.data))
                self._changed.set()
        return ws

    async def _response_url(self, request: web.Request) -> web.Response:
        self._record(Call("response_url", await request.json(), request.path))
        return web.Response(text="ok")


# -- what Slack sends -------------------------------------------------------------------------

def sign(body: bytes, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def event_envelope(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {
        "token": "legacy", "team_id": TEAM_ID, "api_app_id": "A0000001", "type": "event_callback",
        "event_id": event_id, "event_time": int(time.time()), "event": {"event_ts": event.get("ts", "1"), **event},
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True,
                            "is_enterprise_install": False}],
    }


def mention(text: str, ts: str = "1700000001.000100", channel: str = "C0000001", user: str = "U0000001",
            thread_ts: str | None = None) -> dict[str, Any]:
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER_ID}> {text}", "ts": ts, "channel": channel}
    return event | ({"thread_ts": thread_ts} if thread_ts else {})


def message(text: str, ts: str = "1700000002.000100", channel: str = "C0000001", user: str = "U0000001",
            channel_type: str = "channel", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "user": user, "text": text, "ts": ts, "channel": channel,
            "channel_type": channel_type, **extra}


def json_request(envelope: dict[str, Any], **sign_args: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(envelope, ensure_ascii=False).encode()
    return body, {"Content-Type": "application/json", **sign(body, **sign_args)}


def form_request(fields: dict[str, str], **sign_args: Any) -> tuple[bytes, dict[str, str]]:
    body = urlencode(fields).encode()
    return body, {"Content-Type": "application/x-www-form-urlencoded", **sign(body, **sign_args)}


def slash_command(text: str, response_url: str, channel: str = "C0000001", user: str = "U0000001") -> dict[str, str]:
    return {"token": "legacy", "team_id": TEAM_ID, "channel_id": channel, "channel_name": "general",
            "user_id": user, "user_name": "someone", "command": "/dxlab", "text": text,
            "response_url": response_url, "trigger_id": "1.2.3", "api_app_id": "A0000001"}


def block_action(action_id: str, value: str, response_url: str, channel: str = "C0000001",
                 user: str = "U0000001", message_ts: str = "1700000000.000001",
                 thread_ts: str | None = "1700000001.000100") -> dict[str, str]:
    """A button press on a message the bot posted (in `thread_ts`, when given)."""
    msg = {"type": "message", "ts": message_ts, "bot_id": BOT_ID, "text": "…"}
    msg |= {"thread_ts": thread_ts} if thread_ts else {}
    payload = {
        "type": "block_actions", "team": {"id": TEAM_ID}, "user": {"id": user, "team_id": TEAM_ID},
        "api_app_id": "A0000001", "token": "legacy", "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "channel": {"id": channel, "name": "general"}, "message": msg, "response_url": response_url,
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b1", "value": value,
                     "action_ts": "1700000009.000001"}],
    }
    return {"payload": json.dumps(payload, ensure_ascii=False)}


def socket_envelope(envelope: dict[str, Any], envelope_id: str, retry_attempt: int = 0) -> dict[str, Any]:
    """An Events API envelope as Socket Mode wraps it."""
    return {"envelope_id": envelope_id, "type": "events_api", "payload": envelope,
            "accepts_response_payload": False, "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else ""}
