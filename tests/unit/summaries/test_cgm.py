"""CGM summary on small hand-computed fixtures (the arithmetic is in the comments)."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime

import numpy as np
import pytest

from hub.core.summaries import PARIS, cgm_summary, gmi_percent

MIN = 60_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a whole minute


def at(*minutes: float) -> np.ndarray:
    return np.array([T0 + round(m * MIN) for m in minutes], dtype=np.int64)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


# --- the time each reading stands for ---------------------------------------------------


def test_a_gap_of_exactly_15_minutes_is_covered() -> None:
    # readings at 0 (100 mg/dL) and 15 min (200): the first stands for 15 min (gap <= 15),
    # the last for the nominal 5 min -> covered 20 min of a 60-min window
    s = cgm_summary(at(0, 15), [100, 200], T0, T0 + 60 * MIN)
    assert s.covered_ms == 20 * MIN
    assert s.active_percent == pytest.approx(100 * 20 / 60)  # 33.33 %
    assert s.tir_70_180_percent == pytest.approx(100 * 15 / 20)  # 75 %
    assert s.tar_above_180_percent == pytest.approx(100 * 5 / 20)  # 25 %


def test_a_gap_of_15_minutes_and_1_ms_is_missing_data() -> None:
    # the gap is now > 15 min: the first reading stands for 5 min only -> 5 + 5 = 10 min
    times = np.array([T0, T0 + 15 * MIN + 1], dtype=np.int64)
    s = cgm_summary(times, [100, 200], T0, T0 + 60 * MIN)
    assert s.covered_ms == 10 * MIN
    assert s.active_percent == pytest.approx(100 * 10 / 60)
    assert s.tir_70_180_percent == pytest.approx(50.0)
    assert s.tar_above_180_percent == pytest.approx(50.0)


def test_the_reading_before_a_long_gap_stands_for_one_nominal_interval() -> None:
    # 0, 5, 10 at 100; then 2 h without data; 130, 135 at 300.
    # weights: 5, 5, 5 (10 is before a 120-min gap: nominal 5), 5, 5 -> 25 min covered
    s = cgm_summary(at(0, 5, 10, 130, 135), [100, 100, 100, 300, 300], T0, T0 + 180 * MIN)
    assert s.covered_ms == 25 * MIN
    assert s.tir_70_180_percent == pytest.approx(100 * 15 / 25)  # 60 %
    assert s.tar_above_250_percent == pytest.approx(100 * 10 / 25)  # 40 %
    # a nominal interval of 1 min (a parameter) changes the reading before the gap only
    s1 = cgm_summary(
        at(0, 5, 10, 130, 135),
        [100, 100, 100, 300, 300],
        T0,
        T0 + 180 * MIN,
        nominal_interval_ms=MIN,
    )
    assert s1.covered_ms == (5 + 5 + 1 + 5 + 1) * MIN


def test_the_last_reading_is_cut_at_the_window_end() -> None:
    # reading at 58 min of a 60-min window stands for 2 min, not 5
    s = cgm_summary(at(55, 58), [100, 40], T0, T0 + 60 * MIN)
    assert s.covered_ms == (3 + 2) * MIN
    assert s.tbr_below_54_percent == pytest.approx(100 * 2 / 5)


def test_readings_outside_the_window_or_masked_are_ignored() -> None:
    times = at(-5, 0, 5, 60)  # -5 before the start, 60 at the (excluded) end
    s = cgm_summary(times, [40, 100, 200, 40], T0, T0 + 60 * MIN)
    assert s.readings == 2
    assert s.tbr_below_70_percent == 0.0
    masked = cgm_summary(at(0, 5), [100, 200], T0, T0 + 60 * MIN, mask=[True, False])
    assert masked.readings == 1
    assert masked.mean_mg_dl == 100.0


# --- mean, SD, CV, GMI -------------------------------------------------------------------


def test_mean_sd_cv_gmi_are_statistics_of_the_readings() -> None:
    # 100, 150, 200 (the middle one stands for 60 min, the others 5: the mean stays per
    # reading): mean 150; sample SD sqrt((50^2 + 0 + 50^2) / 2) = 50; CV 33.33 %;
    # GMI 3.31 + 0.02392 x 150 = 6.898 %
    s = cgm_summary(at(0, 5, 65), [100, 150, 200], T0, T0 + 24 * 60 * MIN)
    assert s.mean_mg_dl == pytest.approx(150.0)
    assert s.sd_mg_dl == pytest.approx(50.0)
    assert s.sd_mg_dl == pytest.approx(statistics.stdev([100, 150, 200]))
    assert s.cv_percent == pytest.approx(100 / 3)
    assert s.gmi_percent == pytest.approx(6.898)
    assert gmi_percent(154.0) == pytest.approx(3.31 + 0.02392 * 154)  # ~ 6.99 %
    assert s.cv_stable is True


def test_boundaries_of_the_ranges() -> None:
    # one reading per value, 5 min each: 53.9 | 54 | 69.9 | 70 | 140 | 140.1 | 180 | 180.1
    # | 250 | 250.1  (10 readings, 50 min)
    values = [53.9, 54, 69.9, 70, 140, 140.1, 180, 180.1, 250, 250.1]
    s = cgm_summary(at(*range(0, 50, 5)), values, T0, T0 + 60 * MIN)
    assert s.tbr_below_54_percent == pytest.approx(10.0)  # 53.9
    assert s.tbr_below_70_percent == pytest.approx(30.0)  # 53.9, 54, 69.9
    assert s.titr_70_140_percent == pytest.approx(20.0)  # 70, 140
    assert s.tir_70_180_percent == pytest.approx(40.0)  # 70, 140, 140.1, 180
    assert s.tar_above_180_percent == pytest.approx(30.0)  # 180.1, 250, 250.1
    assert s.tar_above_250_percent == pytest.approx(10.0)  # 250.1


# --- hypoglycaemia events ----------------------------------------------------------------


def test_exactly_15_minutes_below_70_is_an_event() -> None:
    # 0, 5, 10 at 60 mg/dL stand for 5 min each = 15 min below; then 30 min at 100
    s = cgm_summary(at(0, 5, 10, *range(15, 50, 5)), [60] * 3 + [100] * 7, T0, T0 + MIN * 60)
    assert s.hypo_events_level1 == 1
    assert s.hypo_events_level2 == 0
    (event,) = s.hypo_events
    assert (event.start_ms, event.end_ms, event.nadir_mg_dl) == (T0, T0 + 15 * MIN, 60.0)
    assert event.ended  # 15 min >= 70 followed


def test_14_minutes_59_seconds_below_70_is_not_an_event() -> None:
    # the reading at 100 comes at 14:59 -> the run below covers 899 s < 900 s
    times = [T0, T0 + 5 * MIN, T0 + 10 * MIN, T0 + 14 * MIN + 59_000]
    times += [T0 + 15 * MIN + k * 5 * MIN for k in range(1, 8)]
    s = cgm_summary(np.array(times), [60] * 3 + [100] * 8, T0, T0 + 60 * MIN)
    assert s.hypo_events_level1 == 0
    assert s.tbr_below_70_percent is not None and s.tbr_below_70_percent > 0


def test_an_episode_interrupted_by_10_minutes_above_is_one_event() -> None:
    # below 0-20 (4 readings, 20 min), above 20-30 (2 readings, 10 min), below 30-45 (15 min),
    # then above from 45: the 10 min above do not end the event
    values = [60] * 4 + [100] * 2 + [60] * 3 + [100] * 8
    s = cgm_summary(at(*range(0, 85, 5)), values, T0, T0 + 90 * MIN)
    assert s.hypo_events_level1 == 1
    (event,) = s.hypo_events
    assert (event.start_ms, event.end_ms) == (T0, T0 + 45 * MIN)


def test_an_episode_interrupted_by_15_minutes_above_is_two_events() -> None:
    # below 0-20, above 20-35 (15 min: ends the first event), below 35-50, above from 50
    values = [60] * 4 + [100] * 3 + [60] * 3 + [100] * 8
    s = cgm_summary(at(*range(0, 90, 5)), values, T0, T0 + 90 * MIN)
    assert s.hypo_events_level1 == 2
    assert [(e.start_ms - T0) // MIN for e in s.hypo_events] == [0, 35]
    assert [(e.end_ms - T0) // MIN for e in s.hypo_events] == [20, 50]


def test_short_dips_never_add_up_to_an_event() -> None:
    # 10 min below, 5 above, 10 below, 5 above...: never 15 consecutive minutes below
    values = [60, 60, 100] * 6
    s = cgm_summary(at(*range(0, 90, 5)), values, T0, T0 + 90 * MIN)
    assert s.hypo_events_level1 == 0
    assert s.tbr_below_70_percent == pytest.approx(100 * 2 / 3)


def test_a_level_2_event_is_also_a_level_1_event() -> None:
    # 65, 50, 50, 50, 65, then above: < 70 for 25 min, < 54 for 15 min
    values = [65, 50, 50, 50, 65] + [100] * 5
    s = cgm_summary(at(*range(0, 50, 5)), values, T0, T0 + 60 * MIN)
    assert (s.hypo_events_level1, s.hypo_events_level2, s.hypo_events_level1_only) == (1, 1, 0)
    level1, level2 = sorted(s.hypo_events, key=lambda e: e.level)
    assert (level1.start_ms - T0, level1.end_ms - T0) == (0, 25 * MIN)
    assert (level2.start_ms - T0, level2.end_ms - T0) == (5 * MIN, 20 * MIN)
    assert level1.nadir_mg_dl == level2.nadir_mg_dl == 50.0
    # a second, milder event: the level-1-only count sees it
    more = cgm_summary(at(*range(0, 100, 5)), values + [65, 65, 65] + [100] * 7, T0, T0 + 120 * MIN)
    assert (more.hypo_events_level1, more.hypo_events_level2, more.hypo_events_level1_only) == (
        2,
        1,
        1,
    )


def test_a_gap_breaks_consecutive_minutes_and_ends_an_event() -> None:
    # 0, 5 below (10 min), gap of 20 min, 25, 30 below: never 15 consecutive covered minutes
    # (the reading at 5 stands for 5 min; runs never span a gap)
    s = cgm_summary(
        at(0, 5, 25, 30, 35, 40, 45), [60, 60, 60, 60, 100, 100, 100], T0, T0 + 60 * MIN
    )
    assert s.hypo_events_level1 == 0
    # below 0-15 (event), gap, below again 40-55: the gap ends the first event (data stop,
    # ended=False), the second run starts a new one
    times = at(0, 5, 10, 40, 45, 50, *range(55, 90, 5))
    values = [60, 60, 60, 60, 60, 60] + [100] * 7
    s2 = cgm_summary(times, values, T0, T0 + 120 * MIN)
    assert s2.hypo_events_level1 == 2
    first, second = s2.hypo_events
    assert (first.end_ms - T0, first.ended) == (15 * MIN, False)
    assert (second.start_ms - T0, second.ended) == (40 * MIN, True)


def test_an_event_running_at_the_window_end_is_counted_and_open() -> None:
    s = cgm_summary(at(40, 45, 50, 55), [60, 55, 60, 60], T0, T0 + 60 * MIN)
    assert s.hypo_events_level1 == 1
    assert not s.hypo_events[0].ended
    assert s.hypo_events[0].end_ms == T0 + 60 * MIN  # 55 stands for 5 min, up to the end


# --- empty, single reading, sufficiency, time zone ---------------------------------------


def test_empty_input_gives_none_metrics_and_valid_json() -> None:
    s = cgm_summary(np.zeros(0, dtype=np.int64), np.zeros(0), T0, T0 + 14 * 1440 * MIN)
    assert (s.readings, s.sufficient, s.active_percent) == (0, False, 0.0)
    assert s.window_sufficient and not s.active_sufficient
    payload = s.to_json()
    for key in (
        "mean_mg_dl",
        "sd_mg_dl",
        "cv_percent",
        "gmi_percent",
        "tir_70_180_percent",
        "titr_70_140_percent",
        "tbr_below_70_percent",
        "tbr_below_54_percent",
        "tar_above_180_percent",
        "tar_above_250_percent",
        "hypo_events_level1",
        "hypo_events_level2",
    ):
        assert payload[key] is None, key
    text = json.dumps(payload, allow_nan=False)
    assert '"from": "2026-01-01T00:00:00Z"' in text
    assert '"to": "2026-01-15T00:00:00Z"' in text


def test_a_single_reading() -> None:
    s = cgm_summary(at(10), [42.0], T0, T0 + 60 * MIN)
    assert (s.readings, s.mean_mg_dl, s.sd_mg_dl, s.cv_percent) == (1, 42.0, None, None)
    assert s.covered_ms == 5 * MIN
    assert s.tbr_below_54_percent == 100.0 and s.tir_70_180_percent == 0.0
    assert s.hypo_events_level1 == 0  # 5 minutes below is no event
    json.dumps(s.to_json(), allow_nan=False)


def test_sufficiency_needs_14_calendar_days_and_70_percent_active() -> None:
    # 14 days, one reading every 5 min except a hole of 4.2 days -> 70 % active exactly
    start, days = T0, 14
    times = np.arange(start, start + days * 1440 * MIN, 5 * MIN, dtype=np.int64)
    hole = int(0.3 * times.size)  # 30 % of the readings removed, at the end
    kept = times[: times.size - hole]
    s = cgm_summary(kept, np.full(kept.size, 120.0), start, start + days * 1440 * MIN)
    assert s.active_percent == pytest.approx(100.0 * kept.size / times.size)
    assert s.active_percent >= 70.0 and s.window_sufficient and s.sufficient
    fewer = kept[:-1]
    s2 = cgm_summary(fewer, np.full(fewer.size, 120.0), start, start + days * 1440 * MIN)
    assert s2.active_percent < 70.0 and not s2.sufficient
    short = cgm_summary(kept, np.full(kept.size, 120.0), start, start + 13 * 1440 * MIN)
    assert not short.window_sufficient and not short.sufficient


def test_14_days_across_the_spring_change_are_14_days_of_335_hours() -> None:
    start = ms("2026-03-22T00:00:00+01:00")
    end = ms("2026-04-05T00:00:00+02:00")
    assert (end - start) == 335 * 60 * MIN
    times = np.arange(start, end, 5 * MIN, dtype=np.int64)
    s = cgm_summary(times, np.full(times.size, 110.0), start, end, PARIS)
    assert s.window_days == 14.0
    assert s.window_sufficient and s.sufficient
    assert s.active_percent == 100.0
    # and one hour short of it is not
    assert not cgm_summary(times, np.full(times.size, 110.0), start, end - 60 * MIN).sufficient


def test_unsorted_input_gives_the_same_summary() -> None:
    times = at(0, 5, 10, 15, 20, 25)
    values = np.array([60, 61, 62, 150, 190, 260.0])
    order = [3, 0, 5, 1, 4, 2]
    assert cgm_summary(times[order], values[order], T0, T0 + 60 * MIN) == cgm_summary(
        times, values, T0, T0 + 60 * MIN
    )


def test_invalid_input_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        cgm_summary(at(0), [100], T0, T0)
    with pytest.raises(ValueError, match="integers"):
        cgm_summary(np.array([1.5]), [100], T0, T0 + MIN)
    with pytest.raises(ValueError, match="shape"):
        cgm_summary(at(0, 5), [100], T0, T0 + 60 * MIN)
    with pytest.raises(ValueError, match="finite"):
        cgm_summary(at(0), [float("nan")], T0, T0 + 60 * MIN)


def test_json_carries_every_field_the_api_serves() -> None:
    s = cgm_summary(at(0, 5, 10, 15), [60, 60, 60, 100], T0, T0 + 60 * MIN)
    payload = json.loads(json.dumps(s.to_json(), allow_nan=False))
    required = {
        "algorithm_version",
        "from",
        "to",
        "readings",
        "sufficient",
        "active_percent",
        "mean_mg_dl",
        "sd_mg_dl",
        "cv_percent",
        "gmi_percent",
        "tir_70_180_percent",
        "titr_70_140_percent",
        "tbr_below_70_percent",
        "tbr_below_54_percent",
        "tar_above_180_percent",
        "tar_above_250_percent",
        "hypo_events_level1",
        "hypo_events_level2",
    }
    assert required <= payload.keys()
    assert payload["algorithm_version"] == "cgm-1.0"
    assert (payload["from"], payload["to"]) == ("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
    # 0, 5, 10 at 60 (15 min) then 100 (5 min): 20 min covered of 60
    assert payload["active_percent"] == pytest.approx(100 / 3)
    assert payload["tbr_below_70_percent"] == pytest.approx(75.0)
    assert payload["hypo_events_level1"] == 1
    assert payload["hypo_events"] == [
        {
            "level": 1,
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-01T00:15:00Z",
            "duration_min": 15.0,
            "nadir_mg_dl": 60.0,
            "ended": False,  # only 5 min >= 70 followed before the data stopped
        }
    ]
