"""The CGM summary against an independent, naive computation on simulated CGM data.

The simulator (gateway_firmware_sim/physiology/glucose.py) makes a realistic 14-day trace
with sensor changes, warm-up gaps and signal losses; tests/unit/summaries/_reference.py
recomputes the metrics minute by minute in plain Python. Both implement the definitions of
docs/summaries.md; they share no code.
"""

from __future__ import annotations

import numpy as np
import pytest

from gateway_firmware_sim.physiology.glucose import (
    CgmSensor,
    GlucoseModel,
    GlucoseScenario,
    cgm_metrics,
)
from gateway_firmware_sim.timebase import DAY
from hub.core.summaries import cgm_summary
from tests.unit.summaries._reference import reference

T0 = 1_764_000_000.0  # 2025-11-24T16:00:00Z, a whole minute
PARIS_OFFSET_S = 3600.0


def trace(scenario: GlucoseScenario, seed: int, days: int) -> tuple[np.ndarray, np.ndarray]:
    key = f"pat-{seed}"
    model = GlucoseModel.create(seed, key, scenario, PARIS_OFFSET_S)
    cgm = CgmSensor(seed, key).trace(model, T0, T0 + days * DAY)
    return np.round(cgm.times * 1000).astype(np.int64), cgm.values


@pytest.mark.parametrize(
    ("scenario", "seed"),
    [
        (GlucoseScenario.T1D, 3),
        (GlucoseScenario.T1D_HYPO_PRONE, 5),
        (GlucoseScenario.T2D_UNCONTROLLED, 1),
    ],
)
def test_fourteen_days_of_simulated_cgm_match_the_minute_by_minute_reference(
    scenario: GlucoseScenario, seed: int
) -> None:
    raw_times, values = trace(scenario, seed, 14)
    start, end = int(T0 * 1000), int((T0 + 14 * DAY) * 1000)
    assert 3500 < raw_times.size <= 4032  # 14 days of 5-minute readings, minus gaps
    # The sensor samples every 5 min on its own grid, seconds off the whole minute. Moved to
    # the whole minute (the spacing stays 5 min), every interval a reading stands for is a
    # whole number of minutes and counting minute ticks is exact:
    times = (raw_times + 30_000) // 60_000 * 60_000
    s = cgm_summary(times, values, start, end)
    ref = reference(times.tolist(), values.tolist(), start, end)
    assert s.covered_ms == ref.covered_min * 60_000
    assert s.tir_70_180_percent == pytest.approx(ref.tir, abs=1e-9)
    assert s.titr_70_140_percent == pytest.approx(ref.titr, abs=1e-9)
    assert s.tbr_below_70_percent == pytest.approx(ref.tbr70, abs=1e-9)
    assert s.tbr_below_54_percent == pytest.approx(ref.tbr54, abs=1e-9)
    assert s.tar_above_180_percent == pytest.approx(ref.tar180, abs=1e-9)
    assert s.tar_above_250_percent == pytest.approx(ref.tar250, abs=1e-9)
    assert s.mean_mg_dl == pytest.approx(ref.mean, rel=1e-12)
    assert s.sd_mg_dl == pytest.approx(ref.sd, rel=1e-9)
    assert (s.hypo_events_level1, s.hypo_events_level2, s.hypo_events_level1_only) == (
        ref.level1,
        ref.level2,
        ref.level1_only,
    )
    # On the raw times, only the last reading (cut at the window's end) is off the minute
    # grid: the reference is then within one minute of 20,160.
    raw = cgm_summary(raw_times, values, start, end)
    raw_ref = reference(raw_times.tolist(), values.tolist(), start, end)
    assert abs(raw.covered_ms - raw_ref.covered_min * 60_000) < 60_000
    assert raw.tir_70_180_percent == pytest.approx(raw_ref.tir, abs=0.01)
    assert raw.tbr_below_70_percent == pytest.approx(raw_ref.tbr70, abs=0.01)
    assert raw.hypo_events_level1 == raw_ref.level1
    # and the simulator's own per-reading metrics (a third implementation) agree closely:
    # with a reading every 5 minutes, time-weighted and per-reading shares differ only
    # around gaps of 10-15 minutes
    per_reading = cgm_metrics(values)
    assert raw.tir_70_180_percent == pytest.approx(per_reading.tir_pct, abs=0.5)
    assert raw.tbr_below_70_percent == pytest.approx(per_reading.tbr70_pct, abs=0.5)
    assert raw.mean_mg_dl == pytest.approx(per_reading.mean, rel=1e-12)


def test_hypo_prone_trace_has_events_and_the_reference_counts_them_too() -> None:
    # guards the comparison above against a vacuous 0 == 0
    times, values = trace(GlucoseScenario.T1D_HYPO_PRONE, 5, 14)
    start, end = int(T0 * 1000), int((T0 + 14 * DAY) * 1000)
    s = cgm_summary(times, values, start, end)
    assert s.hypo_events_level1 is not None and s.hypo_events_level1 >= 4
    assert s.hypo_events_level2 is not None and s.hypo_events_level2 >= 2
    assert s.sufficient
    assert 90.0 < s.active_percent <= 100.0
