"""What the KPI use case needs from storage (bot/db/repos/kpi.py implements it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from handlers.kpi.model import Indicator, Reported


class KpiRepo(Protocol):
    def indicators(self, lab: str | None = None, cadence: str | None = None) -> list[Indicator]:
        """Active indicators, by lab then key."""
        ...

    def find(self, lab: str, key_or_name: str) -> Indicator | None:
        """An active indicator of `lab` by its id or its name."""
        ...

    def save(self, indicators: Sequence[Indicator], now: dt.datetime) -> dict[str, int]:
        """Create or update by (lab, key); counts of created, updated and unchanged."""
        ...

    def set_target(self, indicator_id: int, target: float | None, now: dt.datetime) -> None: ...

    def record(self, value: Reported) -> None:
        """Store a value as the current one for its indicator and period (the earlier one stays, not current)."""
        ...

    def current(self, lab: str | None = None, periods: Sequence[str] | None = None) -> dict[tuple[int, str], Reported]:
        """The current value of each (indicator id, period)."""
        ...

    def last_number(self, indicator_id: int, before: str) -> float | None:
        """The latest current numeric value of an earlier period (same cadence names sort in time order)."""
        ...

    def last_numbers(self, indicator_ids: Sequence[int], before: str) -> dict[int, float]:
        """`last_number` for many indicators in one go (those with none left out)."""
        ...

    def history(self, lab: str | None = None) -> list[Reported]:
        """Every value ever reported, corrections included, oldest first."""
        ...
