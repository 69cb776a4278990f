"""``Observation`` search parameters (R4 search.html), as the hub's store can answer them.

* ``code`` (token): ``[system]|code`` or ``code``, comma-separated = any of them; repeated =
  all of them. A code names metrics through the inbound tables (:mod:`hub.core.fhir.codes`):
  the vocabulary's MDC and LOINC codes and their aliases; 85354-9 / 150020 the
  blood-pressure panel's metrics; 8867-4 heart rate and pulse rate. An unknown code matches
  nothing (it is not an error).
* ``date`` (date): ``[eq|ge|gt|le|lt]`` + ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or a dateTime
  (UTC when it states no offset); repeated = all of them. The value is a range at its own
  precision (``2026-11-28`` is that whole day): ``eq`` inside it, ``ge``/``gt`` at/after its
  start/end, ``le``/``lt`` before its end/start.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from device_profiles.vocabulary import METRICS
from hub.core.fhir import codes

_PREFIX = re.compile(r"(eq|ne|gt|lt|ge|le|sa|eb|ap)?(.+)")
_YEAR = re.compile(r"[0-9]{4}")
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ALL = frozenset(METRICS)


class SearchError(ValueError):
    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


def metrics_for_code(values: Iterable[str]) -> frozenset[str]:
    """The metrics ``code`` parameters name (repeated parameters: all must match)."""
    chosen = _ALL
    for value in values:
        union: set[str] = set()
        for token in value.split(","):
            union |= _metrics_of_token(token.strip())
        chosen &= union
    return chosen


def _metrics_of_token(token: str) -> set[str]:
    system, bar, code = token.rpartition("|")
    if not bar:
        system, code = "", token
    if not code:
        raise SearchError("code", f"{token!r} names no code")
    found: set[str] = set()
    for (known_system, known_code), metric in codes.METRIC_BY_CODE.items():
        if known_code == code and system in ("", known_system):
            found.add(metric)
    if code == codes.HEART_RATE_LOINC and system in ("", *codes.LOINC_SYSTEMS):
        found |= {"heart_rate", "pulse_rate"}
    if any(known == code and system in ("", s) for s, known in codes.PANEL_CODES):
        found |= set(codes.BP_METRICS)
    return found


@dataclass(frozen=True, slots=True)
class Range:
    start: datetime
    end: datetime


def date_range(values: Iterable[str], *, start: datetime, end: datetime) -> Range:
    """``[start, end)`` narrowed by every ``date`` parameter."""
    for value in values:
        match = _PREFIX.fullmatch(value.strip())
        if match is None:
            raise SearchError("date", f"{value!r} is not a date")
        prefix, text = match.group(1) or "eq", match.group(2)
        low, high = _precision_range(text)
        if prefix == "eq":
            start, end = max(start, low), min(end, high)
        elif prefix == "ge":
            start = max(start, low)
        elif prefix == "gt":
            start = max(start, high)
        elif prefix == "le":
            end = min(end, high)
        elif prefix == "lt":
            end = min(end, low)
        else:
            raise SearchError("date", f"prefix {prefix!r} is not supported (eq ge gt le lt)")
    return Range(start, end)


def _precision_range(text: str) -> tuple[datetime, datetime]:
    try:
        if _YEAR.fullmatch(text):
            low = datetime(int(text), 1, 1, tzinfo=UTC)
            return low, low.replace(year=low.year + 1)
        if _MONTH.fullmatch(text):
            low = datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=UTC)
            high = (
                low.replace(year=low.year + 1, month=1)
                if low.month == 12
                else low.replace(month=low.month + 1)
            )
            return low, high
        if _DAY.fullmatch(text):
            low = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return low, low + timedelta(days=1)
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise SearchError("date", f"{text!r} is not a date or dateTime") from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    step = timedelta(seconds=1) if moment.microsecond == 0 else timedelta(milliseconds=1)
    return moment, moment + step
