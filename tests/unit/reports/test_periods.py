"""Report periods on the patient's calendar: ISO weeks, months, daylight saving, due periods."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from hub.core.periods import complete_periods, parse_period, period_containing
from hub.core.summaries import PARIS

HOUR_MS = 3_600_000


@pytest.mark.parametrize("label", ["2026-W47", "2026-W01", "2020-W53", "2026-11", "2027-02"])
def test_a_label_names_its_period_and_back(label: str) -> None:
    assert parse_period(label).label == label


@pytest.mark.parametrize("label", ["2026-W54", "2026-13", "2026-W7", "26-11", "2026-11-31", ""])
def test_a_label_that_names_no_period_is_refused(label: str) -> None:
    with pytest.raises(ValueError, match=r"week|month|date"):
        parse_period(label)


def test_a_date_names_its_day() -> None:
    day = parse_period("2026-11-01")
    assert (day.kind, day.first_day, day.end_day) == ("day", date(2026, 11, 1), date(2026, 11, 2))


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    week = parse_period("2026-W47")
    assert (week.first_day, week.end_day, week.days) == (date(2026, 11, 16), date(2026, 11, 23), 7)
    february = parse_period("2028-02")
    assert (february.first_day, february.days) == (date(2028, 2, 1), 29)
    assert period_containing("month", date(2026, 12, 31)).label == "2026-12"
    assert parse_period("2026-01").previous().label == "2025-12"
    assert parse_period("2026-W01").previous().label == "2025-W52"


def test_a_week_across_the_spring_change_is_seven_days_of_167_hours() -> None:
    week = parse_period("2026-W13")  # 23-29 March 2026: Paris moves to summer time on the 29th
    start, end = week.bounds_ms(PARIS)
    assert (end - start) == 167 * HOUR_MS
    starts = week.day_starts_ms(PARIS)
    assert len(starts) == 8 and starts[0] == start and starts[-1] == end
    assert starts[7] - starts[6] == 23 * HOUR_MS  # Sunday 29 March has 23 hours
    assert datetime.fromtimestamp(start / 1000, PARIS).hour == 0


def test_the_due_periods_are_the_complete_ones_on_the_patients_clock() -> None:
    # Monday 30 November 2026, 00:30 in Paris (23:30 UTC the day before): week 48 is over.
    monday = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert [p.label for p in complete_periods("week", monday, PARIS, 2)] == ["2026-W47", "2026-W48"]
    # The same instant in UTC is still Sunday: week 48 is not over there.
    assert complete_periods("week", monday, UTC, 1)[0].label == "2026-W47"
    assert complete_periods("month", monday, PARIS, 1)[0].label == "2026-10"
