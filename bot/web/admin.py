"""The read-only secretariat pages under /admin: labs, people, experts and the audit log, with filters.

Access: with DXLAB_ADMIN_TOKEN set, a login form (CSRF-protected) sets an HttpOnly, SameSite=Strict
session cookie signed with a key derived from the token; without a token the pages open only to
requests from this machine. Pages are rendered on the server with every value escaped. Later use cases
add their own pages: `admin_routes(units, settings, pages=[AdminPage(...)])` puts them in the nav.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from aiohttp import web

from bot.config import Settings
from bot.db.uow import SqlUnitOfWork, UnitsOfWork
from handlers.directory.model import Role
from handlers.i18n import t
from knowledge.vocabulary import vocabulary

COOKIE, CSRF_COOKIE = "dxlab_admin", "dxlab_admin_csrf"
SESSION_SECONDS = 8 * 3600
HEADERS = {"Content-Security-Policy": "default-src 'self'; form-action 'self'; frame-ancestors 'none'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
CSS = """body{font-family:system-ui,sans-serif;margin:0;color:#222}
header{background:#1f3a5f;color:#fff;padding:.6em 1em}
header a{color:#fff;margin-right:1em}nav a.on{font-weight:bold;text-decoration:underline}main{padding:1em}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;font-size:.9em}
th{background:#eef}form.filter{margin:.5em 0 1em}form.filter label{margin-right:1em}.note{color:#a60}.error{color:#b00}
form.logout{display:inline;float:right}"""

Query = Mapping[str, str]
Render = Callable[[SqlUnitOfWork, Query], str]  # the page body (escaped HTML), built inside a unit of work


@dataclass(frozen=True)
class AdminPage:
    path: str  # under /admin/, e.g. "cases"
    label_key: str  # i18n key of its nav label
    render: Render


@dataclass(frozen=True)
class AdminAsset:
    """A file a page shows (a chart), behind the same login: GET /admin/<path>."""

    path: str  # under /admin/, e.g. "kpi/overdue.png"
    render: Callable[[SqlUnitOfWork, Query], bytes]
    content_type: str = "image/png"


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.strip().lower() == "localhost"


def from_this_machine(request: web.Request) -> bool:
    forwarded = any(h in request.headers for h in ("Forwarded", "X-Forwarded-For", "X-Real-IP"))
    return not forwarded and _loopback(request.remote or "")


# -- HTML -----------------------------------------------------------------------------------------

def table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A table with i18n column labels (`admin.column.<name>`); every cell escaped."""
    if not rows:
        return f"<p>{escape(t('admin.empty'))}</p>"
    head = "".join(f"<th>{escape(t(f'admin.column.{c}'))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows)
    return (f"<p>{escape(t('admin.count', count=len(rows)))}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (tuple, list)):
        return "、".join(str(v) for v in value)
    return str(value)


def filters(query: Query, fields: Sequence[tuple[str, Sequence[tuple[str, str]] | None]]) -> str:
    """A GET form: each field a select of (value, label) options, or free text when None."""
    parts = []
    for name, options in fields:
        label, current = escape(t(f"admin.filter.{name}")), query.get(name, "")
        if options is None:
            control = f'<input name="{name}" value="{escape(current)}">'
        else:
            opts = [("", t("admin.filter.any")), *options]
            control = f'<select name="{name}">' + "".join(
                f'<option value="{escape(v)}"{" selected" if v == current else ""}>{escape(lb)}</option>'
                for v, lb in opts) + "</select>"
        parts.append(f"<label>{label} {control}</label>")
    return (f'<form class="filter" method="get">{"".join(parts)}'
            f'<button type="submit">{escape(t("admin.filter.submit"))}</button></form>')


def layout(title: str, body: str, nav: Sequence[AdminPage], current: str, csrf: str | None) -> str:
    links = "".join(f'<a href="/admin/{p.path}"{" class=on" if p.path == current else ""}>{escape(t(p.label_key))}</a>'
                    for p in nav)
    logout = (f'<form class="logout" method="post" action="/admin/logout"><input type="hidden" name="csrf" '
              f'value="{escape(csrf)}"><button type="submit">{escape(t("admin.login.logout"))}</button></form>'
              if csrf else "")
    return (f'<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<link rel="stylesheet" href="/admin/admin.css"></head><body><header>{logout}'
            f'<strong>{escape(t("admin.title"))}</strong> <nav>{links}</nav></header>'
            f"<main><h1>{escape(title)}</h1>{body}</main></body></html>")


# -- the directory's pages --------------------------------------------------------------------------

def _regions() -> list[tuple[str, str]]:
    return [(r, r) for r in vocabulary().regions]


def _prefectures() -> list[tuple[str, str]]:
    return [(p, p) for p in vocabulary().prefectures]


def labs_page(uow: SqlUnitOfWork, q: Query) -> str:
    labs = uow.directory.labs(region=q.get("region") or None, prefecture=q.get("prefecture") or None)
    rows = [(lab.id, lab.name, lab.prefecture, lab.region, lab.round, lab.selected_on, lab.status,
             lab.slack_channel, lab.teams_conversation) for lab in labs]
    return filters(q, [("region", _regions()), ("prefecture", _prefectures())]) + table(
        ["id", "name", "prefecture", "region", "round", "selected_on", "status", "slack", "teams"], rows)


def people_page(uow: SqlUnitOfWork, q: Query) -> str:
    people = uow.directory.people(role=q.get("role") or None, region=q.get("region") or None,
                                  prefecture=q.get("prefecture") or None)
    roles = [(r.value, t(f"directory.role.{r.value}")) for r in Role]
    rows = [(p.id, p.name, p.org, p.prefecture, [t(f"directory.role.{r}") for r in p.roles], p.labs, p.slack_user,
             p.teams_user) for p in people]
    return filters(q, [("role", roles), ("region", _regions()), ("prefecture", _prefectures())]) + table(
        ["id", "name", "org", "prefecture", "roles", "labs", "slack", "teams"], rows)


def experts_page(uow: SqlUnitOfWork, q: Query) -> str:
    region, prefecture = q.get("region") or None, q.get("prefecture") or None
    experts = uow.directory.experts(topic=q.get("topic") or None, prefecture=prefecture)
    if region and not prefecture:
        inside = set(vocabulary().regions.get(region, ()))
        experts = [e for e in experts if e.profile.national or region in e.profile.regions
                   or inside & set(e.profile.prefectures)]
    rows = []
    for e in experts:
        p = e.profile
        coverage = [t("directory.person.national")] if p.national else [*p.regions, *p.prefectures]
        absence = f"{p.absent_from or ''}〜{p.absent_until or ''}" if p.absent_from or p.absent_until else ""
        rows.append((e.person.id, e.person.name, e.person.org, p.kind, p.topics, p.industries, coverage, p.capacity,
                     absence))
    return filters(q, [("topic", None), ("region", _regions()), ("prefecture", _prefectures())]) + table(
        ["id", "name", "org", "kind", "topics", "industries", "coverage", "capacity", "absence"], rows)


def audit_page(uow: SqlUnitOfWork, q: Query) -> str:
    entries = uow.audit.since(None)[-500:][::-1]
    rows = [(e.at.strftime("%Y-%m-%d %H:%M:%S") if e.at else "", e.actor, e.action, e.target, e.outcome)
            for e in entries]
    return table(["at", "actor", "action", "target", "outcome"], rows)


DIRECTORY_PAGES = (AdminPage("labs", "admin.nav.labs", labs_page), AdminPage("people", "admin.nav.people", people_page),
                   AdminPage("experts", "admin.nav.experts", experts_page),
                   AdminPage("audit", "admin.nav.audit", audit_page))


# -- access -------------------------------------------------------------------------------------

class _Gate:
    def __init__(self, token: str):
        self.token = token
        self.key = hashlib.sha256(b"dxlab-admin-session\0" + token.encode()).digest()

    def sign(self, value: str) -> str:
        return hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()

    def session(self) -> str:
        expires = str(int(time.time()) + SESSION_SECONDS)
        return f"{expires}.{self.sign(expires)}"

    def valid(self, cookie: str | None) -> bool:
        expires, _, signature = (cookie or "").partition(".")
        return (expires.isdigit() and int(expires) > time.time()
                and hmac.compare_digest(signature, self.sign(expires)))

    def csrf(self, session: str) -> str:
        return self.sign("csrf:" + session)


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8", headers=HEADERS)


def _cookie(response: web.StreamResponse, name: str, value: str, request: web.Request, max_age: int) -> None:
    response.set_cookie(name, value, path="/admin", httponly=True, samesite="Strict", max_age=max_age,
                        secure=request.secure)


def admin_routes(units: UnitsOfWork, settings: Settings, pages: Sequence[AdminPage] = (),
                 assets: Sequence[AdminAsset] = ()) -> list[web.RouteDef]:
    nav = [*DIRECTORY_PAGES, *pages]
    gate = _Gate(settings.admin_token) if settings.admin_token else None

    def allowed(request: web.Request) -> bool:
        return gate.valid(request.cookies.get(COOKIE)) if gate else from_this_machine(request)

    def refuse(request: web.Request) -> web.StreamResponse:
        if gate is None:
            return _html(layout(t("admin.title"), f'<p class="error">{escape(t("admin.forbidden"))}</p>', [], "", None),
                         403)
        raise web.HTTPSeeOther("/admin/login")

    def login_form(request: web.Request, message: str = "", status: int = 200) -> web.Response:
        csrf = secrets.token_urlsafe(24)
        note = f'<p class="error">{escape(message)}</p>' if message else ""
        body = (f'{note}<form method="post" action="/admin/login"><input type="hidden" name="csrf" value="{csrf}">'
                f'<label>{escape(t("admin.login.token"))} <input type="password" name="token" autocomplete="off" '
                f'required></label> <button type="submit">{escape(t("admin.login.submit"))}</button></form>')
        response = _html(layout(t("admin.login.title"), body, [], "", None), status)
        _cookie(response, CSRF_COOKIE, csrf, request, 3600)
        return response

    async def login_get(request: web.Request) -> web.StreamResponse:
        if gate is None:
            raise web.HTTPSeeOther("/admin/labs")
        return login_form(request)

    async def login_post(request: web.Request) -> web.StreamResponse:
        if gate is None:
            raise web.HTTPSeeOther("/admin/labs")
        form = await request.post()
        sent, expected = str(form.get("csrf", "")), request.cookies.get(CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(sent, expected):
            return login_form(request, t("admin.login.expired"), 403)
        if not hmac.compare_digest(str(form.get("token", "")).encode(), gate.token.encode()):
            return login_form(request, t("admin.login.failed"), 403)
        response = web.HTTPSeeOther("/admin/labs", headers=HEADERS)
        _cookie(response, COOKIE, gate.session(), request, SESSION_SECONDS)
        response.del_cookie(CSRF_COOKIE, path="/admin")
        raise response

    async def logout(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        session = request.cookies.get(COOKIE, "")
        if gate and gate.valid(session) and hmac.compare_digest(str(form.get("csrf", "")), gate.csrf(session)):
            response = web.HTTPSeeOther("/admin/login")
            response.del_cookie(COOKIE, path="/admin")
            raise response
        return _html(layout(t("admin.title"), f'<p class="error">{escape(t("admin.login.expired"))}</p>', [], "",
                            None), 403)

    def page(item: AdminPage) -> Callable[[web.Request], object]:
        async def handler(request: web.Request) -> web.StreamResponse:
            if not allowed(request):
                return refuse(request)
            query = {k: v for k, v in request.query.items()}

            def render() -> str:
                with units() as uow:
                    body = item.render(uow, query)
                    demo = uow.directory.has_demo_people()
                return (f'<p class="note">{escape(t("admin.demo"))}</p>' if demo else "") + body

            body = await asyncio.to_thread(render)
            session = request.cookies.get(COOKIE, "")
            return _html(layout(t(item.label_key), body, nav, item.path, gate.csrf(session) if gate else None))
        return handler

    def asset(item: AdminAsset) -> Callable[[web.Request], object]:
        async def handler(request: web.Request) -> web.StreamResponse:
            if not allowed(request):
                return refuse(request)
            query = {k: v for k, v in request.query.items()}

            def render() -> bytes:
                with units() as uow:
                    return item.render(uow, query)

            return web.Response(body=await asyncio.to_thread(render), content_type=item.content_type,
                                headers=HEADERS)
        return handler

    async def index(request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther("/admin/labs")

    async def css(request: web.Request) -> web.StreamResponse:
        return web.Response(text=CSS, content_type="text/css", headers=HEADERS)

    routes = [web.get("/admin", index), web.get("/admin/", index), web.get("/admin/admin.css", css),
              web.get("/admin/login", login_get), web.post("/admin/login", login_post),
              web.post("/admin/logout", logout)]
    return routes + [web.get(f"/admin/{p.path}", page(p)) for p in nav] + \
        [web.get(f"/admin/{a.path}", asset(a)) for a in assets]
