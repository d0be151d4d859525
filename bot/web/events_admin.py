"""The secretariat's pages for announcements and events under /admin (behind the same login as the
directory's pages): the lists are AdminPages for the nav; compose → preview → send or schedule, cancel,
resend, the delivery report, RSVP against attendance, the attendance form, the survey summary and CSV
files are this module's own routes. Every POST carries the admin CSRF token (the session's HMAC with a
login token; without one — loopback only — a double-submit cookie)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hmac
import io
import secrets
from collections.abc import Awaitable, Callable, Mapping
from html import escape
from typing import Any

from aiohttp import web

from bot.config import Settings
from bot.db.uow import SqlUnitOfWork, UnitsOfWork
from bot.web.admin import COOKIE, HEADERS, AdminPage, Query, _Gate, from_this_machine, layout, table
from handlers.announce import parse_at
from handlers.audit import AuditEntry
from handlers.calendar import BusinessCalendar
from handlers.events import after, broadcast, rsvp
from handlers.events.audience import AudienceError
from handlers.events.broadcast import Desk
from handlers.events.importer import EventFileError, plan
from handlers.events.model import EventSettings
from handlers.events.render import when
from handlers.i18n import t
from handlers.outcome import Send

LOCAL_CSRF = "dxlab_events_csrf"
ACTOR = "admin:web"
TOKEN_KEY = web.RequestKey("events_admin_csrf", str)
DELIVERY_COLUMNS = ("target", "state", "reason", "acknowledged")


def _link(href: str, text: object) -> str:
    return f'<a href="{escape(href)}">{escape(str(text))}</a>'


def _rows(columns: tuple[str, ...], rows: list[list[str]]) -> str:
    """A table whose cells are already-escaped HTML (links)."""
    head = "".join(f"<th>{escape(t(f'admin.column.{c}'))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>" if rows else \
        f"<p>{escape(t('admin.empty'))}</p>"


def announcements_page(uow: SqlUnitOfWork, q: Query) -> str:
    desk = Desk(uow, dt.datetime.now(dt.UTC), BusinessCalendar(), EventSettings())
    rows = []
    for a in uow.events.announcements(200):
        r = broadcast.report(desk, a.id) or {}
        rows.append([_link(f"/admin/announcements/{a.id}", a.id), escape(a.title), escape(t(f"admin.state.{a.state}")),
                     escape(a.audience), str(r.get("recipients", 0)), str(r.get("sent", 0)), str(r.get("failed", 0)),
                     str(r.get("pending", 0)), str(r.get("acknowledged", 0)),
                     escape(when(a.send_at)) if a.send_at else ""])
    return (f'<p>{_link("/admin/announcements/new", t("admin.events.compose"))}</p>' + _rows(
        ("id", "title", "state", "audience", "recipients", "sent", "failed", "pending", "acknowledged", "send_at"),
        rows))


def events_page(uow: SqlUnitOfWork, q: Query) -> str:
    desk = Desk(uow, dt.datetime.now(dt.UTC), BusinessCalendar(), EventSettings())
    since = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    rows = []
    for e in uow.events.events(since, include_cancelled=True)[::-1][:200]:
        s = after.summary(desk, e.id) or {}
        rows.append([_link(f"/admin/events/{e.id}", e.id), escape(e.title), escape(when(e.starts_at)),
                     escape(e.state), str(s["going"]), str(s["waitlisted"]), str(s["attended"]),
                     escape(str(s["survey_average"] or "-"))])
    return (f'<p>{_link("/admin/events/new", t("admin.events.compose_event"))}</p>'
            + _rows(("id", "title", "starts_at", "state", "going", "waitlisted", "attended", "score"), rows))


PAGES = (AdminPage("announcements", "admin.nav.announcements", announcements_page),
         AdminPage("events", "admin.nav.events", events_page))


class _Csrf:
    """The token a form carries and the check a POST passes."""

    def __init__(self, settings: Settings):
        self.gate = _Gate(settings.admin_token) if settings.admin_token else None

    def allowed(self, request: web.Request) -> bool:
        return self.gate.valid(request.cookies.get(COOKIE)) if self.gate else from_this_machine(request)

    def token(self, request: web.Request) -> str:
        """The token this request's forms carry (new ones get a double-submit cookie from `page`)."""
        if self.gate:
            return self.gate.csrf(request.cookies.get(COOKIE, ""))
        if TOKEN_KEY not in request:
            request[TOKEN_KEY] = request.cookies.get(LOCAL_CSRF) or secrets.token_urlsafe(24)
        return request[TOKEN_KEY]

    def valid(self, request: web.Request, sent: str) -> bool:
        expected = self.token(request) if self.gate else request.cookies.get(LOCAL_CSRF, "")
        return bool(expected) and hmac.compare_digest(sent, expected)


def _compose_fields() -> str:
    def field(name: str, label_key: str, control: str) -> str:
        return f"<p><label>{escape(t(label_key))}<br>{control}</label></p>"
    return (field("audience", "admin.events.audience", '<input name="audience" value="all" size="60" required>')
            + f'<p class="note">{escape(t("announce.form.audience_hint"))}</p>'
            + field("title", "admin.events.subject", '<input name="title" size="60" required>')
            + field("text", "admin.events.text", '<textarea name="text" rows="8" cols="70" required></textarea>')
            + field("at", "admin.events.at", '<input name="at" placeholder="2031-05-12 10:00">')
            + f'<p><label><input type="checkbox" name="dm" value="yes"> {escape(t("admin.events.dm"))}</label></p>')


EVENT_FIELDS = (("title", "admin.events.subject", True), ("start", "admin.events.start", True),
                ("end", "admin.events.end", True), ("venue", "admin.events.venue", False),
                ("online_url", "admin.events.online", False), ("organiser", "admin.events.organiser", True),
                ("audience", "admin.events.audience", True), ("capacity", "admin.events.capacity", False),
                ("rsvp_deadline", "admin.events.deadline", False), ("announce_at", "admin.events.at", False))


def _event_fields(values: Mapping[str, str]) -> str:
    parts = [f'<p><label>{escape(t(key))}<br><input name="{name}" size="60" value="{escape(values.get(name, ""))}"'
             f'{" required" if required else ""}></label></p>' for name, key, required in EVENT_FIELDS]
    parts.append(f'<p><label>{escape(t("admin.events.description"))}<br><textarea name="description" rows="6" '
                 f'cols="70">{escape(values.get("description", ""))}</textarea></label></p>')
    return "".join(parts)


def _event_item(values: Mapping[str, str]) -> dict[str, object]:
    """The form as one entry of an events file, so the file's checks apply (handlers.events.importer)."""
    item: dict[str, object] = {k: v.strip() for k, v in values.items() if v.strip()}
    if "capacity" in item:
        capacity = str(item["capacity"])
        item["capacity"] = int(capacity) if capacity.isdigit() else capacity
    return item


def _created(made: tuple[int, int, int, list[Send]]) -> tuple[tuple[int, int, int, list[Send]], list[Send]]:
    return made, made[3]


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...], name: str) -> web.Response:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return web.Response(body=("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type="text/csv",
                        charset="utf-8", headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})


def events_admin_routes(units: UnitsOfWork, settings: Settings) -> list[web.RouteDef]:
    csrf = _Csrf(settings)
    event_settings = settings.events
    nav = list(PAGES)

    def work(fn: Callable[[Desk], tuple[Any, list[Send]]], audit: str = "", target: str = "") -> Awaitable[Any]:
        """Run `fn` → (result, sends) in a unit of work: the sends enqueued and an audit entry written (when
        `audit`) in the same transaction. Returns the result."""
        def run() -> Any:
            with units() as uow:
                desk = Desk(uow, dt.datetime.now(dt.UTC), BusinessCalendar(), event_settings)
                result, sends = fn(desk)
                for send in sends:
                    uow.outbox.enqueue(send, desk.now)
                if audit:
                    uow.audit.record(AuditEntry(ACTOR, audit, target, at=desk.now))
                uow.commit()
                return result
        return asyncio.to_thread(run)

    def post_form(request: web.Request, action: str, label: str, fields: str = "") -> str:
        return (f'<form method="post" action="{escape(action)}"><input type="hidden" name="csrf" '
                f'value="{escape(csrf.token(request))}">{fields}<button type="submit">{escape(label)}</button></form>')

    def page(request: web.Request, title: str, body: str, current: str) -> web.Response:
        html = layout(title, body, nav, current, csrf.token(request) if csrf.gate else None)
        response = web.Response(text=html, content_type="text/html", charset="utf-8", headers=HEADERS)
        if csrf.gate is None and request.cookies.get(LOCAL_CSRF) != csrf.token(request):
            response.set_cookie(LOCAL_CSRF, csrf.token(request), path="/admin", httponly=True, samesite="Strict")
        return response

    def guard(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
              ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def checked(request: web.Request) -> web.StreamResponse:
            if not csrf.allowed(request):
                if csrf.gate:
                    raise web.HTTPSeeOther("/admin/login")
                raise web.HTTPForbidden(text=t("admin.forbidden"))
            if request.method == "POST":
                form = await request.post()
                if not csrf.valid(request, str(form.get("csrf", ""))):
                    raise web.HTTPForbidden(text=t("admin.login.expired"))
            return await handler(request)
        return checked

    def number(request: web.Request) -> int:
        raw = request.match_info["id"]
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            raise web.HTTPNotFound()
        return int(raw)

    async def compose_get(request: web.Request) -> web.StreamResponse:
        body = post_form(request, "/admin/announcements/new", t("admin.events.preview"), _compose_fields())
        return page(request, t("admin.events.compose"), body, "announcements")

    async def compose_post(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        values = {k: str(form.get(k, "")) for k in ("audience", "title", "text", "at", "dm")}
        try:
            send_at = parse_at(values["at"])
            made = await work(lambda d: (broadcast.compose(d, values["title"].strip(), values["text"].strip(),
                                                           values["audience"], ACTOR, dm=values["dm"] == "yes",
                                                           send_at=send_at, draft=True), []), "announce.compose")
        except AudienceError as exc:
            return page(request, t("admin.events.compose"), f'<p class="error">{escape(t(exc.key, term=exc.term))}</p>'
                        + post_form(request, "/admin/announcements/new", t("admin.events.preview"), _compose_fields()),
                        "announcements")
        except ValueError:
            return page(request, t("admin.events.compose"), f'<p class="error">'
                        f'{escape(t("announce.bad_time", value=values["at"]))}</p>', "announcements")
        raise web.HTTPSeeOther(f"/admin/announcements/{made[0]}")

    async def announcement(request: web.Request) -> web.StreamResponse:
        announcement_id = number(request)

        found, a = await work(lambda d: ((broadcast.report(d, announcement_id),
                                          d.uow.events.announcement(announcement_id)), []))
        if found is None:
            raise web.HTTPNotFound()
        base = f"/admin/announcements/{announcement_id}"
        actions = []
        if a.state == "draft":
            actions.append(post_form(request, f"{base}/confirm", t("admin.events.confirm")))
        if a.state in ("draft", "scheduled"):
            actions.append(post_form(request, f"{base}/cancel", t("admin.events.cancel")))
        if a.state == "sent":
            actions += [post_form(request, f"{base}/resend-failed", t("admin.events.resend_failed")),
                        post_form(request, f"{base}/resend-unacknowledged", t("admin.events.resend_unacknowledged"))]
        rows = [(f["target"], f["reason"]) for f in found["failures"]]
        body = (f"<pre>{escape(t('announce.report.text', **found))}</pre>"
                f"<h2>{escape(a.title)}</h2><pre>{escape(a.body)}</pre>" + "".join(actions)
                + f'<p>{_link(f"{base}.csv", t("admin.events.csv"))}</p>' + table(["target", "reason"], rows))
        return page(request, t("announce.report.title", title=a.title), body, "announcements")

    async def announcement_post(request: web.Request) -> web.StreamResponse:
        announcement_id, verb = number(request), request.match_info["verb"]
        steps: dict[str, Callable[[Desk], tuple[Any, list[Send]]]] = {
            "confirm": lambda d: (None, broadcast.release(d, announcement_id)),
            "cancel": lambda d: (broadcast.cancel(d, announcement_id), []),
            "resend-failed": lambda d: broadcast.resend_failed(d, announcement_id),
            "resend-unacknowledged": lambda d: (None, broadcast.resend_unacknowledged(d, announcement_id)),
        }
        if verb not in steps:
            raise web.HTTPNotFound()
        await work(steps[verb], f"announce.{verb}", f"announcement:{announcement_id}")
        raise web.HTTPSeeOther(f"/admin/announcements/{announcement_id}")

    async def announcement_csv(request: web.Request) -> web.StreamResponse:
        announcement_id = number(request)
        deliveries = await work(lambda d: (d.uow.events.deliveries(announcement_id), []))
        rows = [{"target": x.target, "state": x.state, "reason": x.reason, "acknowledged": x.acknowledged}
                for x in deliveries]
        return _csv(rows, DELIVERY_COLUMNS, f"announcement-{announcement_id}.csv")

    async def event(request: web.Request) -> web.StreamResponse:
        event_id = number(request)
        found, people = await work(lambda d: ((after.summary(d, event_id), after.attendance_rows(d, event_id)), []))
        if found is None:
            raise web.HTTPNotFound()
        ticks = "".join(
            f'<label><input type="checkbox" name="present" value="{escape(p["person"])}"'
            f'{" checked" if p["attended"] else ""}> {escape(p["name"])}({escape(p["person"])})</label><br>'
            for p in people if p["status"] == "going" or p["attended"])
        survey = t("admin.events.summary", average=found["survey_average"] or "-", count=found["survey_responses"])
        body = (f"<p>{escape(survey)}</p>"
                + "".join(f"<blockquote>{escape(c)}</blockquote>" for c in found["comments"])
                + f'<p>{_link(f"/admin/events/{event_id}.csv", t("admin.events.csv"))}</p>'
                + table(["person", "name", "lab", "answer", "status", "attended", "score", "comment"],
                        [(p["person"], p["name"], p["lab_id"], t(f"event.answer.{p['answer']}"), p["status"],
                          p["attended"], p["score"], p["comment"]) for p in people])
                + f"<h2>{escape(t('admin.events.attendance'))}</h2><p>{escape(t('admin.events.attendance_hint'))}</p>"
                + post_form(request, f"/admin/events/{event_id}/attendance", t("admin.events.save"), ticks)
                + ("" if found["state"] == "cancelled" else
                   post_form(request, f"/admin/events/{event_id}/cancel", t("admin.events.cancel_event"))))
        return page(request, found["title"], body, "events")

    async def event_new_get(request: web.Request) -> web.StreamResponse:
        body = post_form(request, "/admin/events/new", t("admin.events.create"), _event_fields({"audience": "all"}))
        return page(request, t("admin.events.compose_event"), body, "events")

    async def event_new_post(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        names = [name for name, _, _ in EVENT_FIELDS] + ["description"]
        values = {name: str(form.get(name, "")) for name in names}
        try:
            (p,) = plan({"events": [_event_item(values)]})
            made = await work(lambda d: _created(rsvp.create(d, p.event, ACTOR, send_at=p.announce_at)),
                              "event.create")
        except (EventFileError, AudienceError, ValueError) as exc:
            error = t(exc.key, term=exc.term) if isinstance(exc, AudienceError) else \
                t(str(exc)) if str(exc).startswith("event.") else str(exc)
            body = f'<p class="error">{escape(error)}</p>' + post_form(
                request, "/admin/events/new", t("admin.events.create"), _event_fields(values))
            return page(request, t("admin.events.compose_event"), body, "events")
        raise web.HTTPSeeOther(f"/admin/events/{made[0]}")

    async def event_cancel(request: web.Request) -> web.StreamResponse:
        event_id = number(request)
        await work(lambda d: (None, rsvp.cancel(d, event_id) or []), "event.cancel", f"event:{event_id}")
        raise web.HTTPSeeOther(f"/admin/events/{event_id}")

    async def attendance(request: web.Request) -> web.StreamResponse:
        event_id = number(request)
        present = [str(v) for v in (await request.post()).getall("present", [])]
        try:
            await work(lambda d: after.mark_attendance(d, event_id, present) or (0, []), "event.attendance",
                       f"event:{event_id}")
        except KeyError as exc:
            raise web.HTTPBadRequest(text=t("event.attendance.unknown", who=exc.args[0])) from exc
        raise web.HTTPSeeOther(f"/admin/events/{event_id}")

    async def event_csv(request: web.Request) -> web.StreamResponse:
        event_id = number(request)
        rows = await work(lambda d: (after.attendance_rows(d, event_id), []))
        return _csv(rows, after.ATTENDANCE_COLUMNS, f"event-{event_id}.csv")

    return [web.get("/admin/announcements/new", guard(compose_get)),
            web.post("/admin/announcements/new", guard(compose_post)),
            web.get(r"/admin/announcements/{id:\d+}.csv", guard(announcement_csv)),
            web.get(r"/admin/announcements/{id:\d+}", guard(announcement)),
            web.post(r"/admin/announcements/{id:\d+}/{verb}", guard(announcement_post)),
            web.get("/admin/events/new", guard(event_new_get)),
            web.post("/admin/events/new", guard(event_new_post)),
            web.post(r"/admin/events/{id:\d+}/cancel", guard(event_cancel)),
            web.get(r"/admin/events/{id:\d+}.csv", guard(event_csv)),
            web.get(r"/admin/events/{id:\d+}", guard(event)),
            web.post(r"/admin/events/{id:\d+}/attendance", guard(attendance))]

