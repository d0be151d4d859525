"""The local web chat: one static page, and a JSON endpoint that talks to the same Bot.

POST /webchat/api/message takes `{"text": …}` or `{"action": name, "value": v}` and answers with
the Reply as JSON. The conversation id lives in a cookie, one per browser.
"""

from __future__ import annotations

import html
import json
import logging
import re
import secrets
from importlib import resources
from string import Template

from aiohttp import web

from handlers.address import Address, Platform
from handlers.dispatch import Dispatcher, error_reply
from handlers.i18n import t
from handlers.messages import Action, Button, Inbound, Reply

log = logging.getLogger(__name__)

COOKIE = "dxlab_web"
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
ACTION_NAME = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
MAX_VALUE_CHARS = 200
ASSETS = resources.files("bot.web")
SECURITY_HEADERS = {
    # The page builds its DOM with textContent only; the policy makes an injected script inert anyway.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


PAGE_STRINGS = {name: f"web.{name}" for name in (
    "title", "placeholder", "send", "thinking", "hint", "you", "bot", "log_label", "offline")} | {
    "welcome": "welcome.text"}


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


def reply_json(reply: Reply | None) -> dict[str, object]:
    reply = reply or Reply(text="")
    return {
        "title": reply.title,
        "text": reply.text,
        "source": reply.source,
        "buttons": [_button_json(b) for b in reply.buttons],
        "suggestions": [_button_json(b) for b in reply.suggestions],
        "suggestion_intro": reply.suggestion_intro,
        "ephemeral": reply.ephemeral,
    }


def _bad_request(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


class WebChannel:
    def __init__(self, dispatcher: Dispatcher):
        self.dispatcher = dispatcher
        self.page = render_page()
        self.assets = {name: ASSETS.joinpath(name).read_bytes() for name in ("app.js", "style.css")}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.index),
            web.get("/webchat/app.js", self.asset),
            web.get("/webchat/style.css", self.asset),
            web.post("/webchat/api/message", self.message),
        ]

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(text=self.page, content_type="text/html", headers=SECURITY_HEADERS)

    async def asset(self, request: web.Request) -> web.Response:
        name = request.path.rsplit("/", 1)[1]
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return web.Response(body=self.assets[name], content_type=kind, charset="utf-8", headers=SECURITY_HEADERS)

    async def message(self, request: web.Request) -> web.Response:
        # JSON only: a cross-site page cannot send this content type without a CORS preflight,
        # which this server never grants, so other sites cannot talk to the bot as the user.
        if request.content_type != "application/json":
            return _bad_request("send application/json", status=415)
        try:
            data = await request.json()
        except ValueError:
            return _bad_request("the body is not JSON")
        if not isinstance(data, dict):
            return _bad_request("the body must be a JSON object")
        cookie = request.cookies.get(COOKIE, "")
        conversation = cookie if CONVERSATION_ID.match(cookie) else secrets.token_urlsafe(18)
        action, value, text = data.get("action"), data.get("value"), data.get("text")
        here = Address(Platform.WEB, conversation, conversation)
        if action is not None:
            if not isinstance(action, str) or not ACTION_NAME.match(action) or not isinstance(value, str):
                return _bad_request("unknown action, or a value that is not a string")
            work = self.dispatcher.action(Action(here, action, value[:MAX_VALUE_CHARS]))
        elif isinstance(text, str):
            work = self.dispatcher.message(Inbound(here, text))
        else:
            return _bad_request('send {"text": …} or {"action": …, "value": …}')
        reply = await work  # the dispatcher turns any failure into an apology
        body, status = reply_json(reply), 500 if reply == error_reply() else 200
        response = web.json_response(body, status=status)
        if conversation != cookie:
            response.set_cookie(COOKIE, conversation, httponly=True, samesite="Strict", path="/",
                                max_age=60 * 60 * 24 * 365)
        return response
