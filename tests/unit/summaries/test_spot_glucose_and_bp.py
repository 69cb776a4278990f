"""Spot glucose by meal context, and home blood pressure (morning/evening across DST)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from hub.core.summaries import (
    PARIS,
    blood_pressure_summary,
    meal_context,
    pair_blood_pressure,
    spot_glucose_summary,
)

HOUR = 3_600_000
DAY = 24 * HOUR


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


# --- spot glucose ------------------------------------------------------------------------


def test_spot_glucose_by_meal_context() -> None:
    start = ms("2026-05-04T00:00:00+02:00")
    times = start + np.array([7, 9, 13, 19, 22, 31, 33, 37, 46], dtype=np.int64) * HOUR
    values = [95, 210, 65, 160, 120, 85, 190, 50, 140]
    contexts = [
        "meal:fasting",
        "meal:postprandial",
        "meal:preprandial",
        "meal:postprandial",
        "meal:bedtime",
        "fasting",  # without the prefix is accepted too
        None,
        "meal:snack-time",  # unknown -> other
        "meal:casual",
    ]
    s = spot_glucose_summary(times, values, contexts, start, start + 7 * DAY, PARIS)
    assert (s.readings, s.days_with_readings, s.sufficient) == (9, 2, False)
    # overall: mean 1115 / 9 = 123.89; in range: 95 160 120 85 140 = 5/9; below 70: 65 50 =
    # 2/9; above 180: 210 190 = 2/9
    assert s.overall.mean_mg_dl == pytest.approx(1115 / 9)
    assert s.overall.in_range_70_180_percent == pytest.approx(500 / 9)
    assert s.overall.below_70_percent == pytest.approx(200 / 9)
    assert s.overall.above_180_percent == pytest.approx(200 / 9)
    fasting = s.group("fasting")  # 95, 85
    assert (fasting.readings, fasting.mean_mg_dl, fasting.in_range_70_180_percent) == (
        2,
        90.0,
        100.0,
    )
    post = s.group("postprandial")  # 210, 160
    assert (post.readings, post.mean_mg_dl, post.above_180_percent) == (2, 185.0, 50.0)
    assert s.group("preprandial").below_70_percent == 100.0
    assert s.group("none").mean_mg_dl == 190.0
    assert s.group("other").readings == 1
    assert s.group("bedtime").readings == 1 and s.group("casual").readings == 1
    assert [g.context for g in s.by_context] == [
        "preprandial",
        "postprandial",
        "fasting",
        "bedtime",
        "casual",
        "none",
        "other",
    ]
    json.dumps(s.to_json(), allow_nan=False)


def test_spot_glucose_contexts_follow_their_readings_when_sorted() -> None:
    start = ms("2026-05-04T00:00:00Z")
    times = np.array([start + 2 * HOUR, start + HOUR], dtype=np.int64)  # unsorted
    s = spot_glucose_summary(
        times, [200, 100], ["meal:postprandial", "meal:fasting"], start, start + DAY
    )
    assert s.group("fasting").mean_mg_dl == 100.0
    assert s.group("postprandial").mean_mg_dl == 200.0


def test_spot_glucose_empty_and_flags() -> None:
    s = spot_glucose_summary(np.zeros(0, dtype=np.int64), [], [], 0, DAY)
    assert s.readings == 0 and s.overall.mean_mg_dl is None
    assert all(g.readings == 0 and g.in_range_70_180_percent is None for g in s.by_context)
    json.dumps(s.to_json(), allow_nan=False)
    assert meal_context(("critical-low", "meal:preprandial")) == "preprandial"
    assert meal_context(("HI",)) is None
    with pytest.raises(ValueError, match="meal context"):
        spot_glucose_summary(np.array([1], dtype=np.int64), [100], [], 0, DAY)


# --- home blood pressure -----------------------------------------------------------------


def test_morning_and_evening_are_read_on_the_wall_clock_across_dst() -> None:
    rows = [
        # (UTC time, systolic, diastolic, pulse): local time, session
        ("2026-03-28T03:30:00Z", 130, 80, 60),  # 04:30 CET: morning
        ("2026-03-29T02:30:00Z", 150, 90, 70),  # 04:30 CEST: morning (03:30 if read as CET)
        ("2026-03-29T01:30:00Z", 170, 100, float("nan")),  # 03:30 CEST: neither
        ("2026-10-24T16:30:00Z", 120, 70, 64),  # 18:30 CEST: evening
        ("2026-10-25T16:30:00Z", 160, 95, 66),  # 17:30 CET: neither (18:30 as CEST)
        ("2026-10-25T22:59:00Z", 140, 84, 62),  # 23:59 CET: evening
        ("2026-10-25T23:00:00Z", 110, 60, 58),  # 00:00 on the 26th: neither
    ]
    times = np.array([ms(r[0]) for r in rows], dtype=np.int64)
    sys_, dia, pulse = (np.array([r[k] for r in rows], dtype=float) for k in (1, 2, 3))
    start, end = ms("2026-03-01T00:00:00Z"), ms("2026-11-01T00:00:00Z")
    s = blood_pressure_summary(times, sys_, dia, pulse, start, end, PARIS)
    assert (s.morning.readings, s.morning.systolic_mm_hg, s.morning.diastolic_mm_hg) == (
        2,
        140.0,  # (130 + 150) / 2
        85.0,  # (80 + 90) / 2
    )
    assert (s.evening.readings, s.evening.systolic_mm_hg, s.evening.diastolic_mm_hg) == (
        2,
        130.0,  # (120 + 140) / 2
        77.0,  # (70 + 84) / 2
    )
    # overall: systolic 980 / 7 = 140; diastolic 579 / 7 = 82.71
    assert s.overall.systolic_mm_hg == pytest.approx(140.0)
    assert s.overall.diastolic_mm_hg == pytest.approx(579 / 7)
    # >= 135 or >= 85: 150/90, 170/100, 160/95, 140/84 -> 4 of 7 (130/80 and 120/70 not)
    assert s.above_threshold_percent == pytest.approx(400 / 7)
    assert s.hypertensive is True  # mean systolic 140 >= 135
    assert s.pulse_readings == 6
    assert s.mean_pulse_per_min == pytest.approx(380 / 6)
    # local days: 28 Mar, 29 Mar, 24 Oct, 25 Oct, 26 Oct
    assert s.days_with_readings == 5
    assert not s.sufficient  # 7 readings < 12
    json.dumps(s.to_json(), allow_nan=False)


def test_a_week_of_home_protocol_is_sufficient() -> None:
    # 7 days x (morning + evening) x 2 readings a minute apart, 07:00 and 21:00 local
    start = ms("2026-06-01T00:00:00+02:00")
    times = []
    for day in range(7):
        for hour in (7, 21):
            base = start + day * DAY + hour * HOUR
            times += [base, base + 60_000]
    t = np.array(times, dtype=np.int64)
    systolic = np.where(np.arange(t.size) % 4 < 2, 128.0, 124.0)  # mornings 128, evenings 124
    s = blood_pressure_summary(t, systolic, np.full(t.size, 79.0), None, start, start + 7 * DAY)
    assert (s.readings, s.days_with_readings, s.sufficient) == (28, 7, True)
    assert (s.morning.systolic_mm_hg, s.evening.systolic_mm_hg) == (128.0, 124.0)
    assert s.hypertensive is False and s.above_threshold_percent == 0.0
    assert s.mean_pulse_per_min is None and s.pulse_readings == 0


def test_pairing_systolic_diastolic_and_pulse_on_the_same_millisecond() -> None:
    times, sys_, dia, pulse = pair_blood_pressure(
        [3000, 1000, 2000], [130, 120, 125], [1000, 2000, 2500], [80, 82, 85], [2000], [66]
    )
    assert times.tolist() == [1000, 2000]
    assert sys_.tolist() == [120.0, 125.0] and dia.tolist() == [80.0, 82.0]
    assert np.isnan(pulse[0]) and pulse[1] == 66.0
    empty = blood_pressure_summary(times[:0], sys_[:0], dia[:0], pulse[:0], 0, DAY)
    assert empty.readings == 0 and empty.hypertensive is None and empty.overall.readings == 0
    json.dumps(empty.to_json(), allow_nan=False)
