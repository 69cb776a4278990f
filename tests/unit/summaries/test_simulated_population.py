"""The simulator's type-1 population has the glucose variability of real type-1 cohorts.

Real-world type 1 CGM users show a median CV of 36-38 % (Dunn et al., Diabetes Technol Ther
2024;26(3):203-210, over 20,000 users). Measured here with the hub's own CGM summary over
12 simulated people x 14 days (seeded: the same numbers on every run, no clock involved).
"""

from __future__ import annotations

import numpy as np
import pytest

from gateway_firmware_sim.physiology.glucose import CgmSensor, GlucoseModel, GlucoseScenario
from gateway_firmware_sim.timebase import DAY
from hub.core.summaries import CgmSummary, cgm_summary

T0 = 1_764_000_000.0  # 2025-11-24T16:00:00Z, as in tests/unit/test_sim_physiology.py
PARIS_OFFSET_S = 3600.0
SEEDS = range(12)


def two_weeks(scenario: GlucoseScenario, seed: int) -> CgmSummary:
    key = f"pat-{seed}"
    model = GlucoseModel.create(seed, key, scenario, PARIS_OFFSET_S)
    trace = CgmSensor(seed, key).trace(model, T0, T0 + 14 * DAY)
    times = np.round(trace.times * 1000).astype(np.int64)
    return cgm_summary(times, trace.values, int(T0 * 1000), int((T0 + 14 * DAY) * 1000))


@pytest.fixture(scope="module")
def type_1() -> list[CgmSummary]:
    return [two_weeks(GlucoseScenario.T1D, seed) for seed in SEEDS]


def test_type_1_median_cv_is_that_of_real_world_cohorts(type_1: list[CgmSummary]) -> None:
    cvs = [s.cv_percent for s in type_1]
    assert all(cv is not None for cv in cvs)
    median = float(np.median([cv for cv in cvs if cv is not None]))
    assert 36.0 <= median <= 38.0, f"median CV {median:.2f} %"
    assert median == pytest.approx(37.04, abs=0.01)  # the calibrated value (docs/simulator.md)


def test_type_1_people_are_individuals_yet_plausible(type_1: list[CgmSummary]) -> None:
    for s in type_1:
        assert s.sufficient, "14 days of a simulated sensor are enough data"
        assert s.cv_percent is not None and 28.0 <= s.cv_percent <= 48.0
        assert s.mean_mg_dl is not None and 135.0 <= s.mean_mg_dl <= 195.0
        assert s.tir_70_180_percent is not None and 40.0 <= s.tir_70_180_percent <= 88.0
        assert s.tbr_below_70_percent is not None and s.tbr_below_70_percent <= 8.0
    cvs = [s.cv_percent for s in type_1 if s.cv_percent is not None]
    assert max(cvs) - min(cvs) > 4.0  # not twelve copies of one person


def test_type_2_stays_far_less_variable_than_type_1() -> None:
    # real-world type 2 groups: CV 23-30 % (Dunn et al. 2024); the simulator's type 2 is
    # calmer still, and never overlaps type 1's median
    cvs = [two_weeks(GlucoseScenario.T2D_CONTROLLED, seed).cv_percent for seed in range(4)]
    assert all(cv is not None and cv < 30.0 for cv in cvs)
