"""Simulated time: UTC seconds since the epoch (floats), and the local views devices need.

The simulation's pure parts take time as a float (``t``, UTC epoch seconds) and never read a
clock. A patient lives in one :data:`Zone` — the zone of their gateway's home: an IANA name
(``"Europe/Paris"``, daylight-saving changes included), or a fixed UTC offset in seconds
(tests). Meals, sleep and morning surges follow local wall time (on the two days a year a
clock changes, times of day are counted from local midnight, so they land an hour off after
the change); a BLE device's Date Time is local wall time without a zone.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache
from typing import TypeAlias
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0

FloatArray = npt.NDArray[np.float64]
# An IANA zone name, or a fixed UTC offset in seconds.
Zone: TypeAlias = str | float


@cache
def tz(zone: Zone) -> tzinfo:
    """The ``tzinfo`` of a zone."""
    if isinstance(zone, str):
        return ZoneInfo(zone)
    return timezone(timedelta(seconds=zone))


def utc_offset(t: float, zone: Zone) -> float:
    """Seconds east of UTC in ``zone`` at ``t``."""
    if not isinstance(zone, str):
        return float(zone)
    offset = datetime.fromtimestamp(t, UTC).astimezone(tz(zone)).utcoffset()
    assert offset is not None
    return offset.total_seconds()


def dst_seconds(t: float, zone: Zone) -> float:
    """The daylight-saving part of :func:`utc_offset` at ``t`` (0 for a fixed offset)."""
    if not isinstance(zone, str):
        return 0.0
    dst = datetime.fromtimestamp(t, UTC).astimezone(tz(zone)).dst()
    return 0.0 if dst is None else dst.total_seconds()


def utc_offsets(t: FloatArray, zone: Zone) -> FloatArray:
    """:func:`utc_offset` for each time. Zones change offset on whole UTC hours (every zone
    the simulator uses), so one lookup per hour covered is exact."""
    if not isinstance(zone, str) or t.size == 0:
        return np.full(t.shape, utc_offset(0.0, zone), dtype=np.float64)
    first = math.floor(float(t.min()) / HOUR)
    hours = np.arange(first, math.floor(float(t.max()) / HOUR) + 1, dtype=np.float64)
    table = np.array([utc_offset(h * HOUR, zone) for h in hours], dtype=np.float64)
    return table[(np.floor(t / HOUR) - first).astype(np.int64)]


def local_hours(t: FloatArray, zone: Zone) -> FloatArray:
    """Hour of the local day (0 <= h < 24) at each time."""
    return np.asarray(np.mod(t + utc_offsets(t, zone), DAY) / HOUR, dtype=np.float64)


def local_day(t: float, zone: Zone) -> int:
    """The local day number (days since 1970-01-01 local) of ``t``."""
    return math.floor((t + utc_offset(t, zone)) / DAY)


def day_start(day: int, zone: Zone) -> float:
    """UTC time of local midnight starting ``day``."""
    midnight = datetime(1970, 1, 1) + timedelta(days=day)
    return midnight.replace(tzinfo=tz(zone)).timestamp()


def local_days(t0: float, t1: float, zone: Zone) -> range:
    """Local day numbers overlapping ``[t0, t1)``."""
    return range(local_day(t0, zone), local_day(max(t0, t1 - 1e-6), zone) + 1)


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


def iso_local(t: float, zone: Zone) -> str:
    """``2026-11-28T09:00:00+01:00`` (whole seconds, the local offset stated)."""
    return datetime.fromtimestamp(math.floor(t), tz(zone)).isoformat()


def naive_local(t: float, zone: Zone) -> datetime:
    """The local wall-clock time of ``t`` without zone, floored to the second."""
    return datetime.fromtimestamp(math.floor(t), tz(zone)).replace(tzinfo=None)
