"""Time in the patient's zone, for whole arrays of UTC epoch milliseconds.

Days, mornings, evenings and the AGP's time of day are read on the patient's wall clock
(an IANA zone, daylight-saving changes included): a local day of 23 or 25 hours is one day,
and 02:30 on the night the clocks go back happens twice. The zone's UTC offset is piecewise
constant; its changes inside the span of the readings are found by probing the zone every
six hours and bisecting each change to the millisecond, so converting n readings costs
O(n log k) numpy work plus a few hundred zone look-ups, whatever n.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]

MS_PER_SECOND = 1_000
MS_PER_MINUTE = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000

PARIS: tzinfo = ZoneInfo("Europe/Paris")
"""The default patient zone (mainland France)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PROBE_MS = 6 * MS_PER_HOUR


def utc_datetime(ms: int) -> datetime:
    """The aware UTC datetime of an epoch-millisecond instant."""
    return _EPOCH + timedelta(milliseconds=ms)


def rfc3339_utc(ms: int) -> str:
    """``2026-03-29T01:00:00Z`` (RFC 3339, UTC; milliseconds shown only when not zero)."""
    moment = utc_datetime(ms)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    millis = ms % MS_PER_SECOND
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def offset_ms(ms: int, tz: tzinfo) -> int:
    """The zone's UTC offset (milliseconds) at the instant ``ms``."""
    offset = utc_datetime(ms).astimezone(tz).utcoffset()
    if offset is None:  # pragma: no cover - a tzinfo that does not know its offset
        raise ValueError(f"time zone {tz!r} gives no UTC offset")
    return int(offset.total_seconds() * MS_PER_SECOND)


def _offset_changes(lo: int, hi: int, tz: tzinfo) -> tuple[list[int], list[int]]:
    """The offset in force at ``lo``, then each change in ``(lo, hi]``: (instants, offsets)."""
    probes = [*range(lo, hi, _PROBE_MS), hi]
    offsets = [offset_ms(p, tz) for p in probes]
    instants: list[int] = []
    values = [offsets[0]]
    for probe, next_probe, before, after in zip(
        probes, probes[1:], offsets, offsets[1:], strict=False
    ):
        if before == after:
            continue
        low, high = probe, next_probe  # offset(low) == before, offset(high) != before
        while high - low > 1:
            middle = (low + high) // 2
            if offset_ms(middle, tz) == before:
                low = middle
            else:
                high = middle
        instants.append(high)
        values.append(after)
    return instants, values


def local_ms(times_ms: Int64Array, tz: tzinfo) -> Int64Array:
    """Each instant as wall-clock milliseconds (UTC epoch ms + the offset in force then)."""
    times = np.asarray(times_ms, dtype=np.int64)
    if times.size == 0:
        return times.copy()
    instants, values = _offset_changes(int(times.min()), int(times.max()), tz)
    index = np.searchsorted(np.asarray(instants, dtype=np.int64), times, side="right")
    return times + np.asarray(values, dtype=np.int64)[index]


def local_days(times_ms: Int64Array, tz: tzinfo) -> Int64Array:
    """The local calendar day of each instant (days since 1970-01-01 on the wall clock)."""
    return np.floor_divide(local_ms(times_ms, tz), MS_PER_DAY)


def local_minute_of_day(times_ms: Int64Array, tz: tzinfo) -> Int64Array:
    """Minutes since local midnight on the wall clock (0-1439) of each instant."""
    return np.floor_divide(np.mod(local_ms(times_ms, tz), MS_PER_DAY), MS_PER_MINUTE)


def wall_clock_days(start_ms: int, end_ms: int, tz: tzinfo) -> float:
    """The length of ``[start, end)`` in days of the patient's calendar.

    Local midnight 2026-03-22 to local midnight 2026-04-05 in Paris is 14 days, although the
    spring change makes it 335 hours.
    """
    start_local = start_ms + offset_ms(start_ms, tz)
    end_local = end_ms + offset_ms(end_ms, tz)
    return (end_local - start_local) / MS_PER_DAY
