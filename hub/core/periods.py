"""Analysis periods on the patient's calendar: which ``[start, end)`` a period name means.

Two kinds of names (docs/api.md, "Trends and summaries"):

* **rolling** — ``day``, ``week``, ``2weeks``, ``month``, ``3months``: the last 1, 7, 14, 30
  or 90 days of the patient's wall clock, ending now (the ranges CGM reports use; 14 days is
  the consensus window). "7 days before" is read on the wall clock: from Sunday 10:00 to
  Sunday 10:00 a week later, even across a daylight-saving change (167 or 169 hours);
* **calendar** — an ISO 8601 date ``2026-11-28`` (a local day), week ``2026-W47`` (Monday
  00:00 to the next Monday 00:00, local) or month ``2026-11`` (the 1st 00:00 to the next 1st
  00:00, local).

Report periods (weekly and monthly reports) are :class:`CalendarPeriod` s: runs of whole local
days whose instants are the local midnights in the patient's zone — a week that holds a
daylight-saving change lasts 167 or 169 hours and is still seven days.

A period that has not started yet is refused (``ValueError``); one still running ends at
``now`` (``complete`` is False): no summary counts time that has not happened (CGM active
time would be understated). A local midnight that does not exist (a zone that changes its
clocks at midnight) is read with the offset in force before the change, as ``zoneinfo`` does
with ``fold=0``.

Pure: ``now_ms`` is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

from hub.core.model import epoch_ms, from_epoch_ms

PeriodKind = Literal["day", "week", "month"]
REPORT_KINDS: tuple[PeriodKind, ...] = ("week", "month")

ROLLING_DAYS: dict[str, int] = {"day": 1, "week": 7, "2weeks": 14, "month": 30, "3months": 90}

_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_WEEK = re.compile(r"(\d{4})-W(\d{2})", re.ASCII)
_MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)


@dataclass(frozen=True, slots=True)
class Period:
    """``[start_ms, end_ms)`` of a named period; ``complete`` False when it ends at ``now``
    before its natural end."""

    name: str
    start_ms: int
    end_ms: int
    complete: bool


@dataclass(frozen=True, slots=True)
class CalendarPeriod:
    """A run of whole local days ``[first_day, end_day)``: a day, an ISO week or a month."""

    kind: PeriodKind
    first_day: date  # local calendar day
    end_day: date  # exclusive

    @property
    def label(self) -> str:
        """``2026-11-28``, ``2026-W47`` or ``2026-11``."""
        if self.kind == "week":
            year, week, _ = self.first_day.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{self.first_day.year}-{self.first_day.month:02d}"
        return self.first_day.isoformat()

    @property
    def days(self) -> int:
        return (self.end_day - self.first_day).days

    def day(self, index: int) -> date:
        return self.first_day + timedelta(days=index)

    def day_starts_ms(self, tz: tzinfo) -> list[int]:
        """The local midnight of every day of the period and of its end day (UTC epoch ms)."""
        return [local_midnight_ms(self.day(n), tz) for n in range(self.days + 1)]

    def bounds_ms(self, tz: tzinfo) -> tuple[int, int]:
        """``[start, end)`` of the period in UTC epoch milliseconds."""
        return local_midnight_ms(self.first_day, tz), local_midnight_ms(self.end_day, tz)

    def previous(self) -> CalendarPeriod:
        return period_containing(self.kind, self.first_day - timedelta(days=1))


def local_midnight_ms(day: date, tz: tzinfo) -> int:
    """The instant the local day begins (a midnight skipped by a clock change: read with the
    offset in force before it, as ``zoneinfo`` does with ``fold=0``)."""
    return epoch_ms(datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC))


def period_containing(kind: PeriodKind, day: date) -> CalendarPeriod:
    if kind == "day":
        return CalendarPeriod("day", day, day + timedelta(days=1))
    if kind == "week":
        first = day - timedelta(days=day.weekday())
        return CalendarPeriod("week", first, first + timedelta(days=7))
    first = day.replace(day=1)
    return CalendarPeriod("month", first, (first + timedelta(days=32)).replace(day=1))


def parse_period(label: str) -> CalendarPeriod:
    """An ISO date ``2026-11-28``, week ``2026-W47`` or month ``2026-11``; ``ValueError``
    otherwise (``2026-02-30``, ``2026-W54`` and ``2026-13`` included)."""
    text = label.strip()
    if match := _DAY.fullmatch(text):
        try:
            return period_containing("day", date(*(int(g) for g in match.groups())))
        except ValueError as err:
            raise ValueError(f"period {text!r} is not a date: {err}") from err
    if match := _WEEK.fullmatch(text):
        try:
            first = date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError as err:
            raise ValueError(f"no ISO week {text!r}") from err
        return CalendarPeriod("week", first, first + timedelta(days=7))
    if match := _MONTH.fullmatch(text):
        if not 1 <= int(match[2]) <= 12:
            raise ValueError(f"no month {text!r}")
        return period_containing("month", date(int(match[1]), int(match[2]), 1))
    raise ValueError(
        f"a period is an ISO date (2026-11-28), week (2026-W47) or month (2026-11), not {label!r}"
    )


def complete_periods(
    kind: PeriodKind, now: datetime, tz: tzinfo, count: int
) -> tuple[CalendarPeriod, ...]:
    """The ``count`` most recent periods that have ended at ``now`` on the patient's
    calendar, oldest first."""
    latest = period_containing(kind, now.astimezone(tz).date()).previous()
    periods = [latest]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return tuple(reversed(periods))


def wall_clock_days_before(now_ms: int, days: int, tz: tzinfo) -> int:
    """The instant whose local wall-clock time is ``days`` days before that of ``now_ms``."""
    wall = from_epoch_ms(now_ms).astimezone(tz).replace(tzinfo=None)
    # The offset is the one in force at the result (fold=0: a wall time skipped in spring
    # takes the offset before the change, a repeated one its first occurrence).
    earlier = (wall - timedelta(days=days)).replace(tzinfo=tz)
    return epoch_ms(earlier.astimezone(UTC))


def resolve_period(name: str, now_ms: int, tz: tzinfo) -> Period:
    """The window a period name means at ``now_ms`` in the patient's zone ``tz``.

    ``ValueError`` for a name that is neither rolling nor an ISO date, week or month, for an
    impossible date (``2026-02-30``, ``2026-W54``) and for a period that starts after now.
    """
    if name in ROLLING_DAYS:
        return Period(name, wall_clock_days_before(now_ms, ROLLING_DAYS[name], tz), now_ms, True)
    try:
        calendar = parse_period(name)
    except ValueError as err:
        rolling = ", ".join(ROLLING_DAYS)
        raise ValueError(f"unknown period {name!r}: one of {rolling}, or {err}") from err
    start_ms, end_ms = calendar.bounds_ms(tz)
    if start_ms >= now_ms:
        raise ValueError(f"period {name} has not started yet")
    return Period(name, start_ms, min(end_ms, now_ms), end_ms <= now_ms)
