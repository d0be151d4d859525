"""The /admin cases page: every consultation (number, status, topic, region, people as directory ids,
dates) with a status filter and the summary; never a requester's text. Each view is audited."""

from __future__ import annotations

import datetime as dt
from html import escape

from bot.db.uow import SqlUnitOfWork
from bot.web.admin import AdminPage, Query, filters, table
from handlers.audit import AuditEntry
from handlers.consult import report
from handlers.consult.model import Status
from handlers.i18n import t

COLUMNS = ("ref", "status", "topic", "prefecture", "requester", "offered_to", "assignee", "created_at", "due_at",
           "rating")


def _hours(value: object) -> str:
    return "-" if value is None else f"{value}h"


def cases_page(uow: SqlUnitOfWork, q: Query) -> str:
    status = q.get("status") or None
    status = status if status in {s.value for s in Status} else None
    now = dt.datetime.now(dt.UTC)
    everything = uow.consult.all()
    cases = [c for c in everything if status is None or c.status.value == status]
    uow.audit.record(AuditEntry(actor="admin:web", action="consult.list", target=f"cases:{status or 'all'}",
                                outcome="done", at=now))
    uow.commit()
    s = report.summary(everything, now)
    by_status = "、".join(f"{t(f'consult.status.{k}')} {v}" for k, v in s["open_by_status"].items())
    line = t("admin.cases_summary", open=s["open"], by_status=by_status, overdue=s["overdue"],
             claim=_hours(s["median_hours_to_claim"]), close=_hours(s["median_hours_to_close"]))
    rows = []
    for case in cases:
        r = report.row(case)
        rows.append((r["id"], t(f"consult.status.{r['status']}"), r["topic"], r["prefecture"], r["requester"],
                     r["offered_to"], r["assignee"], _local(case.created_at), _local(case.due_at), r["rating"]))
    options = [(s_.value, t(f"consult.status.{s_.value}")) for s_ in Status]
    return f"<p>{escape(line)}</p>" + filters(q, [("status", options)]) + table(list(COLUMNS), rows)


def _local(value: dt.datetime | None) -> str:
    return value.astimezone(dt.timezone(dt.timedelta(hours=9))).strftime("%Y-%m-%d %H:%M") if value else ""


CASES_PAGE = AdminPage("cases", "admin.nav.cases", cases_page)
