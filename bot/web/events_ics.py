"""GET /events/{id}.ics: an event's calendar file, linked from its invitation (public: the link is what a
person adds to Google Calendar or Outlook; it carries what the invitation already showed)."""

from __future__ import annotations

import asyncio
import datetime as dt

from aiohttp import web

from bot.db.uow import UnitsOfWork
from handlers.events.ics import build_ics


def ics_routes(units: UnitsOfWork) -> list[web.RouteDef]:
    async def ics(request: web.Request) -> web.StreamResponse:
        raw = request.match_info["id"]
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            raise web.HTTPNotFound()

        def load() -> bytes | None:
            with units() as uow:
                event = uow.events.event(int(raw))
            return build_ics(event, dt.datetime.now(dt.UTC), str(request.url)) if event else None

        body = await asyncio.to_thread(load)
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="text/calendar", charset="utf-8", headers={
            "Content-Disposition": f'attachment; filename="event-{raw}.ics"', "Cache-Control": "no-cache"})

    return [web.get("/events/{id}.ics", ics)]
