"""Where each lab stands, as of an instant: per indicator and period, not_due / open / late / reported /
skipped. The matrix on /admin, `dxlab kpi status` and the chase all read it from here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from datetime import timedelta

from handlers.calendar import CADENCES, JST, BusinessCalendar, Cadence, to_jst
from handlers.kpi.model import Indicator, Reported, State, StatusRow
from handlers.kpi.ports import KpiRepo


def cadence_of(cal: BusinessCalendar, period: str) -> Cadence:
    """The cadence a period name belongs to (ValueError for a bad name)."""
    first, _ = cal.period_bounds(period)
    for cadence in CADENCES:
        if cal.period_of(first, cadence) == period:
            return cadence
    raise ValueError(f"bad period name {period!r}")


def latest_closed(cal: BusinessCalendar, cadence: str, now: dt.datetime) -> str:
    """The last period of `cadence` that has ended by `now` (the one reports are being collected for)."""
    first, _ = cal.period_bounds(cal.period_of(now, cadence))  # type: ignore[arg-type]
    return cal.period_of(first - timedelta(days=1), cadence)  # type: ignore[arg-type]


def closes_at(cal: BusinessCalendar, period: str) -> dt.datetime:
    """The instant a period closes: midnight (JST) after its last day."""
    return dt.datetime.combine(cal.period_bounds(period)[1] + timedelta(days=1), dt.time(0), JST)


def due_day(cal: BusinessCalendar, indicators: Sequence[Indicator], period: str) -> dt.date:
    """The earliest due day among `indicators` for `period` (the day the chase works towards)."""
    return min(cal.due_date(period, ind.due_days) for ind in indicators)


def state_of(cal: BusinessCalendar, ind: Indicator, period: str, reported: Reported | None,
             now: dt.datetime) -> State:
    if reported is not None:
        return State.SKIPPED if reported.skipped else State.REPORTED
    today = to_jst(now).date()
    if today <= cal.period_bounds(period)[1]:
        return State.NOT_DUE
    return State.OPEN if today <= cal.due_date(period, ind.due_days) else State.LATE


def period_for(cal: BusinessCalendar, ind: Indicator, now: dt.datetime, period: str | None = None) -> str | None:
    """The period shown for `ind`: `period` when it is of the indicator's cadence and collected, else
    (no period given) the latest closed one, or the first collected one while that has not closed."""
    if period is not None:
        if cadence_of(cal, period) != ind.cadence or period < ind.first_period:
            return None
        return period
    return max(latest_closed(cal, ind.cadence, now), ind.first_period)


def pending(kpi: KpiRepo, indicators: Sequence[Indicator], lab: str, period: str) -> list[Indicator]:
    """The indicators of `lab` collected for `period` with no current value yet."""
    current = kpi.current(lab=lab, periods=[period])
    return [i for i in indicators if i.lab == lab and period >= i.first_period and (i.id, period) not in current]


def status_rows(kpi: KpiRepo, cal: BusinessCalendar, now: dt.datetime, period: str | None = None,
                lab: str | None = None) -> list[StatusRow]:
    if period is not None:
        cadence_of(cal, period)  # a bad name raises here, once
    chosen = [(ind, p) for ind in kpi.indicators(lab=lab) if (p := period_for(cal, ind, now, period)) is not None]
    current = kpi.current(lab=lab, periods=sorted({p for _, p in chosen}))
    rows = []
    for ind, p in chosen:
        reported = current.get((ind.id, p))
        rows.append(StatusRow(ind.lab, ind.key, ind.name, p, state_of(cal, ind, p, reported, now),
                              reported.value if reported and not reported.skipped else None))
    return rows
