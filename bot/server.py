"""The one HTTP server: Slack, Teams, the local web chat, health, admin reload, and the knowledge watcher.

`build_app(core, host)` wires every channel to the same Bot; `serve()` runs it until SIGINT/SIGTERM
(or, with --console, until the terminal chat ends), then waits for background work to finish.

    POST /slack/events        Slack Events API, slash commands, interactivity (when Slack is configured)
                              kept in the inbox before the acknowledgement, answered by the inbox worker
    POST /api/messages        Teams (Bot Framework); unauthenticated only on loopback or when allowed
    GET  /healthz             200 once started, 503 while stopping (liveness: cheap, no database)
    GET  /readyz              200 when the database answers within a second, else 503 (readiness)
    POST /admin/reload        reload the knowledge base now; from this machine, or with
                              `Authorization: Bearer $DXLAB_ADMIN_TOKEN`; 200 or 422 with the ReloadResult
    GET  /, /webchat/...      the local web chat: DXLAB_WEBCHAT=auto (on only on loopback) | on | off
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import ipaddress
import logging
import signal
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from functools import partial

from aiohttp import web

from bot.app import Core, build_core
from bot.channels.console import converse
from bot.channels.slack import SlackChannel
from bot.channels.teams import TeamsChannel
from bot.channels.web import WebChannel
from bot.config import Settings, SettingsError, load_settings
from bot.db.repos import deliveries, inbox
from bot.db.repos.leader import leader_for
from bot.health import check_database
from bot.inbox import InboxWorker
from bot.outbound import Outbound
from bot.web.admin import admin_routes, from_this_machine
from bot.web.events_admin import PAGES as EVENT_PAGES
from bot.web.events_admin import events_admin_routes
from bot.web.events_ics import ics_routes
from bot.web.kpi_admin import KPI_ASSETS, KPI_PAGE
from handlers.i18n import t
from knowledge.live import LiveKnowledge
from scheduler.jobs import (
    KNOWLEDGE_POLL_SECONDS,
    PURGE_EVENTS_EVERY_SECONDS,
    purge_processed_events,
    reload_knowledge_if_changed,
)
from scheduler.runner import Scheduler

log = logging.getLogger(__name__)
logging.getLogger("apscheduler").setLevel(logging.WARNING)  # its per-job INFO lines drown the start-up log


@dataclass
class Health:
    ready: bool = False  # true from the end of start-up to the beginning of shutdown


FINAL_SEND_S = 8.0  # at shutdown, how long the last answers may take to go out
HEALTH = web.AppKey("health", Health)
SLACK = web.AppKey("slack", SlackChannel)
INBOX = web.AppKey("inbox", InboxWorker)
CORE = web.AppKey("core", Core)
READY_TIMEOUT_S = 1.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def webchat_enabled(settings: Settings, host: str) -> bool:
    """DXLAB_WEBCHAT: auto (default: on only when serving on loopback), on, or off."""
    value = settings.webchat.lower()
    if value in ("", "auto"):
        return is_loopback(host)
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"DXLAB_WEBCHAT={settings.webchat!r}: use auto, on or off")


def _off(reason: str, status: int = 404) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"error": reason}, status=status)
    return handler


def _not_simple(request: web.Request) -> bool:
    """A request a web page cannot send without a CORS preflight (which this server never grants)."""
    return request.content_type == "application/json" or "X-Requested-With" in request.headers


def _admin_reload(knowledge: LiveKnowledge, token: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        token_ok = bool(token) and hmac.compare_digest(given.encode(), token.encode())
        if not (token_ok or from_this_machine(request)):
            return web.json_response({"error": "allowed from this machine only, or with DXLAB_ADMIN_TOKEN"},
                                     status=403)
        if not token_ok and not _not_simple(request):
            return web.json_response({"error": "send the request with Content-Type: application/json (or the "
                                      "X-Requested-With header) so that no web page can trigger it"}, status=403)
        allow_empty = request.query.get("allow_empty") == "1"
        result = await asyncio.to_thread(knowledge.reload, allow_empty)
        return web.json_response(asdict(result), status=200 if result.ok else 422)
    return handler


async def _readyz(request: web.Request) -> web.Response:
    """Ready when started and the database answers within a second (503 otherwise, so a load balancer
    sends no traffic to a replica that cannot keep what it acknowledges)."""
    if not request.app[HEALTH].ready:
        return web.json_response({"status": "starting or stopping"}, status=503)
    ok, why = await asyncio.to_thread(check_database, request.app[CORE].db, READY_TIMEOUT_S)
    return web.json_response({"status": "ok" if ok else why, "database": ok}, status=200 if ok else 503)


async def _healthz(request: web.Request) -> web.Response:
    if not request.app[HEALTH].ready:
        return web.json_response({"status": "starting or stopping"}, status=503)
    return web.json_response({"status": "ok"})


class _Expiry:
    """What the hourly purge drops: expired one-time markers and answered inbox rows."""

    def __init__(self, core: Core):
        self.core = core

    def purge_expired_events(self) -> int:
        return deliveries.purge_expired(self.core.db) + inbox.purge(self.core.db, dt.datetime.now(dt.UTC))


def _mount_slack(app: web.Application, core: Core, worker: InboxWorker) -> None:
    if not core.settings.slack_enabled:
        log.info("Slack: off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or SLACK_APP_TOKEN for Socket Mode)")
        app.router.add_post("/slack/events", _off("Slack is not configured on this server"))
        return
    slack = SlackChannel(core.settings, core.db, core.dispatcher, worker.wake)
    worker.processors["slack"] = slack.process
    app[SLACK] = slack
    if slack.http_enabled:
        app.router.add_post("/slack/events", slack.handle)
    else:
        app.router.add_post("/slack/events", _off("Slack runs over Socket Mode here (no SLACK_SIGNING_SECRET)"))
    modes = [*(["Events API at /slack/events"] if slack.http_enabled else []),
             *(["Socket Mode"] if slack.socket else [])]
    log.info("Slack: on (%s)", " and ".join(modes))

    async def running(_: web.Application) -> AsyncIterator[None]:
        await slack.start()
        yield
        await slack.close()

    app.cleanup_ctx.append(running)


def _mount_teams(app: web.Application, core: Core, worker: InboxWorker, host: str,
                 allow_unauthenticated: bool) -> None:
    settings = core.settings
    anonymous = not settings.teams_auth_enabled
    if anonymous and not (is_loopback(host) or allow_unauthenticated):
        reason = (f"Teams: /api/messages is off: MICROSOFT_APP_ID is not set, and unauthenticated (emulator) "
                  f"mode is served only on a loopback address, not on {host!r}. Set MICROSOFT_APP_ID and "
                  f"MICROSOFT_APP_PASSWORD, or start with --allow-unauthenticated to accept anyone's requests.")
        log.warning(reason)
        app.router.add_post("/api/messages", _off(reason, status=503))
        return
    if anonymous:
        log.warning("Teams: /api/messages accepts requests WITHOUT authentication (emulator mode: "
                    "MICROSOFT_APP_ID is not set)%s", "" if is_loopback(host) else ", as --allow-unauthenticated asks")
    else:
        log.info("Teams: on at /api/messages (Bot Framework authentication)")
    teams = TeamsChannel(settings, core.db, core.dispatcher, worker.wake, anonymous_allowed=anonymous)
    worker.processors["teams"] = teams.process
    app.router.add_post("/api/messages", teams.handle)

    async def running(_: web.Application) -> AsyncIterator[None]:
        yield
        await teams.close()

    app.cleanup_ctx.append(running)


def _mount_scheduler(app: web.Application, core: Core, kb_poll_seconds: float) -> None:
    """Periodic and durable work: the outbox loop (every replica), due steps and cron jobs (the leader only),
    dropping expired delivery ids and, unless DXLAB_KB_WATCH=0, picking up edited knowledge files (a bad
    edit is refused inside reload() and the old content kept). Mounted before the inbox worker, so that at
    shutdown the answers under way are written first and then sent."""
    scheduler = Scheduler(leadership=leader_for(core.db))
    outbound = Outbound(core.db, core.senders, core.run_due_step, core.settings, scheduler)
    core.dispatcher.on_enqueued(outbound.wake)
    scheduler.run_repeating("purge-delivery-ids", partial(purge_processed_events, _Expiry(core)),
                            PURGE_EVENTS_EVERY_SECONDS)
    if core.settings.kb_watch:
        scheduler.run_repeating("knowledge-watch", partial(reload_knowledge_if_changed, core.knowledge),
                                kb_poll_seconds)

    async def running(_: web.Application) -> AsyncIterator[None]:
        outbound.start()
        scheduler.start()
        yield
        await scheduler.stop()
        # The answers the inbox worker finished while stopping are in the outbox: send what is ready.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(outbound.worker.deliver_ready(), FINAL_SEND_S)
        await outbound.stop()
        for sender in core.senders.values():
            close = getattr(sender, "close", None)
            if close is not None:
                await close()

    app.cleanup_ctx.append(running)


def _mount_inbox(app: web.Application, worker: InboxWorker) -> None:
    """Answer kept deliveries (those of a previous run first) until shutdown; channels close after it."""
    async def running(_: web.Application) -> AsyncIterator[None]:
        worker.start()
        yield
        await worker.close()

    app.cleanup_ctx.append(running)


def build_app(core: Core, host: str, allow_unauthenticated: bool = False,
              kb_poll_seconds: float = KNOWLEDGE_POLL_SECONDS, demo: bool = False) -> web.Application:
    """The aiohttp application for a server listening on `host` (which decides the loopback-only parts)."""
    settings = core.settings
    app = web.Application()
    app[HEALTH] = health = Health()
    app[CORE] = core
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_post("/admin/reload", _admin_reload(core.knowledge, settings.admin_token))
    app.router.add_routes(admin_routes(core.units, settings, pages=[*EVENT_PAGES, KPI_PAGE], assets=KPI_ASSETS))
    app.router.add_routes(events_admin_routes(core.units, settings))
    app.router.add_routes(ics_routes(core.units))  # public: /events/{id}.ics, linked from invitations
    app[INBOX] = worker = InboxWorker(core.db, {})
    _mount_slack(app, core, worker)
    _mount_teams(app, core, worker, host, allow_unauthenticated)
    _mount_scheduler(app, core, kb_poll_seconds)
    _mount_inbox(app, worker)
    if webchat_enabled(settings, host):
        # Acting as a demo person exists only in demo mode and only on loopback.
        app.router.add_routes(WebChannel(core.dispatcher, core.db, host, demo=demo and is_loopback(host)).routes())
        log.info("web chat: on at / (open the server's address in a browser)")
        if not is_loopback(host):
            log.warning("web chat: on at / on a non-loopback address: anyone who can reach it can chat")
    else:
        log.info("web chat: off (on by default only on a loopback address; DXLAB_WEBCHAT=on forces it)")

    async def ready(_: web.Application) -> None:
        health.ready = True

    async def stopping(_: web.Application) -> None:
        health.ready = False

    app.on_startup.append(ready)  # on_startup runs after every cleanup_ctx has started its channel
    app.on_shutdown.append(stopping)
    return app


async def _console_lines() -> AsyncIterator[str]:
    """Terminal lines, read on a daemon thread: unlike asyncio.to_thread, a pending input() cannot
    hold up the process's exit after the server is stopped."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="console-input", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


async def _console(core: Core, stop: asyncio.Event) -> None:
    """The terminal chat beside the server. `exit`, or the end of a terminal's input (Ctrl-D),
    stops the server; input that is not a terminal (/dev/null under a process manager) merely
    ends the chat and the server keeps serving."""
    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    write(t("console.banner") + "\n")
    typed_exit = await converse(core.dispatcher, _console_lines(), write)
    if typed_exit or sys.stdin.isatty():
        write(t("console.bye") + "\n")
        stop.set()


# aiohttp's default of 128 pending connections overflows when Slack delivers a burst (a broadcast's
# replies, a retry storm) while the loop is busy: the kernel then drops the SYN and the client
# waits out its 1 s retransmission, which was seen as a 1 s acknowledgement in bench_slack.
LISTEN_BACKLOG = 1024


async def run(core: Core, host: str, port: int, console: bool = False, allow_unauthenticated: bool = False,
              demo: bool = False) -> int:
    app = build_app(core, host, allow_unauthenticated, demo=demo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG).start()
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", host, port, exc)
        await runner.cleanup()
        return 1
    log.info("listening on http://%s:%d (health: /healthz)", host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    chat = asyncio.create_task(_console(core, stop)) if console else None
    try:
        await stop.wait()
    finally:
        log.info("stopping: finishing the answers under way")
        if chat is not None:
            chat.cancel()
        await runner.cleanup()
    return 0


def serve(host: str, port: int | None, console: bool, allow_unauthenticated: bool, demo: bool = False) -> int:
    """`dxlab serve`: the port defaults to $PORT, else 3978. `demo` loads the demo directory into an empty one."""
    settings = load_settings()
    core = build_core(settings)
    if demo:
        from bot.directory.demo import load_demo_if_empty

        load_demo_if_empty(core.units)
    try:
        return asyncio.run(run(core, host, port or settings.port, console, allow_unauthenticated, demo))
    finally:
        core.close()
