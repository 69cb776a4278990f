"""Periods on the patient's calendar, glucose for display and programme thresholds (pure).

Every "now" is passed in, so the fixed dates here never expire: they are the Paris
daylight-saving changes of 2026 (29 March: 23 hours; 25 October: 25 hours).
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hub.core.glucose_units import MG_DL_PER_MMOL_L, display_unit, glucose_value, with_mmol_twins
from hub.core.model import epoch_ms
from hub.core.periods import ROLLING_DAYS, resolve_period
from hub.core.summaries import AlertThresholds, cgm_summary
from hub.core.thresholds import alert_thresholds

PARIS = ZoneInfo("Europe/Paris")
HOUR_MS = 3_600_000


def ms(text: str) -> int:
    return epoch_ms(datetime.fromisoformat(text))


def test_rolling_periods_are_days_of_the_wall_clock_across_the_spring_change() -> None:
    now = ms("2026-04-01T10:00:00+02:00")
    week = resolve_period("week", now, PARIS)
    # 25 March 10:00 CET (09:00Z) to 1 April 10:00 CEST (08:00Z): 7 days of 24 h but one of 23
    assert week.start_ms == ms("2026-03-25T10:00:00+01:00")
    assert (week.end_ms - week.start_ms) == 7 * 24 * HOUR_MS - HOUR_MS
    assert week.complete
    day = resolve_period("day", ms("2026-10-25T12:00:00+01:00"), PARIS)
    assert day.end_ms - day.start_ms == 25 * HOUR_MS  # noon to noon across the autumn change
    assert ROLLING_DAYS == {"day": 1, "week": 7, "2weeks": 14, "month": 30, "3months": 90}


def test_two_weeks_across_a_change_is_a_sufficient_cgm_window() -> None:
    period = resolve_period("2weeks", ms("2026-04-05T00:00:00+02:00"), PARIS)
    assert period.start_ms == ms("2026-03-22T00:00:00+01:00")
    summary = cgm_summary([], [], period.start_ms, period.end_ms, PARIS)
    assert summary.window_days == 14.0 and summary.window_sufficient


def test_a_wall_time_skipped_in_spring_takes_the_offset_before_the_change() -> None:
    # 30 March 02:30 CEST minus one day is 29 March 02:30, which Paris never showed: read at
    # +01:00, i.e. 01:30Z (03:30 CEST).
    period = resolve_period("day", ms("2026-03-30T02:30:00+02:00"), PARIS)
    assert period.start_ms == ms("2026-03-29T01:30:00Z")


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("2026-03-29", "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"),
        ("2026-W13", "2026-03-23T00:00:00+01:00", "2026-03-30T00:00:00+02:00"),
        ("2026-W01", "2025-12-29T00:00:00+01:00", "2026-01-05T00:00:00+01:00"),
        ("2026-W53", "2026-12-28T00:00:00+01:00", "2027-01-04T00:00:00+01:00"),
        ("2026-10", "2026-10-01T00:00:00+02:00", "2026-11-01T00:00:00+01:00"),
        ("2026-12", "2026-12-01T00:00:00+01:00", "2027-01-01T00:00:00+01:00"),
    ],
)
def test_calendar_periods_run_from_local_midnight_to_local_midnight(
    name: str, start: str, end: str
) -> None:
    period = resolve_period(name, ms("2027-06-01T12:00:00Z"), PARIS)
    assert (period.name, period.start_ms, period.end_ms) == (name, ms(start), ms(end))
    assert period.complete


def test_a_calendar_period_is_read_in_the_patients_zone() -> None:
    now = ms("2027-01-01T00:00:00Z")
    paris = resolve_period("2026-11-28", now, PARIS)
    new_york = resolve_period("2026-11-28", now, ZoneInfo("America/New_York"))
    assert paris.start_ms == ms("2026-11-27T23:00:00Z")
    assert new_york.start_ms == ms("2026-11-28T05:00:00Z")


def test_a_running_period_ends_now_and_a_future_one_is_refused() -> None:
    now = ms("2026-11-18T09:15:00+01:00")  # a Wednesday of ISO week 47
    running = resolve_period("2026-W47", now, PARIS)
    assert (running.start_ms, running.end_ms) == (ms("2026-11-16T00:00:00+01:00"), now)
    assert not running.complete
    with pytest.raises(ValueError, match="not started"):
        resolve_period("2026-W48", now, PARIS)
    with pytest.raises(ValueError, match="not started"):
        resolve_period("2026-11-18", ms("2026-11-17T23:00:00Z"), PARIS)  # Paris midnight


@pytest.mark.parametrize("name", ["", "fortnight", "2026-W54", "2026-02-30", "2026-13", "2026-1"])
def test_unknown_periods_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="period"):
        resolve_period(name, ms("2027-06-01T00:00:00Z"), PARIS)


def test_mmol_twins_convert_every_mg_dl_field_once() -> None:
    summary = cgm_summary(
        [0, 300_000, 600_000, 900_000], [60.0, 50.0, 50.0, 180.156], 0, 3_600_000, PARIS
    ).to_json()
    twins = with_mmol_twins(summary)
    assert twins["mean_mg_dl"] == summary["mean_mg_dl"]  # the mg/dL fields stay
    assert twins["mean_mmol_l"] == pytest.approx(summary["mean_mg_dl"] / 18.0156, rel=1e-15)
    assert twins["sd_mmol_l"] == pytest.approx(summary["sd_mg_dl"] / 18.0156, rel=1e-15)
    assert twins["hypo_events"][0]["nadir_mmol_l"] == pytest.approx(50.0 / 18.0156)
    assert twins["cv_percent"] == summary["cv_percent"]  # no unit, no twin
    assert "cv_mmol_l" not in twins
    empty = with_mmol_twins(cgm_summary([], [], 0, 1, PARIS).to_json())
    assert empty["mean_mmol_l"] is None
    json.dumps(twins, allow_nan=False)
    assert MG_DL_PER_MMOL_L == 18.0156
    assert glucose_value(180.156, "mmol/L") == pytest.approx(10.0, rel=1e-15)
    assert glucose_value(180.156, "mg/dL") == 180.156
    assert display_unit("glucose_isf", "mmol/L") == "mmol/L"
    assert display_unit("weight", "mmol/L") == "kg"


def test_programme_thresholds_override_the_defaults_and_are_checked() -> None:
    assert alert_thresholds({}) == AlertThresholds()
    custom = alert_thresholds({"cgm_tir_min_percent": 50.0, "weight_gain_days": 2.0})
    assert custom.cgm_tir_min_percent == 50.0
    assert custom.weight_gain_days == 2 and isinstance(custom.weight_gain_days, int)
    assert custom.cgm_tbr54_max_percent == AlertThresholds().cgm_tbr54_max_percent
    with pytest.raises(ValueError, match="cgm_tir: unknown threshold"):
        alert_thresholds({"cgm_tir": 50.0})
    with pytest.raises(ValueError, match="weight_gain_days: must be a whole number"):
        alert_thresholds({"weight_gain_days": 2.5})
    with pytest.raises(ValueError, match="fever_celsius: must be a finite positive number"):
        alert_thresholds({"fever_celsius": float("nan")})
