"""The Japanese business calendar: holidays, business hours, quiet hours for DMs and fiscal periods.

Everything is in Asia/Tokyo. Datetimes must be timezone-aware (any zone in, JST out); naive ones raise
ValueError. Holidays come from the maintained `jpholiday` package (national holidays, 振替休日, 国民の休日);
the government year-end closure (12/29–1/3) and weekends are non-business days too.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import jpholiday

JST = ZoneInfo("Asia/Tokyo")
YEAR_END_CLOSURE = "年末年始"

Cadence = Literal["monthly", "quarterly", "half", "fiscal_year"]
CADENCES: tuple[Cadence, ...] = get_args(Cadence)

_PERIOD = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})|FY(?P<fy>\d{4})(?:-(?P<kind>[QH])(?P<index>\d))?")
_KINDS: dict[str | None, tuple[int, Cadence]] = {"Q": (3, "quarterly"), "H": (6, "half"), None: (12, "fiscal_year")}
_PERIOD_FORMS = "YYYY-MM, FYyyyy, FYyyyy-Q1..Q4 or FYyyyy-H1..H2 (e.g. 2030-07, FY2030, FY2030-Q1, FY2030-H2)"


@lru_cache(maxsize=8192)
def _national_holiday(day: date) -> str | None:
    return jpholiday.is_holiday_name(day)


def to_jst(dt: datetime) -> datetime:
    """`dt` converted to JST; naive datetimes raise ValueError."""
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()} has no timezone; pass an aware datetime")
    return dt.astimezone(JST)


def _day(value: date) -> date:
    """A plain date; an aware datetime counts as its JST calendar day."""
    if isinstance(value, datetime):
        return to_jst(value).date()
    if not isinstance(value, date):
        raise TypeError(f"expected a date, got {type(value).__name__}")
    return value


def _in_window(t: time, start: time, end: time) -> bool:
    """Whether `t` lies in [start, end), a window that may wrap past midnight (start == end: empty)."""
    if start < end:
        return start <= t < end
    if start > end:
        return t >= start or t < end
    return False


def _first_of_month(year: int, month_index: int) -> date:
    """The first day of month `month_index` (0-based, may exceed 11) counted from January of `year`."""
    return date(year + month_index // 12, month_index % 12 + 1, 1)


@dataclass(frozen=True)
class CalendarSettings:
    """Business hours, DM quiet hours and the fiscal-year start; all times are JST wall-clock times."""

    business_start: time = time(9, 0)
    business_end: time = time(18, 0)
    quiet_start: time = time(20, 0)  # may wrap past midnight; equal start and end mean no quiet time of day
    quiet_end: time = time(8, 0)
    quiet_on_closed_days: bool = True  # weekends, holidays and the closure are quiet all day
    year_end_closure: bool = True  # 12/29–1/3 are non-business days
    fiscal_year_start_month: int = 4

    def __post_init__(self) -> None:
        if not self.business_start < self.business_end:
            raise ValueError("business_start must be before business_end (overnight hours are not supported)")
        if not 1 <= self.fiscal_year_start_month <= 12:
            raise ValueError("fiscal_year_start_month must be 1..12")


class BusinessCalendar:
    """Business days and hours, DM quiet hours and fiscal periods in Asia/Tokyo."""

    def __init__(self, settings: CalendarSettings | None = None) -> None:
        self.settings = settings or CalendarSettings()

    # -- days -------------------------------------------------------------------------------------------

    def in_year_end_closure(self, day: date) -> bool:
        """Whether `day` falls in the government year-end closure (12/29–1/3), if enabled."""
        day = _day(day)
        return self.settings.year_end_closure and ((day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3))

    def holiday_name(self, day: date) -> str | None:
        """The Japanese name of a national holiday, 年末年始 for the closure, else None."""
        day = _day(day)
        return _national_holiday(day) or (YEAR_END_CLOSURE if self.in_year_end_closure(day) else None)

    def is_holiday(self, day: date) -> bool:
        """A national holiday (incl. 振替休日 and 国民の休日) or the year-end closure."""
        return self.holiday_name(day) is not None

    def is_business_day(self, day: date) -> bool:
        """A weekday that is neither a holiday nor in the year-end closure."""
        day = _day(day)
        return day.weekday() < 5 and not self.is_holiday(day)

    def next_business_day(self, day: date, include_today: bool = False) -> date:
        """The first business day after `day` (or `day` itself when include_today and it is one)."""
        day = _day(day)
        if not include_today:
            day += timedelta(days=1)
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def previous_business_day(self, day: date, include_today: bool = False) -> date:
        """The last business day before `day` (or `day` itself when include_today and it is one)."""
        day = _day(day)
        if not include_today:
            day -= timedelta(days=1)
        while not self.is_business_day(day):
            day -= timedelta(days=1)
        return day

    def add_business_days(self, day: date, n: int) -> date:
        """`n` business days after (n < 0: before) `day`, not counting `day`; n == 0 rolls forward to one."""
        day = _day(day)
        if n == 0:
            return self.next_business_day(day, include_today=True)
        step = self.next_business_day if n > 0 else self.previous_business_day
        for _ in range(abs(n)):
            day = step(day)
        return day

    # -- business hours ---------------------------------------------------------------------------------

    def _hours_of(self, day: date) -> tuple[datetime, datetime]:
        s = self.settings
        return datetime.combine(day, s.business_start, JST), datetime.combine(day, s.business_end, JST)

    def is_business_time(self, dt: datetime) -> bool:
        """Whether `dt` is inside business hours [start, end) on a business day."""
        dt = to_jst(dt)
        opens, closes = self._hours_of(dt.date())
        return self.is_business_day(dt.date()) and opens <= dt < closes

    def add_business_hours(self, dt: datetime, hours: float) -> datetime:
        """The moment `hours` of business time after `dt`; a start outside hours begins at the next opening."""
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"hours must be a finite number >= 0, got {hours!r}")
        current, remaining = to_jst(dt), timedelta(hours=hours)
        while True:
            day = current.date()
            if self.is_business_day(day):
                opens, closes = self._hours_of(day)
                current = max(current, opens)
                if current < closes:
                    if remaining <= closes - current:
                        return current + remaining
                    remaining -= closes - current
            current = self._hours_of(self.next_business_day(day))[0]

    def business_hours_between(self, start: datetime, end: datetime) -> float:
        """Hours of business time in [start, end); negative when end is before start."""
        start, end = to_jst(start), to_jst(end)
        if end < start:
            return -self.business_hours_between(end, start)
        total, day = timedelta(), start.date()
        while day <= end.date():
            if self.is_business_day(day):
                opens, closes = self._hours_of(day)
                total += max(timedelta(), min(end, closes) - max(start, opens))
            day += timedelta(days=1)
        return total.total_seconds() / 3600

    # -- quiet hours for DMs ----------------------------------------------------------------------------

    def is_quiet(self, dt: datetime) -> bool:
        """Whether a DM must not be sent at `dt` (quiet time of day, or a weekend/holiday/closure)."""
        dt, s = to_jst(dt), self.settings
        if s.quiet_on_closed_days and not self.is_business_day(dt.date()):
            return True
        return _in_window(dt.time(), s.quiet_start, s.quiet_end)

    def next_allowed(self, dt: datetime) -> datetime:
        """The earliest moment >= `dt` at which a DM may be sent."""
        current, s = to_jst(dt), self.settings
        while self.is_quiet(current):
            day = current.date()
            if s.quiet_on_closed_days and not self.is_business_day(day):
                current = datetime.combine(self.next_business_day(day), time(0), JST)
            elif s.quiet_start > s.quiet_end and current.time() >= s.quiet_start:  # evening part of a wrap
                current = datetime.combine(day + timedelta(days=1), s.quiet_end, JST)
            else:
                current = datetime.combine(day, s.quiet_end, JST)
        return current

    # -- fiscal periods ---------------------------------------------------------------------------------

    def _fiscal_month(self, day: date) -> int:
        """0-based month within the fiscal year."""
        return (day.month - self.settings.fiscal_year_start_month) % 12

    def fiscal_year(self, day: date) -> int:
        """The fiscal year, named by the calendar year it starts in (April start: 2030-03-31 → 2029)."""
        day = _day(day)
        return day.year if day.month >= self.settings.fiscal_year_start_month else day.year - 1

    def fiscal_quarter(self, day: date) -> int:
        """1–4; with an April start, April–June is 1."""
        return self._fiscal_month(_day(day)) // 3 + 1

    def period_of(self, day: date, cadence: Cadence) -> str:
        """The name of the period containing `day`: 2030-07, FY2030-Q1, FY2030-H1 or FY2030."""
        day = _day(day)
        fy = self.fiscal_year(day)
        if cadence == "monthly":
            return f"{day.year:04d}-{day.month:02d}"
        if cadence == "quarterly":
            return f"FY{fy:04d}-Q{self._fiscal_month(day) // 3 + 1}"
        if cadence == "half":
            return f"FY{fy:04d}-H{self._fiscal_month(day) // 6 + 1}"
        if cadence == "fiscal_year":
            return f"FY{fy:04d}"
        raise ValueError(f"unknown cadence {cadence!r}; expected one of {', '.join(CADENCES)}")

    def _parse_period(self, name: str) -> tuple[Cadence, date, date]:
        match = _PERIOD.fullmatch(name) if isinstance(name, str) else None
        if match is None:
            raise ValueError(f"bad period name {name!r}; expected {_PERIOD_FORMS}")
        cadence: Cadence
        if match["year"]:
            year, first, months, cadence = int(match["year"]), int(match["month"]) - 1, 1, "monthly"
            if not 0 <= first <= 11:
                raise ValueError(f"bad period name {name!r}: month must be 01..12")
        else:
            kind, index = match["kind"], int(match["index"] or 1)
            months, cadence = _KINDS[kind]
            if not 1 <= index <= 12 // months:
                raise ValueError(f"bad period name {name!r}: {kind}{index} does not exist; expected {_PERIOD_FORMS}")
            year, first = int(match["fy"]), self.settings.fiscal_year_start_month - 1 + (index - 1) * months
        try:
            return cadence, _first_of_month(year, first), _first_of_month(year, first + months) - timedelta(days=1)
        except (ValueError, OverflowError):
            raise ValueError(f"bad period name {name!r}: year out of range") from None

    def period_bounds(self, name: str) -> tuple[date, date]:
        """The first and last day (inclusive) of a named period; ValueError for a bad name."""
        _, first, last = self._parse_period(name)
        return first, last

    def next_period(self, name: str) -> str:
        """The period right after `name`, with the same cadence."""
        cadence, _, last = self._parse_period(name)
        return self.period_of(last + timedelta(days=1), cadence)

    def due_date(self, period_name: str, due_days: int) -> date:
        """`due_days` calendar days after the period's last day, moved forward to a business day."""
        if due_days < 0:
            raise ValueError(f"due_days must be >= 0, got {due_days}")
        last = self.period_bounds(period_name)[1]
        return self.next_business_day(last + timedelta(days=due_days), include_today=True)
