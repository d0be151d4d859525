"""The secretariat's KPI page under /admin: the matrix labs × indicators for a period (reported / late /
not yet due / skipped, with values), and the charts as PNG behind the same login:

    /admin/kpi                          the matrix (?period=FY2030-Q1&indicator=members&lab=shiojiri&at=ISO)
    /admin/kpi/chart.png                value vs target by lab (?indicator=members&period=…)
    /admin/kpi/trend.png                one lab's trend (?lab=shiojiri&indicator=members)
    /admin/kpi/overdue.png              the weekly digest's chart: overdue indicators per lab

Wiring (bot/server.py): admin_routes(units, settings, pages=[KPI_PAGE], assets=KPI_ASSETS).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from html import escape
from urllib.parse import urlencode

from bot.db.uow import SqlUnitOfWork
from bot.web.admin import AdminAsset, AdminPage, Query
from handlers.calendar import BusinessCalendar
from handlers.i18n import t
from handlers.kpi.charts import chart_png, trend_figure, value_target_figure
from handlers.kpi.cycle import overdue_png
from handlers.kpi.model import State, StatusRow
from handlers.kpi.status import status_rows

CALENDAR = BusinessCalendar()
MARK = {State.REPORTED: "✓", State.SKIPPED: "—", State.LATE: "✗", State.OPEN: "…", State.NOT_DUE: ""}


def _now(q: Query) -> dt.datetime:
    """`?at=ISO` looks at the matrix as of another instant (no zone: Japan time); else now."""
    text = q.get("at", "")
    try:
        value = dt.datetime.fromisoformat(text) if text else dt.datetime.now(dt.UTC)
    except ValueError:
        value = dt.datetime.now(dt.UTC)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone(dt.timedelta(hours=9)))


def _rows(uow: SqlUnitOfWork, q: Query) -> tuple[list[StatusRow], str]:
    period = q.get("period") or None
    try:
        return status_rows(uow.kpi, CALENDAR, _now(q), period=period, lab=q.get("lab") or None), ""
    except ValueError as exc:
        return [], str(exc)


def _filters(q: Query, keys: list[str]) -> str:
    options = "".join(f'<option value="{escape(k)}"{" selected" if k == q.get("indicator") else ""}>{escape(k)}'
                      f"</option>" for k in keys)
    return (f'<form class="filter" method="get"><label>{escape(t("kpi.admin.period"))} '
            f'<input name="period" value="{escape(q.get("period", ""))}" placeholder="FY2030-Q1"></label>'
            f'<label>{escape(t("kpi.admin.lab"))} <input name="lab" value="{escape(q.get("lab", ""))}"></label>'
            f'<label>{escape(t("kpi.admin.indicator"))} <select name="indicator"><option value=""></option>'
            f'{options}</select></label><button type="submit">{escape(t("kpi.admin.submit"))}</button></form>')


def kpi_page(uow: SqlUnitOfWork, q: Query) -> str:
    rows, error = _rows(uow, q)
    keys = sorted({r.indicator for r in rows})
    head = _filters(q, keys)
    if error:
        return head + f'<p class="error">{escape(error)}</p>'
    if not rows:
        return head + f"<p>{escape(t('kpi.admin.empty'))}</p>"
    counts = {s: sum(1 for r in rows if r.state == s) for s in State}
    cells: dict[str, dict[str, StatusRow]] = defaultdict(dict)
    for r in rows:
        cells[r.lab][r.indicator] = r
    names = {r.indicator: r.name for r in rows}
    th = "".join(f"<th>{escape(names[k])}<br>({escape(k)})</th>" for k in keys)
    body = ""
    for lab in sorted(cells):
        tds = ""
        for k in keys:
            r = cells[lab].get(k)
            text = "" if r is None else (f"{MARK[r.state]} {t(f'kpi.state.{r.state}')} {r.value or ''} "
                                         f"({r.period})").strip()
            tds += f"<td>{escape(text)}</td>"
        body += f"<tr><td>{escape(lab)}</td>{tds}</tr>"
    table = (f"<p>{escape(t('kpi.admin.counts', **{s.value: n for s, n in counts.items()}))}</p>"
             f"<p>{escape(t('kpi.admin.legend'))}</p><table><thead><tr><th>{escape(t('kpi.admin.lab'))}</th>{th}"
             f"</tr></thead><tbody>{body}</tbody></table>")
    charts = f'<p><img src="/admin/kpi/overdue.png" alt="{escape(t("kpi.chart.overdue"))}"></p>'
    for key in [q["indicator"]] if q.get("indicator") in keys else keys:
        query = urlencode({"indicator": key, "period": q.get("period", ""), "at": q.get("at", "")})
        alt = t("kpi.admin.chart_alt", name=names[key])
        charts += f'<p><img src="/admin/kpi/chart.png?{escape(query)}" alt="{escape(alt)}"></p>'
        if q.get("lab"):
            query = urlencode({"indicator": key, "lab": q["lab"]})
            alt = t("kpi.admin.trend_alt", lab=q["lab"], name=names[key])
            charts += f'<p><img src="/admin/kpi/trend.png?{escape(query)}" alt="{escape(alt)}"></p>'
    return head + table + charts


def value_chart(uow: SqlUnitOfWork, q: Query) -> bytes:
    rows, _ = _rows(uow, q)
    key = q.get("indicator", "")
    chosen = [r for r in rows if r.indicator == key]
    by_lab = {(i.lab, i.key): i for i in uow.kpi.indicators()}
    labels = [r.lab for r in chosen]
    values = [float(r.value) if r.value and r.state == State.REPORTED and by_lab[(r.lab, key)].numeric else None
              for r in chosen]
    targets = [by_lab[(r.lab, key)].target for r in chosen]
    unit = by_lab[(chosen[0].lab, key)].unit if chosen else ""
    title = f"{chosen[0].name} {chosen[0].period}" if chosen else key
    return chart_png(value_target_figure(title, labels, values, targets, unit))


def trend_chart(uow: SqlUnitOfWork, q: Query) -> bytes:
    ind = uow.kpi.find(q.get("lab", ""), q.get("indicator", ""))
    if ind is None:
        return chart_png(trend_figure(q.get("indicator", ""), [], [], None))
    current = sorted((p, r.number) for (i, p), r in uow.kpi.current(lab=ind.lab).items() if i == ind.id)
    return chart_png(trend_figure(f"{ind.lab} {ind.name}", [p for p, _ in current], [n for _, n in current],
                                  ind.target, ind.unit))


def digest_chart(uow: SqlUnitOfWork, q: Query) -> bytes:
    return overdue_png(uow, CALENDAR, _now(q))


KPI_PAGE = AdminPage("kpi", "kpi.admin.nav", kpi_page)
KPI_ASSETS = (AdminAsset("kpi/chart.png", value_chart), AdminAsset("kpi/trend.png", trend_chart),
              AdminAsset("kpi/overdue.png", digest_chart))
