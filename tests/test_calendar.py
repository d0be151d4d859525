"""The Japanese business calendar: holidays, business hours, DM quiet hours and fiscal periods."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from handlers.calendar import CADENCES, JST, YEAR_END_CLOSURE, BusinessCalendar, CalendarSettings

cal = BusinessCalendar()


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST)


# -- holidays and business days ---------------------------------------------------------------------


def test_golden_week_2026() -> None:
    assert cal.holiday_name(date(2026, 4, 29)) == "昭和の日"
    assert cal.holiday_name(date(2026, 5, 3)) == "憲法記念日"
    assert cal.holiday_name(date(2026, 5, 4)) == "みどりの日"
    assert cal.holiday_name(date(2026, 5, 5)) == "こどもの日"
    assert "振替休日" in (cal.holiday_name(date(2026, 5, 6)) or "")  # 5/3 fell on a Sunday
    assert all(cal.is_holiday(date(2026, 5, d)) for d in (3, 4, 5, 6))
    assert [d for d in range(28, 31) if cal.is_business_day(date(2026, 4, d))] == [28, 30]
    business_may = [d for d in range(1, 9) if cal.is_business_day(date(2026, 5, d))]
    assert business_may == [1, 7, 8]


def test_substitute_and_citizens_holidays() -> None:
    assert "振替休日" in (cal.holiday_name(date(2025, 11, 24)) or "")  # 勤労感謝の日 on a Sunday
    assert not cal.is_business_day(date(2025, 11, 24))
    assert cal.holiday_name(date(2026, 9, 22)) == "国民の休日"  # between 敬老の日 and 秋分の日
    assert not cal.is_business_day(date(2026, 9, 22))


def test_ordinary_days() -> None:
    assert cal.is_business_day(date(2026, 6, 5))  # a Friday
    assert not cal.is_holiday(date(2026, 6, 6))
    assert not cal.is_business_day(date(2026, 6, 6))  # a Saturday is closed but no holiday
    assert cal.holiday_name(date(2026, 6, 3)) is None


def test_year_end_closure() -> None:
    assert cal.is_business_day(date(2026, 12, 28))
    for day in [date(2026, 12, d) for d in (29, 30, 31)] + [date(2027, 1, d) for d in (1, 2, 3)]:
        assert cal.is_holiday(day), day
        assert not cal.is_business_day(day), day
    assert cal.holiday_name(date(2026, 12, 30)) == YEAR_END_CLOSURE == "年末年始"
    assert cal.holiday_name(date(2027, 1, 1)) == "元日"  # the national holiday's own name wins
    assert cal.is_business_day(date(2027, 1, 4))
    assert cal.next_business_day(date(2026, 12, 28)) == date(2027, 1, 4)


def test_year_end_closure_can_be_switched_off() -> None:
    open_calendar = BusinessCalendar(CalendarSettings(year_end_closure=False))
    assert open_calendar.is_business_day(date(2026, 12, 29))
    assert not open_calendar.is_business_day(date(2027, 1, 1))  # 元日 is still a national holiday


def test_next_business_day() -> None:
    assert cal.next_business_day(date(2026, 6, 5)) == date(2026, 6, 8)  # Friday → Monday
    assert cal.next_business_day(date(2026, 7, 17)) == date(2026, 7, 21)  # Monday 7/20 is 海の日
    assert cal.next_business_day(date(2026, 6, 5), include_today=True) == date(2026, 6, 5)
    assert cal.next_business_day(date(2026, 5, 2), include_today=True) == date(2026, 5, 7)


def test_add_business_days() -> None:
    assert cal.add_business_days(date(2026, 4, 28), 3) == date(2026, 5, 7)  # 4/30, 5/1, 5/7
    assert cal.add_business_days(date(2026, 5, 7), -3) == date(2026, 4, 28)
    assert cal.add_business_days(date(2026, 7, 21), -1) == date(2026, 7, 17)
    assert cal.add_business_days(date(2026, 6, 6), 1) == date(2026, 6, 8)  # Saturday + 1 → Monday
    assert cal.add_business_days(date(2026, 6, 3), 0) == date(2026, 6, 3)
    assert cal.add_business_days(date(2026, 6, 6), 0) == date(2026, 6, 8)  # 0 rolls forward to a business day


def test_aware_datetime_counts_as_its_jst_day() -> None:
    friday_utc_evening = datetime(2026, 6, 5, 16, 0, tzinfo=UTC)  # Saturday 01:00 in Tokyo
    assert not cal.is_business_day(friday_utc_evening)
    assert cal.period_of(datetime(2030, 3, 31, 15, 30, tzinfo=UTC), "fiscal_year") == "FY2030"


# -- business hours ---------------------------------------------------------------------------------


def test_add_business_hours_across_a_weekend() -> None:
    assert cal.add_business_hours(jst(2026, 6, 5, 17), 4) == jst(2026, 6, 8, 12)


def test_add_business_hours_across_a_holiday() -> None:
    assert cal.add_business_hours(jst(2026, 7, 17, 17), 4) == jst(2026, 7, 21, 12)  # 7/20 海の日
    assert cal.add_business_hours(jst(2026, 4, 28, 17), 10) == jst(2026, 4, 30, 18)  # skips 4/29
    assert cal.add_business_hours(jst(2026, 12, 28, 12), 8) == jst(2027, 1, 4, 11)  # skips the closure


def test_add_business_hours_edges() -> None:
    assert cal.add_business_hours(jst(2026, 6, 3, 10), 1.5) == jst(2026, 6, 3, 11, 30)
    assert cal.add_business_hours(jst(2026, 6, 3, 17), 1) == jst(2026, 6, 3, 18)  # ends exactly at closing
    assert cal.add_business_hours(jst(2026, 6, 3, 7), 0) == jst(2026, 6, 3, 9)  # before opening
    assert cal.add_business_hours(jst(2026, 6, 3, 19), 2) == jst(2026, 6, 4, 11)  # after closing
    assert cal.add_business_hours(jst(2026, 6, 6, 10), 1) == jst(2026, 6, 8, 10)  # on a Saturday
    with pytest.raises(ValueError):
        cal.add_business_hours(jst(2026, 6, 3, 10), -1)
    with pytest.raises(ValueError):
        cal.add_business_hours(jst(2026, 6, 3, 10), float("nan"))


def test_business_hours_between() -> None:
    assert cal.business_hours_between(jst(2026, 6, 5, 17), jst(2026, 6, 8, 12)) == 4.0
    assert cal.business_hours_between(jst(2026, 6, 8, 12), jst(2026, 6, 5, 17)) == -4.0
    assert cal.business_hours_between(jst(2026, 6, 1, 9), jst(2026, 6, 8, 9)) == 45.0  # one full week
    assert cal.business_hours_between(jst(2026, 4, 28, 9), jst(2026, 5, 8, 9)) == 36.0  # 4/28, 4/30, 5/1, 5/7
    assert cal.business_hours_between(jst(2026, 6, 3, 19), jst(2026, 6, 3, 23)) == 0.0
    assert cal.business_hours_between(jst(2026, 6, 3, 10), jst(2026, 6, 3, 10, 30)) == 0.5


def test_business_hours_round_trip() -> None:
    for start in (jst(2026, 4, 28, 16, 15), jst(2026, 12, 25, 10), jst(2026, 7, 17, 20)):
        for hours in (0.25, 3, 9, 27.5, 100):
            end = cal.add_business_hours(start, hours)
            assert cal.business_hours_between(start, end) == pytest.approx(hours)


def test_custom_business_hours() -> None:
    short = BusinessCalendar(CalendarSettings(business_start=time(9), business_end=time(17, 45)))
    assert short.add_business_hours(jst(2026, 6, 5, 17), 1) == jst(2026, 6, 8, 9, 15)
    assert short.is_business_time(jst(2026, 6, 5, 17, 44))
    assert not short.is_business_time(jst(2026, 6, 5, 17, 45))


# -- quiet hours ------------------------------------------------------------------------------------


def test_quiet_hours_on_a_weekday() -> None:
    assert cal.is_quiet(jst(2026, 6, 3, 21))
    assert cal.is_quiet(jst(2026, 6, 3, 7, 59))
    assert cal.is_quiet(jst(2026, 6, 3, 20))
    assert cal.is_quiet(jst(2026, 6, 3, 0, 30))
    assert not cal.is_quiet(jst(2026, 6, 3, 8))
    assert not cal.is_quiet(jst(2026, 6, 3, 19, 59))


def test_weekends_and_holidays_are_quiet() -> None:
    assert cal.is_quiet(jst(2026, 6, 6, 12))  # Saturday
    assert cal.is_quiet(jst(2026, 5, 6, 12))  # 振替休日
    assert cal.is_quiet(jst(2026, 12, 30, 12))  # year-end closure
    relaxed = BusinessCalendar(CalendarSettings(quiet_on_closed_days=False))
    assert not relaxed.is_quiet(jst(2026, 6, 6, 12))
    assert relaxed.is_quiet(jst(2026, 6, 6, 22))


def test_friday_evening_moves_to_monday_morning() -> None:
    assert cal.next_allowed(jst(2026, 6, 5, 21)) == jst(2026, 6, 8, 8)


def test_friday_evening_before_a_holiday_monday_moves_to_tuesday() -> None:
    assert cal.next_allowed(jst(2026, 7, 17, 21)) == jst(2026, 7, 21, 8)


def test_next_allowed_on_weekdays() -> None:
    assert cal.next_allowed(jst(2026, 6, 3, 12)) == jst(2026, 6, 3, 12)  # already allowed
    assert cal.next_allowed(jst(2026, 6, 3, 23)) == jst(2026, 6, 4, 8)
    assert cal.next_allowed(jst(2026, 6, 3, 3)) == jst(2026, 6, 3, 8)
    assert cal.next_allowed(jst(2026, 4, 28, 20)) == jst(2026, 4, 30, 8)  # 4/29 is 昭和の日
    assert cal.next_allowed(jst(2026, 12, 28, 20)) == jst(2027, 1, 4, 8)


def test_non_jst_input_is_converted() -> None:
    friday_9pm_in_tokyo = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)
    assert cal.is_quiet(friday_9pm_in_tokyo)
    allowed = cal.next_allowed(friday_9pm_in_tokyo)
    assert allowed == jst(2026, 6, 8, 8)
    assert allowed.tzinfo is JST
    later = cal.add_business_hours(datetime(2026, 6, 5, 8, 0, tzinfo=UTC), 4)  # 17:00 JST
    assert later == jst(2026, 6, 8, 12) and later.tzinfo is JST
    new_york = timezone(timedelta(hours=-4))
    assert cal.is_quiet(datetime(2026, 6, 3, 8, 0, tzinfo=new_york))  # 21:00 in Tokyo
    assert cal.business_hours_between(datetime(2026, 6, 3, 0, 0, tzinfo=UTC), jst(2026, 6, 3, 10)) == 1.0


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2026, 6, 5, 21, 0)
    for call in (
        lambda: cal.is_quiet(naive),
        lambda: cal.next_allowed(naive),
        lambda: cal.add_business_hours(naive, 1),
        lambda: cal.business_hours_between(naive, jst(2026, 6, 8)),
        lambda: cal.business_hours_between(jst(2026, 6, 1), naive),
        lambda: cal.is_business_day(naive),
        lambda: cal.is_business_time(naive),
    ):
        with pytest.raises(ValueError, match="naive"):
            call()


# -- fiscal periods ---------------------------------------------------------------------------------


def test_fiscal_year_boundaries() -> None:
    assert cal.fiscal_year(date(2030, 3, 31)) == 2029
    assert cal.fiscal_year(date(2030, 4, 1)) == 2030
    assert cal.fiscal_quarter(date(2030, 3, 31)) == 4
    assert cal.fiscal_quarter(date(2030, 4, 1)) == 1
    assert [cal.fiscal_quarter(date(2030, m, 1)) for m in range(1, 13)] == [4, 4, 4, 1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_period_names() -> None:
    day = date(2030, 7, 15)
    names = {cadence: cal.period_of(day, cadence) for cadence in CADENCES}
    assert names == {"monthly": "2030-07", "quarterly": "FY2030-Q2", "half": "FY2030-H1", "fiscal_year": "FY2030"}
    assert cal.period_of(date(2031, 2, 10), "quarterly") == "FY2030-Q4"
    assert cal.period_of(date(2031, 2, 10), "half") == "FY2030-H2"
    assert cal.period_of(date(2030, 4, 1), "quarterly") == "FY2030-Q1"
    with pytest.raises(ValueError, match="cadence"):
        cal.period_of(day, "weekly")  # type: ignore[arg-type]


def test_period_bounds() -> None:
    assert cal.period_bounds("2030-07") == (date(2030, 7, 1), date(2030, 7, 31))
    assert cal.period_bounds("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    assert cal.period_bounds("FY2030-Q1") == (date(2030, 4, 1), date(2030, 6, 30))
    assert cal.period_bounds("FY2030-Q4") == (date(2031, 1, 1), date(2031, 3, 31))
    assert cal.period_bounds("FY2030-H1") == (date(2030, 4, 1), date(2030, 9, 30))
    assert cal.period_bounds("FY2030-H2") == (date(2030, 10, 1), date(2031, 3, 31))
    assert cal.period_bounds("FY2030") == (date(2030, 4, 1), date(2031, 3, 31))


def test_next_period() -> None:
    assert cal.next_period("2030-12") == "2031-01"
    assert cal.next_period("FY2030-Q3") == "FY2030-Q4"
    assert cal.next_period("FY2030-Q4") == "FY2031-Q1"
    assert cal.next_period("FY2030-H2") == "FY2031-H1"
    assert cal.next_period("FY2030") == "FY2031"


@pytest.mark.parametrize("cadence", CADENCES)
def test_period_round_trips(cadence: str) -> None:
    name = cal.period_of(date(2029, 11, 5), cadence)  # type: ignore[arg-type]
    for _ in range(30):
        first, last = cal.period_bounds(name)
        assert first <= last
        assert cal.period_of(first, cadence) == name == cal.period_of(last, cadence)  # type: ignore[arg-type]
        following = cal.next_period(name)
        assert cal.period_bounds(following)[0] == last + timedelta(days=1)
        name = following


@pytest.mark.parametrize(
    "bad",
    ["", "2030-13", "2030-00", "2030-7", "FY2030-Q5", "FY2030-Q0", "FY2030-H3", "fy2030", "FY30", "2030", " FY2030"],
)
def test_bad_period_names(bad: str) -> None:
    with pytest.raises(ValueError, match="period name"):
        cal.period_bounds(bad)
    with pytest.raises(ValueError, match="period name"):
        cal.next_period(bad)


def test_due_date() -> None:
    assert cal.due_date("2026-06", 10) == date(2026, 7, 10)  # a Friday: stays
    assert cal.due_date("2026-04", 6) == date(2026, 5, 7)  # 5/6 is 振替休日
    assert cal.due_date("2026-06", 20) == date(2026, 7, 21)  # 7/20 is 海の日
    assert cal.due_date("FY2025-Q3", 0) == date(2026, 1, 5)  # 12/31 in the closure, then a weekend
    assert cal.due_date("FY2029", 14) == date(2030, 4, 15)  # 4/14 is a Sunday
    with pytest.raises(ValueError):
        cal.due_date("FY2029", -1)


def test_other_fiscal_start_month() -> None:
    calendar_year = BusinessCalendar(CalendarSettings(fiscal_year_start_month=1))
    assert calendar_year.period_of(date(2030, 3, 31), "quarterly") == "FY2030-Q1"
    assert calendar_year.period_bounds("FY2030") == (date(2030, 1, 1), date(2030, 12, 31))


def test_settings_are_frozen_and_validated() -> None:
    settings = CalendarSettings()
    assert (settings.business_start, settings.business_end) == (time(9), time(18))
    assert (settings.quiet_start, settings.quiet_end) == (time(20), time(8))
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.business_start = time(10)  # type: ignore[misc]
    with pytest.raises(ValueError):
        CalendarSettings(business_start=time(18), business_end=time(9))
    with pytest.raises(ValueError):
        CalendarSettings(fiscal_year_start_month=13)
