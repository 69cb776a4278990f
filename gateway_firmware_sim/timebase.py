"""Simulated time: UTC seconds since the epoch (floats), and the local views devices need.

The simulation's pure parts take time as a float (``t``, UTC epoch seconds) and never read a
clock. A patient lives in one fixed UTC offset (``offset_s``, the zone of their gateway):
meals, sleep and morning surges follow local time, and a BLE device's Date Time is local time
without a zone. Offsets are fixed for a run (no daylight-saving change mid-run).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import numpy.typing as npt

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0

FloatArray = npt.NDArray[np.float64]


def local_hours(t: FloatArray, offset_s: float) -> FloatArray:
    """Hour of the local day (0 <= h < 24) at each time."""
    return np.asarray(np.mod(t + offset_s, DAY) / HOUR, dtype=np.float64)


def local_day(t: float, offset_s: float) -> int:
    """The local day number (days since 1970-01-01 local) of ``t``."""
    return math.floor((t + offset_s) / DAY)


def day_start(day: int, offset_s: float) -> float:
    """UTC time of local midnight starting ``day``."""
    return day * DAY - offset_s


def local_days(t0: float, t1: float, offset_s: float) -> range:
    """Local day numbers overlapping ``[t0, t1)``."""
    return range(local_day(t0, offset_s), local_day(max(t0, t1 - 1e-6), offset_s) + 1)


def zone(offset_s: float) -> timezone:
    return timezone(timedelta(seconds=offset_s))


def utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def epoch(moment: datetime) -> float:
    """UTC epoch seconds of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: simulated time is UTC")
    return moment.timestamp()


def iso_utc(t: float) -> str:
    """``2026-11-28T08:00:00Z`` (whole seconds)."""
    return utc(math.floor(t)).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_local(t: float, offset_s: float) -> str:
    """``2026-11-28T09:00:00+01:00`` (whole seconds, the local offset stated)."""
    return datetime.fromtimestamp(math.floor(t), zone(offset_s)).isoformat()


def naive_local(t: float, offset_s: float) -> datetime:
    """The local wall-clock time of ``t`` without zone, floored to the second."""
    return datetime.fromtimestamp(math.floor(t), zone(offset_s)).replace(tzinfo=None)


def offset_text(offset_s: float) -> str:
    """``+01:00`` style."""
    sign = "-" if offset_s < 0 else "+"
    minutes = round(abs(offset_s) / 60)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
