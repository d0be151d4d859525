"""KPI indicators and reported values on SQLAlchemy (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from bot.db.models import KpiIndicator, KpiValue
from handlers.kpi.model import Indicator, Reported

COLUMNS = ("key", "name", "unit", "type", "target", "direction", "cadence", "due_days", "first_period", "minimum",
           "maximum", "active")


def _indicator(row: KpiIndicator) -> Indicator:
    return Indicator(lab=row.lab_id, id=row.id, **{c: getattr(row, c) for c in COLUMNS})


def _reported(row: KpiValue) -> Reported:
    return Reported(indicator_id=row.indicator_id, lab=row.lab_id, period=row.period, value=row.value,
                    number=row.number, skipped=row.skipped, reason=row.reason, reporter=row.reporter,
                    source=row.source, reported_at=row.reported_at, current=row.current)


class SqlKpi:
    def __init__(self, session: Session):
        self.session = session

    def indicators(self, lab: str | None = None, cadence: str | None = None) -> list[Indicator]:
        query = select(KpiIndicator).where(KpiIndicator.active).order_by(KpiIndicator.lab_id, KpiIndicator.key)
        if lab is not None:
            query = query.where(KpiIndicator.lab_id == lab)
        if cadence is not None:
            query = query.where(KpiIndicator.cadence == cadence)
        return [_indicator(r) for r in self.session.scalars(query)]

    def find(self, lab: str, key_or_name: str) -> Indicator | None:
        rows = self.session.scalars(select(KpiIndicator).where(
            KpiIndicator.lab_id == lab, KpiIndicator.active,
            (KpiIndicator.key == key_or_name) | (KpiIndicator.name == key_or_name)).order_by(KpiIndicator.key))
        found = list(rows)
        return _indicator(found[0]) if found else None

    def save(self, indicators: Sequence[Indicator], now: dt.datetime) -> dict[str, int]:
        existing = {(r.lab_id, r.key): r for r in self.session.scalars(select(KpiIndicator))}
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        new_rows = []
        for ind in indicators:
            values = {c: getattr(ind, c) for c in COLUMNS}
            row = existing.get((ind.lab, ind.key))
            if row is None:
                new_rows.append(values | {"lab_id": ind.lab, "updated_at": now})
                counts["created"] += 1
            elif all(getattr(row, c) == v for c, v in values.items()):
                counts["unchanged"] += 1
            else:
                self.session.execute(update(KpiIndicator).where(KpiIndicator.id == row.id)
                                     .values(values | {"updated_at": now}))
                counts["updated"] += 1
        if new_rows:
            self.session.execute(insert(KpiIndicator), new_rows)
        self.session.flush()
        return counts

    def set_target(self, indicator_id: int, target: float | None, now: dt.datetime) -> None:
        self.session.execute(update(KpiIndicator).where(KpiIndicator.id == indicator_id)
                             .values(target=target, updated_at=now))

    def record(self, value: Reported) -> None:
        self.session.execute(update(KpiValue).where(
            KpiValue.indicator_id == value.indicator_id, KpiValue.period == value.period, KpiValue.current)
            .values(current=False))
        self.session.add(KpiValue(indicator_id=value.indicator_id, lab_id=value.lab, period=value.period,
                                  value=value.value, number=value.number, skipped=value.skipped, reason=value.reason,
                                  reporter=value.reporter, source=value.source, reported_at=value.reported_at,
                                  current=True))
        self.session.flush()

    def current(self, lab: str | None = None, periods: Sequence[str] | None = None) -> dict[tuple[int, str], Reported]:
        query = select(KpiValue).where(KpiValue.current)
        if lab is not None:
            query = query.where(KpiValue.lab_id == lab)
        if periods is not None:
            query = query.where(KpiValue.period.in_(list(periods)))
        return {(r.indicator_id, r.period): _reported(r) for r in self.session.scalars(query)}

    def last_number(self, indicator_id: int, before: str) -> float | None:
        return self.last_numbers([indicator_id], before).get(indicator_id)

    def last_numbers(self, indicator_ids: Sequence[int], before: str) -> dict[int, float]:
        rows = self.session.execute(
            select(KpiValue.indicator_id, KpiValue.period, KpiValue.number)
            .where(KpiValue.indicator_id.in_(list(indicator_ids)), KpiValue.current, KpiValue.period < before,
                   KpiValue.number.is_not(None)).order_by(KpiValue.period))
        return {ind: number for ind, _, number in rows}  # the latest period wins

    def history(self, lab: str | None = None) -> list[Reported]:
        query = select(KpiValue).order_by(KpiValue.reported_at, KpiValue.id)
        if lab is not None:
            query = query.where(KpiValue.lab_id == lab)
        return [_reported(r) for r in self.session.scalars(query)]
