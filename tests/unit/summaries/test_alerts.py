"""Alerts from summaries, per-programme thresholds, and silent devices."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from hub.core.summaries import (
    Alert,
    AlertThresholds,
    CgmSummary,
    blood_pressure_summary,
    cgm_summary,
    evaluate_alerts,
    silent_device_alerts,
    spo2_summary,
    temperature_summary,
    weight_summary,
)

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def steady_cgm(value: float = 120.0) -> CgmSummary:
    times = np.arange(T0, T0 + 14 * DAY, 5 * MIN, dtype=np.int64)
    return cgm_summary(times, np.full(times.size, value), T0, T0 + 14 * DAY)


def codes(alerts: tuple[Alert, ...]) -> list[str]:
    return [a.code for a in alerts]


def test_a_steady_sufficient_cgm_raises_nothing() -> None:
    cgm = steady_cgm()
    assert cgm.sufficient
    assert evaluate_alerts(cgm=cgm) == ()


def test_each_consensus_target_missed_raises_its_alert() -> None:
    base = steady_cgm()
    missed = dataclasses.replace(
        base,
        tbr_below_54_percent=1.2,  # > 1
        tbr_below_70_percent=4.5,  # > 4
        tir_70_180_percent=65.0,  # < 70
        tar_above_250_percent=6.0,  # > 5
        tar_above_180_percent=30.5,  # > 25
        cv_percent=38.0,  # > 36
        gmi_percent=7.2,  # > 7
    )
    alerts = evaluate_alerts(cgm=missed)
    assert codes(alerts) == [
        "cgm.tbr54",
        "cgm.tbr70",
        "cgm.tir",
        "cgm.tar250",
        "cgm.tar180",
        "cgm.cv",
        "cgm.gmi",
    ]
    assert (alerts[0].value, alerts[0].threshold) == (1.2, 1.0)
    json.dumps([a.to_json() for a in alerts], allow_nan=False)
    # on the target itself, no alert: TBR<54 = 1 %, TIR = 70 %, CV = 36 %
    at_target = dataclasses.replace(
        base,
        tbr_below_54_percent=1.0,
        tir_70_180_percent=70.0,
        cv_percent=36.0,
    )
    assert evaluate_alerts(cgm=at_target) == ()
    # the older / high-risk programme: TIR > 50 %, TBR<70 < 1 %
    older = AlertThresholds.older_or_high_risk()
    fair = dataclasses.replace(base, tir_70_180_percent=65.0)
    assert codes(evaluate_alerts(older, cgm=fair)) == []
    low = dataclasses.replace(base, tbr_below_70_percent=1.5)
    assert codes(evaluate_alerts(older, cgm=low)) == ["cgm.tbr70"]


def test_insufficient_cgm_data_raises_only_that() -> None:
    times = np.arange(T0, T0 + 3 * DAY, 5 * MIN, dtype=np.int64)
    cgm = cgm_summary(times, np.full(times.size, 45.0), T0, T0 + 3 * DAY)  # all < 54
    alerts = evaluate_alerts(cgm=cgm)
    assert codes(alerts) == ["cgm.insufficient_data"]
    empty = cgm_summary(np.zeros(0, dtype=np.int64), np.zeros(0), T0, T0 + DAY)
    assert evaluate_alerts(cgm=empty) == ()


def test_home_hypertension_weight_gain_desaturation_and_fever() -> None:
    bp_times = T0 + np.array([d * DAY + h * HOUR for d in range(4) for h in (7, 7.02, 21, 21.02)])
    bp_times = bp_times.astype(np.int64)
    bp = blood_pressure_summary(
        bp_times, np.full(16, 138.0), np.full(16, 80.0), None, T0, T0 + 7 * DAY
    )
    weights = weight_summary(T0 + np.array([0, 2]) * DAY + 7 * HOUR, [80.0, 82.1], T0, T0 + 7 * DAY)
    night = T0 + 22 * HOUR + np.arange(300) * MIN
    spo2 = spo2_summary(night, np.where(np.arange(300) < 100, 88.0, 94.0), T0, T0 + 7 * DAY)
    fever = temperature_summary(T0 + np.array([8, 20]) * HOUR, [37.2, 38.4], T0, T0 + 7 * DAY)
    alerts = evaluate_alerts(blood_pressure=bp, weight=weights, spo2=spo2, temperature=fever)
    assert codes(alerts) == [
        "bp.home_hypertension",
        "weight.rapid_gain",
        "spo2.low",
        "temperature.fever",
    ]
    assert alerts[1].value == pytest.approx(2.1) and alerts[1].at_ms == T0 + 2 * DAY + 7 * HOUR
    assert alerts[2].value == pytest.approx(100 / 3)  # 100 of 300 minutes below 90
    assert alerts[3].at_ms == T0 + 20 * HOUR
    # a programme with a higher BP threshold and a 40 % desaturation limit
    relaxed = AlertThresholds(bp_systolic_mm_hg=140.0, spo2_below_max_percent=40.0)
    assert codes(evaluate_alerts(relaxed, blood_pressure=bp, spo2=spo2)) == []


def test_insufficient_bp_raises_nothing_and_mismatched_thresholds_are_refused() -> None:
    bp = blood_pressure_summary(
        np.array([T0], dtype=np.int64), [180.0], [110.0], None, T0, T0 + DAY
    )
    assert evaluate_alerts(blood_pressure=bp) == ()
    weights = weight_summary(np.array([T0], dtype=np.int64), [80.0], T0, T0 + DAY, gain_kg=1.5)
    with pytest.raises(ValueError, match="weight"):
        evaluate_alerts(weight=weights)
    assert evaluate_alerts(AlertThresholds(weight_gain_kg=1.5), weight=weights) == ()
    fever = temperature_summary(
        np.array([T0], dtype=np.int64), [38.2], T0, T0 + DAY, fever_celsius=37.8
    )
    with pytest.raises(ValueError, match="fever"):
        evaluate_alerts(temperature=fever)


def test_silent_devices() -> None:
    now = T0 + 30 * DAY
    last = {
        "ble-scale-0002": now - 3 * DAY,  # exactly 3 days: silent
        "ble-cgm-0002": now - 3 * DAY + 1,  # 1 ms short of it: not
        "ble-bp-0002": None,  # never sent
        "acme-bp-0002": now - 10 * DAY,
        "future-0002": now + HOUR,  # a clock ahead: not silent
    }
    alerts = silent_device_alerts(last, now)
    assert [(a.device_id, a.value) for a in alerts] == [
        ("acme-bp-0002", 10.0),
        ("ble-bp-0002", None),
        ("ble-scale-0002", 3.0),
    ]
    assert all(a.code == "device.silent" for a in alerts)
    assert alerts[2].at_ms == now - 3 * DAY
    assert [a.device_id for a in silent_device_alerts(last, now, days=7)] == [
        "acme-bp-0002",
        "ble-bp-0002",
    ]
    json.dumps([a.to_json() for a in alerts], allow_nan=False)
