"""Small readers of FHIR JSON values that name the offending field when they refuse.

Every refusal is a :class:`~hub.core.wire.WireError` whose ``field`` is the path of the
element at fault in the request (``entry[3].resource.valueQuantity.value``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from device_profiles.strict_json import kind_of
from hub.core.fhir import codes
from hub.core.wire import WireError, parse_time

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COARSE = re.compile(r"[0-9]{4}(?:-[0-9]{2})?")


def obj(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireError(f"expected an object, got {kind_of(value)}", field=field)
    return value


def array(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise WireError(f"expected an array, got {kind_of(value)}", field=field)
    return value


def text(value: Any, field: str, *, max_length: int = 256) -> str:
    if not isinstance(value, str) or not value:
        raise WireError(f"expected a non-empty string, got {kind_of(value)}", field=field)
    if len(value) > max_length:
        raise WireError(f"longer than {max_length} characters", field=field)
    return value


def codings(concept: Any) -> Iterator[tuple[str, str]]:
    """The (system, code) pairs of a CodeableConcept; malformed codings are skipped."""
    if not isinstance(concept, dict):
        return
    for coding in concept.get("coding") or ():
        if isinstance(coding, dict):
            system, code = coding.get("system"), coding.get("code")
            if isinstance(system, str) and isinstance(code, str):
                yield system, code


def mdc_codes(concept: Any) -> list[str]:
    return [code for system, code in codings(concept) if system == codes.MDC]


def quantity(value: Any, field: str) -> tuple[Decimal, str]:
    """A Quantity's exact value and UCUM code (``code``, else ``unit``)."""
    quantity = obj(value, field)
    number = quantity.get("value")
    if isinstance(number, bool) or not isinstance(number, int | Decimal):
        raise WireError(f"expected a number, got {kind_of(number)}", field=f"{field}.value")
    if not Decimal(number).is_finite():
        raise WireError("value must be finite", field=f"{field}.value")
    system = quantity.get("system")
    if system is not None and system != codes.UCUM:
        raise WireError(f"unit system must be {codes.UCUM}", field=f"{field}.system")
    unit = quantity.get("code", quantity.get("unit"))
    if not isinstance(unit, str) or not unit or len(unit) > 32:
        raise WireError("a UCUM unit code is required", field=f"{field}.code")
    return Decimal(number), unit


@dataclass(frozen=True, slots=True)
class When:
    """A measurement's time as the hub reads it: ``time`` aware, or naive for a date without
    a time (read in the device's zone by the pipeline); ``raw`` the text as sent (identity,
    provenance); ``notes`` the annotations that let the time be written back as it came."""

    time: datetime
    raw: str
    notes: tuple[str, ...] = ()


def date_time(value: Any, field: str) -> When:
    """An R4 ``dateTime`` that is precise to the day at least (vital signs ``vs-1``).

    A date without a time (``2022-11-06``) is the *start* of that day in the device's zone
    (a naive midnight; annotation ``time-precision:day``): never in the future for today's
    date, and written back as the same date. A year or a month alone is refused.
    """
    raw = text(value, field, max_length=64)
    if _DAY.fullmatch(raw):
        try:
            return When(datetime.fromisoformat(raw), raw, ("time-precision:day",))
        except ValueError as err:
            raise WireError(f"{raw!r} is not a calendar date", field=field) from err
    if _COARSE.fullmatch(raw):
        raise WireError(
            f"{raw!r} is not precise to the day (R4 vital signs, invariant vs-1)", field=field
        )
    return When(parse_time(raw, field), raw)


def effective(resource: dict[str, Any], where: str) -> When:
    """``Observation.effective[x]`` as one instant (docs/fhir.md, "Times").

    * ``effectiveDateTime`` / ``effectiveInstant``: that time (a date alone: the day's start);
    * ``effectivePeriod``: its ``start`` — the PHD's reported timestamp (HL7 PHD IG,
      "Timestamp: effective[x]": the period starts at the time stamp and lasts the
      measurement duration) — or its ``end`` when it has no start; the duration is kept
      (``period-ms:<n>``) so the period is written back as it came.
    """
    if "effectiveDateTime" in resource:
        return date_time(resource["effectiveDateTime"], f"{where}.effectiveDateTime")
    if "effectiveInstant" in resource:
        raw = text(resource["effectiveInstant"], f"{where}.effectiveInstant", max_length=64)
        return When(parse_time(raw, f"{where}.effectiveInstant"), raw)
    if "effectivePeriod" in resource:
        return _period(obj(resource["effectivePeriod"], f"{where}.effectivePeriod"), where)
    if "effectiveTiming" in resource:
        raise WireError(
            "a Timing is not the time of a measurement: send effectiveDateTime or effectivePeriod",
            field=f"{where}.effectiveTiming",
        )
    raise WireError(
        "effectiveDateTime or effectivePeriod is required (R4 vital signs)",
        field=f"{where}.effectiveDateTime",
    )


def _period(period: dict[str, Any], where: str) -> When:
    at = f"{where}.effectivePeriod"
    start = None if period.get("start") is None else date_time(period["start"], f"{at}.start")
    end = None if period.get("end") is None else date_time(period["end"], f"{at}.end")
    if start is None and end is None:
        raise WireError("a period needs a start or an end", field=at)
    if start is None:
        assert end is not None
        return When(end.time, end.raw, (*end.notes, "period:end-only"))
    if end is None:
        return When(start.time, start.raw, (*start.notes, "period:start-only"))
    if (start.time.tzinfo is None) != (end.time.tzinfo is None):
        raise WireError(
            "start and end must both have a time with an offset, or both be dates", field=at
        )
    if end.time < start.time:
        raise WireError("the period ends before it starts", field=f"{at}.end")
    duration_ms = (end.time - start.time) // timedelta(milliseconds=1)
    return When(start.time, start.raw, (*start.notes, f"period-ms:{duration_ms}"))
