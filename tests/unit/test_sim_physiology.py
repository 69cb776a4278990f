"""The simulator's physiological generators: seeded, reproducible, and plausible.

The statistical bounds tested here are the ones documented in docs/simulator.md; each holds
for every seed tried (12 people per scenario, one week each, a dozen seeds in CI).
"""

from __future__ import annotations

import numpy as np
import pytest

from gateway_firmware_sim.physiology._episodes import Episode
from gateway_firmware_sim.physiology._random import generator, normal_at, stream_key
from gateway_firmware_sim.physiology.glucose import (
    CgmSensor,
    GlucoseModel,
    GlucoseScenario,
    cgm_metrics,
    hypo_events,
)
from gateway_firmware_sim.physiology.heart_rate import HeartRateModel
from gateway_firmware_sim.physiology.oximetry import OximetryModel
from gateway_firmware_sim.physiology.person import Conditions, Person
from gateway_firmware_sim.physiology.pressure import BloodPressureModel, BpVariant
from gateway_firmware_sim.physiology.temperature import FEVER_THRESHOLD, TemperatureModel
from gateway_firmware_sim.physiology.weight import FluidEpisode, WeightModel
from gateway_firmware_sim.timebase import DAY, HOUR, local_hours

T0 = 1_764_000_000.0  # 2025-11-24T16:00:00Z
WEEK = 7 * DAY
PARIS = 3600.0
SEEDS = range(12)

# scenario -> (mean range, TIR range, max TBR<70, min TBR<54, max TAR>250, min TAR>180)
GLUCOSE_BOUNDS: dict[GlucoseScenario, dict[str, tuple[float, float]]] = {
    GlucoseScenario.NON_DIABETIC: {
        "mean": (85, 120),
        "tir": (95, 100),
        "tbr70": (0, 3),
        "tbr54": (0, 0.5),
        "tar250": (0, 0.5),
    },
    GlucoseScenario.T2D_CONTROLLED: {
        "mean": (115, 170),
        "tir": (70, 100),
        "tbr70": (0, 1),
        "tbr54": (0, 0.5),
        "tar250": (0, 5),
    },
    GlucoseScenario.T2D_UNCONTROLLED: {
        "mean": (165, 235),
        "tir": (10, 70),
        "tbr70": (0, 1),
        "tbr54": (0, 0.5),
        "tar250": (0.5, 35),
    },
    GlucoseScenario.T1D: {
        "mean": (135, 195),
        "tir": (40, 88),
        "tbr70": (0, 8),
        "tbr54": (0, 4),
        "tar250": (0, 20),
    },
    GlucoseScenario.T1D_HYPO_PRONE: {
        "mean": (120, 170),
        "tir": (50, 90),
        "tbr70": (1, 15),
        "tbr54": (0.5, 8),
        "tar250": (0, 15),
    },
}


def _week(scenario: GlucoseScenario, seed: int) -> tuple[np.ndarray, np.ndarray]:
    key = f"pat-{seed}"
    model = GlucoseModel.create(seed, key, scenario, PARIS)
    trace = CgmSensor(seed, key).trace(model, T0, T0 + WEEK)
    return trace.times, trace.values


# --- reproducibility ---------------------------------------------------------------------


def test_a_trace_depends_on_the_seed_and_time_only_not_on_how_it_is_chunked() -> None:
    model = GlucoseModel.create(3, "p", GlucoseScenario.T1D, PARIS)
    sensor = CgmSensor(3, "p")
    whole = sensor.trace(model, T0, T0 + 2 * DAY)
    parts = [sensor.trace(model, T0 + k * 3 * HOUR, T0 + (k + 1) * 3 * HOUR) for k in range(16)]
    assert np.array_equal(whole.times, np.concatenate([p.times for p in parts]))
    assert np.array_equal(whole.values, np.concatenate([p.values for p in parts]))
    fresh = GlucoseModel.create(3, "p", GlucoseScenario.T1D, PARIS)
    assert np.array_equal(sensor.trace(fresh, T0, T0 + 2 * DAY).values, whole.values)


def test_another_seed_gives_another_person() -> None:
    a = _week(GlucoseScenario.T2D_CONTROLLED, 1)[1]
    b = _week(GlucoseScenario.T2D_CONTROLLED, 2)[1]
    assert not np.array_equal(a[:100], b[:100])


def test_noise_is_a_function_of_time() -> None:
    key = stream_key(1, "x")
    t = np.arange(T0, T0 + 1000, 10.0)
    assert np.array_equal(normal_at(key, t), normal_at(key, t))
    assert np.array_equal(normal_at(key, t)[5:], normal_at(key, t[5:]))
    sample = normal_at(key, np.arange(0, 200_000, 1.0))
    assert abs(sample.mean()) < 0.02
    assert 0.98 < sample.std() < 1.02


def test_streams_are_named_not_ordered() -> None:
    first = generator(7, "patient", "meals", 20000).random(3)
    generator(7, "patient", "other").random(10)
    assert np.array_equal(first, generator(7, "patient", "meals", 20000).random(3))


@pytest.mark.parametrize(
    "make",
    [
        lambda: BloodPressureModel.create(5, "p", BpVariant.WHITE_COAT, PARIS).readings(
            T0, T0 + WEEK
        ),
        lambda: WeightModel.create(5, "p", PARIS, heart_failure=True).readings(T0, T0 + WEEK),
        lambda: OximetryModel.create(5, "p", PARIS, copd=True, resting_pulse=70).overnight(
            T0, T0 + WEEK
        ),
        lambda: TemperatureModel.create(5, "p", PARIS, fevers_per_day=0.2).readings(T0, T0 + WEEK),
        lambda: HeartRateModel.create(5, "p", PARIS).samples(T0, T0 + WEEK),
    ],
    ids=["pressure", "weight", "oximetry", "temperature", "heart-rate"],
)
def test_every_generator_is_reproducible(make: object) -> None:
    assert callable(make)
    first, second = make(), make()
    assert first
    assert first == second


def test_readings_do_not_depend_on_the_window_split() -> None:
    model = BloodPressureModel.create(9, "p", BpVariant.MORNING_SURGE, PARIS)
    whole = model.readings(T0, T0 + 3 * DAY)
    split = [
        r for k in range(36) for r in model.readings(T0 + k * 2 * HOUR, T0 + (k + 1) * 2 * HOUR)
    ]
    assert whole == split


# --- glucose statistics (docs/simulator.md) ----------------------------------------------


@pytest.mark.parametrize("scenario", list(GlucoseScenario))
def test_cgm_statistics_stay_within_the_documented_bounds(scenario: GlucoseScenario) -> None:
    bounds = GLUCOSE_BOUNDS[scenario]
    for seed in SEEDS:
        _, values = _week(scenario, seed)
        m = cgm_metrics(values)
        observed = {
            "mean": m.mean,
            "tir": m.tir_pct,
            "tbr70": m.tbr70_pct,
            "tbr54": m.tbr54_pct,
            "tar250": m.tar250_pct,
        }
        for name, (low, high) in bounds.items():
            assert low <= observed[name] <= high, (
                f"{scenario} seed {seed}: {name} {observed[name]:.1f}"
            )
        assert values.min() >= 40 and values.max() <= 400


def test_hypo_prone_type_1_has_level_2_hypoglycaemia_every_week() -> None:
    for seed in SEEDS:
        times, values = _week(GlucoseScenario.T1D_HYPO_PRONE, seed)
        assert hypo_events(times, values, below=54) >= 1, f"seed {seed}"
        assert hypo_events(times, values, below=70) >= 2, f"seed {seed}"


def test_no_hypoglycaemia_without_diabetes_treatment() -> None:
    for seed in SEEDS:
        for scenario in (GlucoseScenario.T2D_CONTROLLED, GlucoseScenario.T2D_UNCONTROLLED):
            times, values = _week(scenario, seed)
            assert hypo_events(times, values, below=54) == 0


def test_meals_raise_glucose_and_the_night_is_flatter() -> None:
    model = GlucoseModel.create(4, "p", GlucoseScenario.T2D_CONTROLLED, PARIS)
    t = np.arange(T0, T0 + WEEK, 300.0)
    blood = model.blood(t)
    for day in range(20416, 20422):
        for meal in model.meals(day):
            if meal.carbs_g >= 40:
                before = float(model.blood([meal.time - 600])[0])
                peak = float(model.blood(np.arange(meal.time, meal.time + 3 * HOUR, 300.0)).max())
                assert peak - before > 25
    hours = local_hours(t, PARIS)
    night = blood[(hours >= 2) & (hours < 4)]
    evening = blood[(hours >= 19) & (hours < 23)]
    assert night.std() < evening.std()


def test_a_cgm_session_has_a_warm_up_gap_without_readings() -> None:
    sensor = CgmSensor(1, "p")
    model = GlucoseModel.create(1, "p", GlucoseScenario.T1D, PARIS)
    session = sensor.session_at(T0 + 20 * DAY)
    trace = sensor.trace(model, session.start - 2 * HOUR, session.start + 3 * HOUR)
    assert trace.times.size > 0
    in_warm_up = (trace.times >= session.start) & (trace.times < session.first_reading)
    assert not in_warm_up.any()
    assert (trace.times >= session.first_reading).any()
    assert np.all(np.diff(trace.times[trace.times >= session.first_reading]) >= 300)


def test_exercise_lowers_glucose() -> None:
    model = GlucoseModel.create(2, "p", GlucoseScenario.T1D, PARIS)
    found = 0
    for day in range(20400, 20440):
        for session in model.exercise(day):
            before = model._base(np.array([session.start]))[0]
            end = model._base(np.array([session.start + session.duration_s]))[0]
            meals = model.meals(day)
            if all(abs(m.time - session.start) > 4 * HOUR for m in meals):
                assert end < before
            found += 1
    assert found > 5


# --- blood pressure -----------------------------------------------------------------------


def _pressures(variant: BpVariant, seed: int) -> dict[str, list[int]]:
    model = BloodPressureModel.create(seed, f"p{seed}", variant, PARIS)
    by_session: dict[str, list[int]] = {"morning": [], "evening": [], "nurse": []}
    for reading in model.readings(T0, T0 + 4 * WEEK):
        by_session[reading.session].append(reading.systolic)
    return by_session


def test_morning_surge_variant_surges_and_the_others_less() -> None:
    for seed in SEEDS:
        surge = _pressures(BpVariant.MORNING_SURGE, seed)
        normal = _pressures(BpVariant.NORMOTENSIVE, seed)
        assert np.mean(surge["morning"]) - np.mean(surge["evening"]) >= 20
        assert np.mean(normal["morning"]) - np.mean(normal["evening"]) < 15


def test_white_coat_is_normal_at_home_and_high_with_the_nurse() -> None:
    for seed in SEEDS:
        p = _pressures(BpVariant.WHITE_COAT, seed)
        home = p["morning"] + p["evening"]
        assert np.mean(home) < 135
        assert np.mean(p["nurse"]) >= 140
        assert np.mean(p["nurse"]) - np.mean(home) >= 15


def test_home_protocol_two_readings_a_minute_apart_with_consistent_values() -> None:
    model = BloodPressureModel.create(1, "p", BpVariant.HYPERTENSIVE, PARIS, resting_pulse=64)
    readings = model.readings(T0, T0 + WEEK)
    assert 20 <= len(readings) <= 30
    firsts = [r for r in readings if r.index == 0]
    for first in firsts:
        second = [r for r in readings if r.index == 1 and 59 <= r.time - first.time <= 61]
        assert second
    for r in readings:
        assert 90 <= r.systolic <= 200 and 50 <= r.diastolic <= 120
        assert r.diastolic < r.mean_arterial < r.systolic
        assert 45 <= r.pulse <= 100


# --- weight -------------------------------------------------------------------------------


def test_heart_failure_fluid_gain_is_two_kg_in_three_days() -> None:
    for seed in SEEDS:
        onset = T0 + 2 * DAY
        model = WeightModel.create(
            seed, f"p{seed}", PARIS, heart_failure=False, planned=(FluidEpisode(onset, 2.4),)
        )
        gain = model.true_weight([onset + 3 * DAY])[0] - model.true_weight([onset])[0]
        assert gain >= 2.0, f"seed {seed}: {gain:.2f}"
        readings = model.readings(T0, T0 + 10 * DAY)
        before = [r.kg for r in readings if onset - 2 * DAY <= r.time < onset]
        during = [r.kg for r in readings if onset + 3 * DAY <= r.time < onset + 4 * DAY]
        if before and during:
            assert max(during) - np.mean(before) >= 1.5
        # and it is lost again once treated
        assert model.fluid([onset + 8 * DAY])[0] == pytest.approx(0.0)


def test_weight_without_episode_stays_within_a_kilo_over_a_week() -> None:
    for seed in SEEDS:
        model = WeightModel.create(seed, f"p{seed}", PARIS)
        kgs = [r.kg for r in model.readings(T0, T0 + WEEK)]
        assert 5 <= len(kgs) <= 7
        assert max(kgs) - min(kgs) < 1.8
        assert all(k == round(k, 1) for k in kgs)


def test_heart_failure_patients_have_episodes_about_monthly() -> None:
    episodes = 0
    for seed in range(30):
        model = WeightModel.create(seed, f"p{seed}", PARIS, heart_failure=True)
        episodes += len(model.episodes(T0, T0 + 30 * DAY))
    assert 15 <= episodes <= 50


# --- oximetry, temperature, heart rate ----------------------------------------------------


def test_copd_nights_show_desaturations_and_healthy_days_do_not() -> None:
    for seed in SEEDS:
        copd = OximetryModel.create(seed, f"p{seed}", PARIS, copd=True, resting_pulse=70)
        night = copd.overnight(T0, T0 + 3 * WEEK)
        assert night
        dips = [r for r in night if r.spo2 <= copd.baseline - 3]
        assert dips, f"seed {seed}"
        healthy = OximetryModel.create(seed, f"p{seed}", PARIS, copd=False, resting_pulse=70)
        spots = healthy.spot_checks(T0, T0 + WEEK)
        assert len(spots) >= 15
        assert all(94 <= r.spo2 <= 100 for r in spots)


def test_fever_episode_rises_above_38_and_resolves() -> None:
    for seed in SEEDS:
        onset = T0 + DAY
        fever = Episode(onset, (39.0, 8 * HOUR, 2 * DAY, 18 * HOUR))
        model = TemperatureModel.create(seed, f"p{seed}", PARIS, fevers_per_day=0, planned=(fever,))
        readings = model.readings(T0, T0 + WEEK)
        febrile = [r for r in readings if onset + 8 * HOUR <= r.time < onset + 2 * DAY]
        assert febrile and max(r.celsius for r in febrile) >= 38.0
        assert max(model.core(np.arange(onset, onset + 3 * DAY, 600.0))) >= FEVER_THRESHOLD
        after = [r.celsius for r in readings if r.time > onset + 4 * DAY]
        assert after and max(after) < 37.8
        # measured more often while feverish
        per_day_febrile = len(febrile) / 1.7
        per_day_after = len(after) / max(1e-9, (T0 + WEEK - onset - 4 * DAY) / DAY)
        assert per_day_febrile > per_day_after


def test_no_fever_no_febrile_reading() -> None:
    model = TemperatureModel.create(1, "p", PARIS, fevers_per_day=0)
    readings = model.readings(T0, T0 + 2 * WEEK)
    assert all(35.5 <= r.celsius <= 37.6 for r in readings)


def test_heart_rate_at_rest_and_during_effort() -> None:
    model = HeartRateModel.create(3, "p", PARIS, age=60, resting=65)
    samples = model.samples(T0, T0 + 2 * WEEK)
    assert samples
    rest = [s.bpm for s in samples if s.phase == "rest"]
    effort = [s.bpm for s in samples if s.phase == "effort"]
    assert 55 <= np.mean(rest) <= 75
    assert np.mean(effort) - np.mean(rest) >= 30
    assert max(effort) <= model.maximum
    for s in samples:
        assert abs(1024 * 60 / s.rr_1024[0] - s.bpm) < 0.1 * s.bpm
    energies = [s.energy_kj for s in samples]
    assert max(energies) > 0


def test_person_models_follow_conditions() -> None:
    person = Person.create(1, "pat-x", PARIS, Conditions(copd=True, cardiac_rehab=True))
    assert person.oximetry.copd
    assert person.heart.sessions_per_week == 3.0
    assert person.temperature.fevers_per_day > 0
    assert not person.weight.heart_failure
