"""Wall-clock time in the patient's zone, and the AGP's modal day, across DST changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from hub.core.summaries import PARIS, ambulatory_glucose_profile, rfc3339_utc
from hub.core.summaries._time import (
    local_days,
    local_minute_of_day,
    offset_ms,
    wall_clock_days,
)

HOUR = 3_600_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


def hourly(start: str, end: str) -> np.ndarray:
    return np.arange(ms(start), ms(end), HOUR, dtype=np.int64)


def test_rfc3339_utc() -> None:
    assert rfc3339_utc(0) == "1970-01-01T00:00:00Z"
    assert rfc3339_utc(ms("2026-03-29T01:00:00Z")) == "2026-03-29T01:00:00Z"
    assert rfc3339_utc(ms("2026-03-29T01:00:00Z") + 7) == "2026-03-29T01:00:00.007Z"


def test_offsets_follow_the_paris_changes_to_the_millisecond() -> None:
    change = ms("2026-03-29T01:00:00Z")  # 02:00 CET -> 03:00 CEST
    assert offset_ms(change - 1, PARIS) == HOUR
    assert offset_ms(change, PARIS) == 2 * HOUR
    times = np.array([change - 1, change, ms("2026-10-25T00:59:59.999Z")], dtype=np.int64)
    times = np.append(times, ms("2026-10-25T01:00:00Z"))  # 03:00 CEST -> 02:00 CET
    minutes = local_minute_of_day(times, PARIS)
    assert minutes.tolist() == [119, 180, 179, 120]  # 01:59, 03:00, 02:59, 02:00


def test_local_days_have_23_and_25_hours() -> None:
    # local 29 March (day 20541 since 1970-01-01) runs from 23:00Z on the 28th to 22:00Z
    spring = hourly("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z")
    assert spring.size == 23 and set(local_days(spring, PARIS).tolist()) == {20541}
    assert local_days(np.array([ms("2026-03-29T22:00:00Z")]), PARIS)[0] == 20542  # 00:00 30th
    # local 25 October runs from 22:00Z on the 24th to 23:00Z on the 25th
    autumn = hourly("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z")
    assert autumn.size == 25 and set(local_days(autumn, PARIS).tolist()) == {20751}
    assert (
        wall_clock_days(ms("2026-03-29T00:00:00+01:00"), ms("2026-03-30T00:00:00+02:00"), PARIS)
        == 1.0
    )
    assert (
        wall_clock_days(ms("2026-10-25T00:00:00+02:00"), ms("2026-10-26T00:00:00+01:00"), PARIS)
        == 1.0
    )


def test_other_zones_and_fixed_offsets() -> None:
    noumea = ZoneInfo("Pacific/Noumea")  # +11:00, no DST
    t = np.array([ms("2026-06-01T13:00:00Z")], dtype=np.int64)
    assert local_minute_of_day(t, noumea).tolist() == [0]  # local midnight
    reunion = ZoneInfo("Indian/Reunion")  # +04:00
    assert local_minute_of_day(t, reunion).tolist() == [17 * 60]


def test_agp_on_the_autumn_change_puts_both_2_am_hours_in_the_2_am_bin() -> None:
    # hourly readings over 24-25 October 2026 (UTC). Local hours (CEST +2 until 01:00Z on
    # the 25th, then CET +1): 00:00Z 24th -> 02:00; ...; 22:00Z -> 00:00 25th; 23:00Z ->
    # 01:00; 00:00Z 25th -> 02:00 CEST; 01:00Z -> 02:00 CET; 02:00Z -> 03:00; ...;
    # 23:00Z -> 00:00 26th.
    times = hourly("2026-10-24T00:00:00Z", "2026-10-26T00:00:00Z")
    values = np.full(times.size, 120.0)
    two_am = [ms("2026-10-24T00:00:00Z"), ms("2026-10-25T00:00:00Z"), ms("2026-10-25T01:00:00Z")]
    values[np.isin(times, two_am)] = [100.0, 200.0, 300.0]
    agp = ambulatory_glucose_profile(
        times, values, int(times[0]), int(times[-1]) + HOUR, PARIS, bin_minutes=60
    )
    counts = [b.readings for b in agp.bins]
    # 00:00: 22:00Z 24th and 23:00Z 25th; 01:00: 23:00Z 24th; 02:00: three; others: two
    assert counts == [2, 1, 3] + [2] * 21
    b = agp.bins[2]
    assert b.label == "02:00"
    # percentiles of (100, 200, 300), linear: position (3 - 1) x p
    # p5: 0.1 -> 110; p25: 0.5 -> 150; p50: 1 -> 200; p75: 1.5 -> 250; p95: 1.9 -> 290
    assert (b.p5, b.p25, b.p50, b.p75, b.p95) == pytest.approx((110, 150, 200, 250, 290))
    assert agp.days_with_readings == 3  # local 24, 25 and 26 October
    quarter = ambulatory_glucose_profile(times, values, int(times[0]), int(times[-1]) + HOUR)
    assert len(quarter.bins) == 96
    assert quarter.bins[8].label == "02:00" and quarter.bins[8].readings == 3
    assert quarter.bins[9].readings == 0 and quarter.bins[9].p50 is None
    json.dumps(quarter.to_json(), allow_nan=False)


def test_agp_on_the_spring_change_has_no_reading_at_2_am_that_day() -> None:
    # hourly readings over 28-29 March 2026 (UTC). 28th is CET (+1): 00:00Z -> 01:00, ...,
    # 23:00Z -> 00:00 29th. On the 29th: 00:00Z -> 01:00 CET, 01:00Z -> 03:00 CEST, ...,
    # 22:00Z -> 00:00 30th, 23:00Z -> 01:00 30th.
    times = hourly("2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z")
    values = np.arange(times.size, dtype=float) + 100
    agp = ambulatory_glucose_profile(
        times, values, int(times[0]), int(times[-1]) + HOUR, bin_minutes=60
    )
    counts = [b.readings for b in agp.bins]
    # 00:00: 23:00Z 28th, 22:00Z 29th; 01:00: 00:00Z 28th, 00:00Z 29th, 23:00Z 29th;
    # 02:00: 01:00Z 28th only (the 29th has no 02:00); 03:00-23:00: two each
    assert counts == [2, 3, 1] + [2] * 21
    assert agp.bins[2].p50 == 101.0  # the value at 01:00Z on the 28th (index 1)
    assert agp.bins[1].p50 == 124.0  # values 100 (index 0), 124 (index 24), 147 (index 47)


def test_agp_refuses_bins_that_do_not_divide_the_day() -> None:
    with pytest.raises(ValueError, match="1440"):
        ambulatory_glucose_profile(np.zeros(0, dtype=np.int64), np.zeros(0), 0, HOUR, bin_minutes=7)


def test_agp_of_nothing() -> None:
    agp = ambulatory_glucose_profile(np.zeros(0, dtype=np.int64), np.zeros(0), 0, HOUR)
    assert agp.readings == 0 and agp.days_with_readings == 0
    assert all(b.readings == 0 and b.p5 is None for b in agp.bins)
