"""The local web chat: one static page, and a JSON API that talks to the same dispatcher.

    POST /webchat/api/message   `{"text": …}`, `{"action": name, "value": v}` or
                                `{"form": id, "values": {…}, "context": c}` → the Reply as JSON
    GET  /webchat/api/updates   `?after=N`: messages the bot sent this conversation on its own since N
                                (`replaces`: the id of an earlier message this one takes the place of)
    GET  /webchat/api/people    demo mode only: who the visitor may act as
    POST /webchat/api/as        demo mode only: `{"person": id}` (or "" to be a member of the public)

The conversation id lives in a cookie, one per browser; in demo mode a second cookie names the demo
person the visitor acts as (a real person can never be chosen: the directory accepts only demo people).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from importlib import resources
from string import Template

from aiohttp import web

from bot.db.repos.web_mail import delivered_since
from bot.db.session import Database
from bot.directory.demo import DEMO_PREFIX, demo_people
from bot.http_guard import BadRequest, check_host, parse_json_limited
from handlers.address import Address, Platform
from handlers.dispatch import Dispatcher, error_reply
from handlers.i18n import t
from handlers.messages import Action, Button, Form, Inbound, Reply, Submission

log = logging.getLogger(__name__)

COOKIE = "dxlab_web"
AS_COOKIE = "dxlab_as"
PERSON_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
ACTION_NAME = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
MAX_VALUE_CHARS = 200
ASSETS = resources.files("bot.web")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SECURITY_HEADERS = {
    # The page builds its DOM with textContent only; the policy makes an injected script inert anyway.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


PAGE_STRINGS = {name: f"web.{name}" for name in (
    "title", "placeholder", "send", "thinking", "hint", "you", "bot", "log_label", "offline", "acting_as",
    "public", "clear")} | {"welcome": "welcome.text"}


def page_strings() -> dict[str, str]:
    """The page's UI text (name → Japanese), handed to the script inside the page."""
    return {name: t(key) for name, key in PAGE_STRINGS.items()}


def render_page() -> str:
    # `<` is escaped inside the JSON so no string can close the <script> element early.
    strings = json.dumps(page_strings(), ensure_ascii=False).replace("<", "\\u003c")
    template = Template(ASSETS.joinpath("index.html").read_text(encoding="utf-8"))
    return template.substitute(title=html.escape(t("web.title")), strings=strings)


def _button_json(button: Button) -> dict[str, object]:
    return {"label": button.label, "action": button.action, "value": button.value, "style": button.style}


def _form_json(form: Form | None) -> dict[str, object] | None:
    if form is None:
        return None
    return {"id": form.id, "title": form.title, "submit_label": form.submit_label, "context": form.context,
            "fields": [{"name": f.name, "label": f.label, "multiline": f.multiline, "required": f.required,
                        "placeholder": f.placeholder, "initial": f.initial,
                        "options": [{"value": v, "label": label} for v, label in f.options]} for f in form.fields]}


def reply_json(reply: Reply | None) -> dict[str, object]:
    reply = reply or Reply(text="")
    return {
        "form": _form_json(reply.form),
        "title": reply.title,
        "text": reply.text,
        "source": reply.source,
        "buttons": [_button_json(b) for b in reply.buttons],
        "suggestions": [_button_json(b) for b in reply.suggestions],
        "suggestion_intro": reply.suggestion_intro,
        "ephemeral": reply.ephemeral,
        "image": None if reply.attachment is None else {"src": reply.attachment.data_url(),
                                                        "title": reply.attachment.title},
    }


def _bad_request(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


class WebChannel:
    def __init__(self, dispatcher: Dispatcher, db: Database, host: str = "127.0.0.1", demo: bool = False):
        self.host = host
        self.dispatcher = dispatcher
        self.db = db
        self.demo = demo
        self.page = render_page()
        self.assets = {name: ASSETS.joinpath(name).read_bytes() for name in ("app.js", "style.css")}

    def routes(self) -> list[web.RouteDef]:
        guard = self._named_host
        return [
            web.get("/", guard(self.index)),
            web.get("/webchat/app.js", guard(self.asset)),
            web.get("/webchat/style.css", guard(self.asset)),
            web.post("/webchat/api/message", guard(self.message)),
            web.get("/webchat/api/updates", guard(self.updates)),
            web.get("/webchat/api/people", guard(self.people)),
            web.post("/webchat/api/as", guard(self.act_as)),
        ]

    def _named_host(self, handler: Handler) -> Handler:
        """Refuse a request whose Host header names another site (DNS rebinding: a page of evil.example
        whose name now points at 127.0.0.1 would otherwise talk to the bot as the visitor)."""
        async def checked(request: web.Request) -> web.StreamResponse:
            sockname = request.transport.get_extra_info("sockname") if request.transport else None
            port = int(sockname[1]) if sockname else 0
            if not check_host(request.host, self.host, port):
                return _bad_request("this server does not answer to that host name", status=421)
            return await handler(request)
        return checked

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(text=self.page, content_type="text/html", headers=SECURITY_HEADERS)

    async def asset(self, request: web.Request) -> web.Response:
        name = request.path.rsplit("/", 1)[1]
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return web.Response(body=self.assets[name], content_type=kind, charset="utf-8", headers=SECURITY_HEADERS)

    def _here(self, request: web.Request) -> tuple[Address, str]:
        """This browser's address (acting as a demo person when chosen) and its conversation id."""
        cookie = request.cookies.get(COOKIE, "")
        conversation = cookie if CONVERSATION_ID.match(cookie) else secrets.token_urlsafe(18)
        person = request.cookies.get(AS_COOKIE, "") if self.demo else ""
        user = DEMO_PREFIX + person if PERSON_ID.match(person) else conversation
        return Address(Platform.WEB, conversation, user), conversation

    async def message(self, request: web.Request) -> web.Response:
        # JSON only: a cross-site page cannot send this content type without a CORS preflight,
        # which this server never grants, so other sites cannot talk to the bot as the user.
        if request.content_type != "application/json":
            return _bad_request("send application/json", status=415)
        try:
            data = parse_json_limited(await request.read())
        except BadRequest as exc:
            return _bad_request(str(exc))
        if not isinstance(data, dict):
            return _bad_request("the body must be a JSON object")
        here, conversation = self._here(request)
        action, value, text, form = data.get("action"), data.get("value"), data.get("text"), data.get("form")
        if action is not None:
            if not isinstance(action, str) or not ACTION_NAME.match(action) or not isinstance(value, str):
                return _bad_request("unknown action, or a value that is not a string")
            work = self.dispatcher.action(Action(here, action, value[:MAX_VALUE_CHARS]))
        elif form is not None:
            values, context = data.get("values"), data.get("context", "")
            if (not isinstance(form, str) or not ACTION_NAME.match(form) or not isinstance(values, dict)
                    or not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())
                    or not isinstance(context, str)):
                return _bad_request('a form is {"form": id, "values": {name: text}, "context": text}')
            work = self.dispatcher.submission(Submission(here, form, values, context[:MAX_VALUE_CHARS]))
        elif isinstance(text, str):
            work = self.dispatcher.message(Inbound(here, text))
        else:
            return _bad_request('send {"text": …} or {"action": …, "value": …}')
        reply = await work  # the dispatcher turns any failure into an apology
        body, status = reply_json(reply), 500 if reply == error_reply() else 200
        return self._with_cookie(web.json_response(body, status=status), request, conversation)

    async def updates(self, request: web.Request) -> web.Response:
        here, conversation = self._here(request)
        after = request.query.get("after", "0")
        if not (after.isascii() and after.isdigit() and len(after) < 19):
            return _bad_request("after must be a row number")
        keys = [here.pacing_key, here.to_user(here.user).pacing_key]
        rows = await asyncio.to_thread(delivered_since, self.db, keys, int(after))
        messages = [{"id": row_id, **reply_json(Reply.from_json(payload)), "replaces": replaces}
                    for row_id, payload, replaces in rows]
        return self._with_cookie(web.json_response({"messages": messages}), request, conversation)

    async def people(self, request: web.Request) -> web.Response:
        if not self.demo:
            return _bad_request("only in demo mode", status=404)
        chosen = request.cookies.get(AS_COOKIE, "")
        return web.json_response({"as": chosen, "people": [
            {"id": p.id, "name": p.name, "roles": list(p.roles), "labs": list(p.labs), "org": p.org}
            for p in demo_people()]})

    async def act_as(self, request: web.Request) -> web.Response:
        if not self.demo:
            return _bad_request("only in demo mode", status=404)
        if request.content_type != "application/json":
            return _bad_request("send application/json", status=415)
        try:
            data = parse_json_limited(await request.read())
        except BadRequest as exc:
            return _bad_request(str(exc))
        person = data.get("person") if isinstance(data, dict) else None
        known = {p.id for p in demo_people()}
        if not isinstance(person, str) or (person and person not in known):
            return _bad_request("unknown demo person")
        response = web.json_response({"as": person})
        response.set_cookie(AS_COOKIE, person, httponly=True, samesite="Strict", path="/")
        return response

    @staticmethod
    def _with_cookie(response: web.Response, request: web.Request, conversation: str) -> web.Response:
        if conversation != request.cookies.get(COOKIE, ""):
            response.set_cookie(COOKIE, conversation, httponly=True, samesite="Strict", path="/",
                                max_age=60 * 60 * 24 * 365)
        return response
