"""Properties of the summaries, checked by hypothesis (derandomized: a failure reproduces
from the test name alone; no example database)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hub.core.summaries import PARIS, ambulatory_glucose_profile, cgm_summary, spo2_summary
from hub.core.summaries._time import local_minute_of_day
from tests.unit.summaries._reference import reference

MIN = 60_000
T0 = 1_774_742_400_000  # 2026-03-29T00:00:00Z: the spring change happens in these windows
WINDOW = 3 * 1440 * MIN

PROFILE = settings(max_examples=300, derandomize=True, deadline=None, database=None)

glucose = st.floats(min_value=39.0, max_value=401.0, allow_nan=False)
# levels on and around every threshold, so that runs below 70 and 54 (events) are common
level = st.one_of(
    st.sampled_from([40.0, 50.0, 53.9, 54.0, 60.0, 69.9, 70.0, 100.0, 140.0, 180.0, 180.1, 250.0]),
    glucose,
)


@st.composite
def cgm_readings(draw: st.DrawFn, minute_aligned: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct times in the window, with gaps from 1 ms to hours, and values."""
    n = draw(st.integers(min_value=0, max_value=120))
    unit = MIN if minute_aligned else 1
    steps = draw(
        st.lists(
            st.one_of(
                st.just(5 * MIN // unit),
                st.integers(min_value=1, max_value=20 * MIN // unit),
                st.integers(min_value=1, max_value=6 * 60 * MIN // unit),
            ),
            min_size=n,
            max_size=n,
        )
    )
    offset = draw(st.integers(min_value=0, max_value=120 * MIN // unit))
    times = T0 + (offset + np.cumsum(np.asarray(steps, dtype=np.int64))) * unit
    times = times[times < T0 + WINDOW]
    runs = draw(st.lists(st.tuples(level, st.integers(min_value=1, max_value=8)), max_size=40))
    values = np.array([v for v, repeat in runs for _ in range(repeat)], dtype=np.float64)
    values = np.resize(values if values.size else np.array([120.0]), times.size)
    if minute_aligned:  # whole mg/dL too, as sensors report
        values = np.round(values)
    return times.astype(np.int64), values


# Two level-2 events inside one level-1 event: 15 minutes at 54 mg/dL end a level-2 event,
# not the level-1 one, so level-2 events may outnumber level-1 events.
NESTED = (
    T0 + 300_000 + np.arange(9, dtype=np.int64) * 5 * MIN,
    np.array([40.0, 40.0, 40.0, 54.0, 54.0, 54.0, 40.0, 40.0, 40.0]),
)


@PROFILE
@given(cgm_readings())
@example(NESTED)
def test_cgm_percentages_are_bounded_and_partition_the_covered_time(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    times, values = data
    s = cgm_summary(times, values, T0, T0 + WINDOW)
    json.dumps(s.to_json(), allow_nan=False)
    assert 0.0 <= s.active_percent <= 100.0
    assert 0 <= s.covered_ms <= WINDOW
    if s.readings == 0:
        assert s.tir_70_180_percent is None and s.hypo_events_level1 is None
        return
    shares = [
        s.tir_70_180_percent,
        s.titr_70_140_percent,
        s.tbr_below_70_percent,
        s.tbr_below_54_percent,
        s.tar_above_180_percent,
        s.tar_above_250_percent,
    ]
    assert all(x is not None and 0.0 <= x <= 100.0 for x in shares)
    tir, titr, tbr70, tbr54, tar180, tar250 = (float(x) for x in shares if x is not None)
    assert tir + tbr70 + tar180 == pytest.approx(100.0, abs=1e-9)
    assert tbr54 <= tbr70 and tar250 <= tar180 and titr <= tir
    assert s.hypo_events_level1 is not None and s.hypo_events_level2 is not None
    level1 = [e for e in s.hypo_events if e.level == 1]
    for event in (e for e in s.hypo_events if e.level == 2):  # each inside a level-1 event
        assert any(e.start_ms <= event.start_ms < e.end_ms for e in level1)
    assert s.hypo_events_level1_only is not None
    assert s.hypo_events_level1 - s.hypo_events_level2 <= s.hypo_events_level1_only
    assert s.hypo_events_level1_only <= s.hypo_events_level1
    for event in s.hypo_events:
        assert T0 <= event.start_ms < event.end_ms <= T0 + WINDOW
        assert event.duration_ms >= 15 * MIN
        assert event.nadir_mg_dl < (70 if event.level == 1 else 54)


@PROFILE
@given(cgm_readings(), st.randoms(use_true_random=False))
def test_cgm_summary_does_not_depend_on_the_input_order(
    data: tuple[np.ndarray, np.ndarray], rng: random.Random
) -> None:
    times, values = data
    order = list(range(times.size))
    rng.shuffle(order)
    shuffled = cgm_summary(times[order], values[order], T0, T0 + WINDOW)
    assert shuffled == cgm_summary(times, values, T0, T0 + WINDOW)


@PROFILE
@given(cgm_readings(), cgm_readings())
def test_readings_outside_the_window_change_nothing(
    data: tuple[np.ndarray, np.ndarray], outside: tuple[np.ndarray, np.ndarray]
) -> None:
    times, values = data
    extra_times = np.concatenate([outside[0] - WINDOW - 1, outside[0] + WINDOW])
    extra_values = np.concatenate([outside[1], outside[1]])
    both = cgm_summary(
        np.concatenate([times, extra_times]),
        np.concatenate([values, extra_values]),
        T0,
        T0 + WINDOW,
    )
    assert both == cgm_summary(times, values, T0, T0 + WINDOW)


@PROFILE
@given(cgm_readings(minute_aligned=True))
def test_cgm_summary_equals_the_minute_by_minute_reference(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    times, values = data
    s = cgm_summary(times, values, T0, T0 + WINDOW)
    if s.readings == 0:
        return
    ref = reference(times.tolist(), values.tolist(), T0, T0 + WINDOW)
    assert s.covered_ms == ref.covered_min * MIN
    assert s.tir_70_180_percent == pytest.approx(ref.tir, abs=1e-9)
    assert s.tbr_below_70_percent == pytest.approx(ref.tbr70, abs=1e-9)
    assert s.tbr_below_54_percent == pytest.approx(ref.tbr54, abs=1e-9)
    assert s.tar_above_250_percent == pytest.approx(ref.tar250, abs=1e-9)
    assert s.mean_mg_dl == pytest.approx(ref.mean, rel=1e-12)
    assert (s.hypo_events_level1, s.hypo_events_level2, s.hypo_events_level1_only) == (
        ref.level1,
        ref.level2,
        ref.level1_only,
    )


@PROFILE
@given(cgm_readings(), st.sampled_from([15, 30, 60]))
def test_agp_percentiles_match_numpy_per_wall_clock_bin(
    data: tuple[np.ndarray, np.ndarray], bin_minutes: int
) -> None:
    times, values = data
    agp = ambulatory_glucose_profile(times, values, T0, T0 + WINDOW, bin_minutes=bin_minutes)
    assert len(agp.bins) == 1440 // bin_minutes
    assert sum(b.readings for b in agp.bins) == agp.readings == times.size
    index = local_minute_of_day(times, PARIS) // bin_minutes
    for k, b in enumerate(agp.bins):
        inside = values[index == k]
        assert b.readings == inside.size
        if inside.size == 0:
            assert b.p50 is None
            continue
        expected = np.percentile(inside, [5, 25, 50, 75, 95])
        got = np.array([b.p5, b.p25, b.p50, b.p75, b.p95], dtype=float)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
        assert np.all(np.diff(got) >= -1e-12)


@PROFILE
@given(
    st.lists(st.integers(min_value=0, max_value=WINDOW - 1), unique=True, max_size=80),
    st.data(),
)
def test_spo2_share_below_is_bounded(minutes: list[int], data: st.DataObject) -> None:
    times = np.array(sorted(minutes), dtype=np.int64) + T0
    values = np.array(
        data.draw(
            st.lists(
                st.floats(min_value=70, max_value=100), min_size=times.size, max_size=times.size
            )
        )
    )
    s = spo2_summary(times, values, T0, T0 + WINDOW)
    json.dumps(s.to_json(), allow_nan=False)
    if s.readings:
        assert s.below_threshold_percent is not None
        assert 0.0 <= s.below_threshold_percent <= 100.0
        assert s.below_threshold_ms <= s.covered_ms
        assert s.min_percent is not None and s.mean_percent is not None
        assert s.min_percent <= s.mean_percent + 1e-9
