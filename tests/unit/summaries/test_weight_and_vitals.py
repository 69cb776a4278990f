"""Weight (trend, rapid gain), SpO2, heart rate and temperature on hand-computed fixtures."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from gateway_firmware_sim.physiology.weight import FluidEpisode, WeightModel
from hub.core.summaries import (
    PARIS,
    heart_rate_summary,
    spo2_summary,
    temperature_summary,
    weight_summary,
)

SECOND = 1_000
MIN = 60_000
HOUR = 3_600_000
DAY = 24 * HOUR


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


# --- weight -------------------------------------------------------------------------------


def test_trend_is_the_least_squares_slope_per_week() -> None:
    # 70.0, 70.5, 71.0, 71.5 at days 0-3, then 71.0 at day 7 (07:00 local):
    # x = 0 1 2 3 7 (mean 2.6), y mean 70.8; sum dx*dy = (-2.6)(-0.8) + (-1.6)(-0.3)
    # + (-0.6)(0.2) + (0.4)(0.7) + (4.4)(0.2) = 2.08 + 0.48 - 0.12 + 0.28 + 0.88 = 3.6;
    # sum dx^2 = 6.76 + 2.56 + 0.36 + 0.16 + 19.36 = 29.2 -> 0.12329 kg/day = 0.86301 kg/week
    start = ms("2026-01-05T00:00:00+01:00")
    days = np.array([0, 1, 2, 3, 7])
    times = start + days * DAY + 7 * HOUR
    s = weight_summary(times, [70.0, 70.5, 71.0, 71.5, 71.0], start, start + 14 * DAY, PARIS)
    assert s.trend_kg_per_week == pytest.approx(7 * 3.6 / 29.2)
    assert s.trend_sufficient  # 5 days, span 7 days
    assert (s.latest_kg, s.latest_ms) == (71.0, int(times[-1]))
    assert not s.rapid_gain  # +1.5 kg at most in 3 days
    json.dumps(s.to_json(), allow_nan=False)


def test_two_kilos_in_three_days_triggers_with_its_baseline() -> None:
    # 72.3 (Mon 07:10), 72.8, 73.6, 74.3 (Thu 06:50): +2.0 kg over three calendar days,
    # although 71 h 40 min apart; 74.3 - 72.3 is 1.99999999999999 in binary floating point
    start = ms("2026-01-05T00:00:00+01:00")
    times = np.array(
        [
            start + 7 * HOUR + 10 * MIN,
            start + DAY + 7 * HOUR,
            start + 2 * DAY + 7 * HOUR,
            start + 3 * DAY + 6 * HOUR + 50 * MIN,
        ],
        dtype=np.int64,
    )
    s = weight_summary(times, [72.3, 72.8, 73.6, 74.3], start, start + 7 * DAY, PARIS)
    assert s.rapid_gain
    (gain,) = s.rapid_gains
    assert (gain.baseline_ms, gain.baseline_kg) == (int(times[0]), 72.3)
    assert (gain.reading_ms, gain.reading_kg) == (int(times[3]), 74.3)
    assert gain.gain_kg == pytest.approx(2.0)
    # 1.9 kg does not; nor do 2 kg over four days
    assert not weight_summary(times, [72.3, 72.8, 73.6, 74.2], start, start + 7 * DAY).rapid_gain
    later = times.copy()
    later[3] += DAY
    assert not weight_summary(later, [72.3, 72.8, 73.6, 74.3], start, start + 7 * DAY).rapid_gain
    # a programme with 1.5 kg in 2 days sees 72.8 -> 74.3 (Tue -> Thu)
    strict = weight_summary(
        times, [72.3, 72.8, 73.6, 74.3], start, start + 7 * DAY, gain_kg=1.5, gain_days=2
    )
    assert [(g.baseline_kg, g.reading_kg) for g in strict.rapid_gains] == [(72.8, 74.3)]


def test_simulated_heart_failure_fluid_gain_is_caught() -> None:
    t0 = 1_764_000_000.0  # the simulator's seconds
    onset = t0 + 2 * 86400
    model = WeightModel.create(3, "p3", 3600.0, planned=(FluidEpisode(onset, 2.6),))
    readings = model.readings(t0, t0 + 10 * 86400)
    times = np.array([round(r.time * 1000) for r in readings], dtype=np.int64)
    kg = np.array([r.kg for r in readings])
    s = weight_summary(times, kg, int(t0 * 1000), int((t0 + 10 * 86400) * 1000))
    assert s.rapid_gain
    assert all(onset * 1000 <= g.reading_ms <= (onset + 5 * 86400) * 1000 for g in s.rapid_gains)


def test_weight_of_nothing_and_of_one_reading() -> None:
    s = weight_summary(np.zeros(0, dtype=np.int64), [], 0, DAY)
    assert (s.readings, s.latest_kg, s.trend_kg_per_week, s.trend_sufficient) == (
        0,
        None,
        None,
        False,
    )
    one = weight_summary(np.array([5], dtype=np.int64), [80.0], 0, DAY)
    assert (one.latest_kg, one.trend_kg_per_week) == (80.0, None)
    json.dumps(one.to_json(), allow_nan=False)


# --- SpO2 ---------------------------------------------------------------------------------


def test_spo2_share_below_90_is_time_weighted() -> None:
    # a value a minute: 95 95 89 88 95, a 10-min gap, 89. The 95 before the gap and the last
    # 89 stand for 1 min (nominal): covered 6 min, below 90: 89 88 89 = 3 min -> 50 %
    t0 = ms("2026-02-01T23:00:00Z")
    times = t0 + np.array([0, 1, 2, 3, 4, 14]) * MIN
    values = [95, 95, 89, 88, 95, 89]
    s = spo2_summary(times, values, t0, t0 + HOUR)
    assert (s.covered_ms, s.below_threshold_ms) == (6 * MIN, 3 * MIN)
    assert s.below_threshold_percent == 50.0
    assert s.mean_percent == pytest.approx(551 / 6)
    assert (s.min_percent, s.min_ms) == (88.0, t0 + 3 * MIN)
    assert not s.sufficient  # 6 min < 4 h
    # a gap of 5 min exactly still counts as recorded (max gap 5 min): 95 at 0, 85 at 5
    s2 = spo2_summary(t0 + np.array([0, 5]) * MIN, [95, 85], t0, t0 + HOUR)
    assert (s2.covered_ms, s2.below_threshold_ms) == (6 * MIN, MIN)
    json.dumps(s.to_json(), allow_nan=False)


def test_spo2_night_is_sufficient() -> None:
    t0 = ms("2026-02-01T23:00:00Z")
    times = t0 + np.arange(0, 6 * 60) * MIN
    values = np.where(np.arange(times.size) < 120, 88.0, 93.0)  # 2 h of 6 below 90
    s = spo2_summary(times, values, t0, t0 + 8 * HOUR)
    assert s.sufficient and s.below_threshold_percent == pytest.approx(100 / 3)


# --- heart rate ---------------------------------------------------------------------------


def test_resting_heart_rate_is_the_lowest_complete_5_minute_mean() -> None:
    t0 = ms("2026-02-02T10:00:00Z")
    # every 10 s: 80 for 2 min, 60 for 6 min, 100 for 5 min; then a 3-minute stretch at 40
    # after a 10-min gap: too short to be a 5-minute window
    first = np.arange(0, 13 * 60, 10) * SECOND
    values = np.where(first < 120 * SECOND, 80.0, np.where(first < 480 * SECOND, 60.0, 100.0))
    late = (13 * 60 + 600 + np.arange(0, 180, 10)) * SECOND
    times = t0 + np.concatenate([first, late])
    bpm = np.concatenate([values, np.full(late.size, 40.0)])
    s = heart_rate_summary(times, bpm, t0, t0 + HOUR)
    # windows starting at 120 s .. 180 s hold only 60s (36 readings from 120 s to 410 s)
    assert s.resting_per_min == 60.0
    assert s.resting_window_start_ms == t0 + 120 * SECOND
    assert (s.min_per_min, s.max_per_min) == (40.0, 100.0)
    assert s.sufficient
    json.dumps(s.to_json(), allow_nan=False)


def test_a_gap_inside_the_window_disqualifies_it() -> None:
    t0 = 0
    # every 10 s from 0 to 590 s: 70, except 50 from 200 to 490 s; the readings between
    # 300 and 390 s are lost (a 90-s gap > the 60-s maximum)
    times = np.arange(0, 600, 10) * SECOND
    bpm = np.where((times >= 200 * SECOND) & (times < 500 * SECOND), 50.0, 70.0)
    keep = ~((times > 300 * SECOND) & (times < 390 * SECOND))
    s = heart_rate_summary(times[keep], bpm[keep], t0, HOUR)
    # a window [t, t + 300 s) counts when readings run on to t + 300 s without a gap > 60 s:
    # t = 0 does (0-290 s, next reading at 300 s); every t from 10 to 300 s spans the gap;
    # from 390 s there is no reading 300 s later. Window 0: 20 x 70 + 10 x 50 over 30
    assert s.resting_per_min == pytest.approx(1900 / 30)
    assert s.resting_window_start_ms == 0
    # with a 60-s hole (the maximum allowed) the window of 50s at 200-490 s counts
    keep2 = ~((times > 300 * SECOND) & (times < 360 * SECOND))
    s2 = heart_rate_summary(times[keep2], bpm[keep2], t0, HOUR)
    assert (s2.resting_per_min, s2.resting_window_start_ms) == (50.0, 200 * SECOND)


def test_heart_rate_without_a_recording() -> None:
    s = heart_rate_summary(np.array([0], dtype=np.int64), [72.0], 0, HOUR)
    assert (s.resting_per_min, s.sufficient, s.min_per_min, s.mean_per_min) == (
        None,
        False,
        72.0,
        72.0,
    )


# --- temperature --------------------------------------------------------------------------


def test_fever_episodes_are_febrile_readings_less_than_24_hours_apart() -> None:
    t0 = ms("2026-02-10T00:00:00+01:00")
    rows = [
        (8, 37.0),
        (20, 38.2),  # episode 1 starts
        (32, 37.6),  # paracetamol: below 38 but the episode goes on
        (36, 38.5),  # 16 h after 38.2: same episode (peak)
        (56, 37.0),
        (60 + 24, 38.1),  # 48 h after 38.5: a new episode
        (84 + 24, 38.0),  # exactly 24 h later: a third (>= 24 h separates)
    ]
    times = np.array([t0 + h * HOUR for h, _ in rows], dtype=np.int64)
    celsius = [c for _, c in rows]
    s = temperature_summary(times, celsius, t0, t0 + 7 * DAY)
    assert (s.max_celsius, s.max_ms, s.febrile_readings) == (38.5, t0 + 36 * HOUR, 4)
    assert [(e.start_ms - t0) // HOUR for e in s.fever_episodes] == [20, 84, 108]
    assert [(e.end_ms - t0) // HOUR for e in s.fever_episodes] == [36, 84, 108]
    assert [e.max_celsius for e in s.fever_episodes] == [38.5, 38.1, 38.0]
    assert [e.febrile_readings for e in s.fever_episodes] == [2, 1, 1]
    # 1 ms less than 24 h: still the same episode
    times2 = times.copy()
    times2[-1] -= 1
    s2 = temperature_summary(times2, celsius, t0, t0 + 7 * DAY)
    assert len(s2.fever_episodes) == 2
    json.dumps(s.to_json(), allow_nan=False)


def test_no_fever() -> None:
    s = temperature_summary(np.array([0, HOUR], dtype=np.int64), [36.6, 37.9], 0, DAY)
    assert (s.max_celsius, s.febrile_readings, s.fever_episodes) == (37.9, 0, ())
    empty = temperature_summary(np.zeros(0, dtype=np.int64), [], 0, DAY)
    assert empty.max_celsius is None and empty.max_ms is None
