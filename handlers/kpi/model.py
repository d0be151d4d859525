"""KPI check-ins as plain values: a lab's indicators, the values reported for a period, and a row's state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

TYPES = ("integer", "decimal", "percent", "yen", "text")
DIRECTIONS = ("higher", "lower")
NUMERIC = frozenset({"integer", "decimal", "percent", "yen"})


class State(StrEnum):
    NOT_DUE = "not_due"  # the period has not closed yet
    OPEN = "open"  # closed, the due day not yet past
    LATE = "late"  # the due day has passed without a value
    REPORTED = "reported"
    SKIPPED = "skipped"  # 「今期は報告なし」, with a reason


@dataclass(frozen=True)
class Indicator:
    lab: str
    key: str  # the id the import file gives (`members`); unique within its lab
    name: str
    unit: str = ""
    type: str = "integer"
    target: float | None = None
    direction: str = "higher"
    cadence: str = "quarterly"
    due_days: int = 15
    first_period: str = ""
    minimum: float | None = None
    maximum: float | None = None
    active: bool = True
    id: int = 0  # the database row; 0 before it is stored

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC


@dataclass(frozen=True)
class Reported:
    """One value (or skip) as reported; `current` is False once a correction replaced it."""

    indicator_id: int
    lab: str
    period: str
    value: str | None
    number: float | None
    skipped: bool
    reason: str | None
    reporter: str
    source: str  # form | chat | cli
    reported_at: dt.datetime
    current: bool = True


@dataclass(frozen=True)
class StatusRow:
    lab: str
    indicator: str  # the indicator's key
    name: str
    period: str
    state: State
    value: str | None

    def as_dict(self) -> dict[str, object]:
        return {"lab": self.lab, "indicator": self.indicator, "name": self.name, "period": self.period,
                "state": self.state.value, "value": self.value}
