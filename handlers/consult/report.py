"""The secretariat's views of all cases: rows (people as directory ids), CSV columns and a summary
(open by status, overdue, median time to claim and to close). Never the text unless asked for."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any

from handlers.consult.model import OPEN, Case, Status

COLUMNS = ("id", "status", "topic", "prefecture", "industry", "org", "door", "requester", "offered_to", "assignee",
           "created_at", "claimed_at", "answered_at", "closed_at", "due_at", "rating")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def row(case: Case, with_text: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": case.ref, "status": case.status.value, "topic": case.topic, "prefecture": case.prefecture,
        "industry": case.industry, "org": case.org, "door": case.door,
        "requester": case.requester_person or case.requester_ref, "offered_to": case.offered_to,
        "assignee": case.assignee, "created_at": _iso(case.created_at), "claimed_at": _iso(case.claimed_at),
        "answered_at": _iso(case.answered_at), "closed_at": _iso(case.closed_at), "due_at": _iso(case.due_at),
        "rating": case.rating}
    if with_text:
        out["text"] = case.text
    return out


def _median_hours(spans: Iterable[dt.timedelta]) -> float | None:
    hours = [s.total_seconds() / 3600 for s in spans]
    return round(statistics.median(hours), 2) if hours else None


def summary(cases: list[Case], now: dt.datetime) -> dict[str, Any]:
    by_status = Counter(c.status.value for c in cases if c.status in OPEN)
    overdue = [c.ref for c in cases if c.status in OPEN and c.due_at is not None and c.due_at < now]
    return {
        "total": len(cases),
        "open": sum(by_status.values()),
        "open_by_status": {s.value: by_status.get(s.value, 0) for s in OPEN},
        "closed": sum(1 for c in cases if c.status == Status.CLOSED),
        "overdue": len(overdue), "overdue_ids": overdue,
        "median_hours_to_claim": _median_hours(c.claimed_at - c.created_at for c in cases if c.claimed_at),
        "median_hours_to_close": _median_hours(c.closed_at - c.created_at for c in cases if c.closed_at),
        "mean_rating": round(statistics.fmean(r), 2) if (r := [c.rating for c in cases if c.rating]) else None,
    }
