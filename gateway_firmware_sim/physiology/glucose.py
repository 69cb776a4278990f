"""Blood glucose of one simulated person, and the CGM metrics used to check it.

Pure: seed, scenario and times in, mg/dL out. The blood glucose at time ``t`` is::

    fasting level + dawn rise + slow drift + meal responses + exercise dips
        - hypoglycaemia episodes (+ the rebound of their treatment)

* **meals** — breakfast, lunch, an optional snack and dinner at jittered local times, each
  with its carbohydrates; the response is a gamma-like curve peaking ``meal_peak_min`` after
  the meal, its height ``meal_gain`` mg/dL per gram with a per-meal spread;
* **circadian rhythm** — the dawn phenomenon, a rise centred on 06:00 local;
* **slow drift** — a sum of sinusoids (periods 3-30 h) standing for everything unmodelled;
* **exercise** — afternoon sessions lower glucose while they last and for about an hour after;
* **hypoglycaemia** — episodes (half of them at night) that pull glucose down to a nadir of
  40-60 mg/dL, hold it there 15-45 min, then the treatment's rebound.

The interstitial glucose a CGM sees lags the blood by :data:`ISF_LAG_S` (8 min). Every
draw comes from a stream named by (seed, person, kind, local day), so a trace does not depend
on how it is chunked. The scenario table and the statistics each scenario is tested against
are in ``docs/simulator.md``.
"""

from __future__ import annotations

import enum
import functools
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gateway_firmware_sim.physiology._random import FloatArray, generator, normal_at, stream_key
from gateway_firmware_sim.timebase import DAY, HOUR, MINUTE, Zone, day_start, local_day, local_hours

ISF_LAG_S = 8 * MINUTE
GLUCOSE_FLOOR = 39.0


class GlucoseScenario(enum.StrEnum):
    NON_DIABETIC = "non-diabetic"
    T2D_CONTROLLED = "t2d-controlled"
    T2D_UNCONTROLLED = "t2d-uncontrolled"
    T1D = "t1d"
    T1D_HYPO_PRONE = "t1d-hypo-prone"


@dataclass(frozen=True, slots=True)
class GlucoseParams:
    fasting: tuple[float, float]  # mg/dL, drawn per person in this range
    meal_gain: float  # mg/dL at the peak, per gram of carbohydrate
    meal_peak_min: float
    meal_spread: float  # log-normal sd of one meal's response
    dawn: float  # mg/dL at 06:00
    slow_sd: float  # mg/dL
    hypo_per_week: float
    exercise_per_week: float
    exercise_drop: float  # mg/dL at the end of a session


SCENARIOS: dict[GlucoseScenario, GlucoseParams] = {
    GlucoseScenario.NON_DIABETIC: GlucoseParams((88, 96), 0.75, 40, 0.20, 5, 5, 0.0, 2.0, 10),
    GlucoseScenario.T2D_CONTROLLED: GlucoseParams((112, 126), 1.15, 60, 0.25, 14, 10, 0.0, 1.5, 18),
    GlucoseScenario.T2D_UNCONTROLLED: GlucoseParams(
        (152, 170), 1.45, 75, 0.30, 22, 20, 0.0, 0.5, 20
    ),
    # Type 1: the spread of meal responses (insulin dosing errors) and the slow drift are
    # set so that the median CV over 12 people x 14 days is 36-38 %, as in real-world type 1
    # cohorts (Dunn et al., Diabetes Technol Ther 2024: CV 36-38 %; tested in
    # tests/unit/summaries/test_simulated_population.py).
    GlucoseScenario.T1D: GlucoseParams((120, 140), 1.60, 55, 0.65, 25, 35, 2.0, 2.0, 35),
    GlucoseScenario.T1D_HYPO_PRONE: GlucoseParams((110, 125), 1.50, 55, 0.50, 18, 28, 7.0, 3.0, 45),
}


@dataclass(frozen=True, slots=True)
class Meal:
    time: float  # UTC epoch seconds
    kind: str  # breakfast, lunch, snack, dinner
    carbs_g: float
    rise: float  # mg/dL at the peak


@dataclass(frozen=True, slots=True)
class ExerciseSession:
    start: float
    duration_s: float
    drop: float


@dataclass(frozen=True, slots=True)
class HypoEpisode:
    center: float  # middle of the time at the nadir
    nadir: float
    down_s: float
    hold_s: float
    up_s: float
    rebound: float


def _gamma_curve(tau: FloatArray, peak_s: float) -> FloatArray:
    """0 before the event, 1 at ``peak_s`` after it, a long tail after."""
    x = np.clip(tau, 0.0, None) / peak_s
    return np.asarray(x * np.exp(1.0 - x), dtype=np.float64)


def _raised(x: FloatArray) -> FloatArray:
    """Smooth step from 0 (x <= 0) to 1 (x >= 1)."""
    clipped = np.clip(x, 0.0, 1.0)
    return np.asarray(0.5 - 0.5 * np.cos(np.pi * clipped), dtype=np.float64)


@dataclass(slots=True)
class GlucoseModel:
    """The glucose of one person. Build with :meth:`create`; evaluate with :meth:`blood`."""

    seed: int
    key: str
    scenario: GlucoseScenario
    zone: Zone
    fasting: float
    slow_periods_s: FloatArray
    slow_phases: FloatArray
    slow_amplitude: float
    _meals: dict[int, tuple[Meal, ...]] = field(default_factory=dict)
    _exercise: dict[int, tuple[ExerciseSession, ...]] = field(default_factory=dict)
    _hypos: dict[int, tuple[HypoEpisode, ...]] = field(default_factory=dict)

    @classmethod
    def create(
        cls, seed: int, key: str, scenario: GlucoseScenario, zone: Zone = 0.0
    ) -> GlucoseModel:
        params = SCENARIOS[scenario]
        rng = generator(seed, key, "glucose")
        components = 5
        return cls(
            seed=seed,
            key=key,
            scenario=scenario,
            zone=zone,
            fasting=float(rng.uniform(*params.fasting)),
            slow_periods_s=rng.uniform(3, 30, components) * HOUR,
            slow_phases=rng.uniform(0, 2 * math.pi, components),
            slow_amplitude=params.slow_sd * math.sqrt(2 / components),
        )

    @property
    def params(self) -> GlucoseParams:
        return SCENARIOS[self.scenario]

    # --- the day's events, each from its own seeded stream ---------------------------------

    def meals(self, day: int) -> tuple[Meal, ...]:
        cached = self._meals.get(day)
        if cached is not None:
            return cached
        params = self.params
        rng = generator(self.seed, self.key, "meals", day)
        midnight = day_start(day, self.zone)
        plan = (
            ("breakfast", 7.0, 0.90, (30, 60)),
            ("lunch", 12.0, 0.97, (45, 85)),
            ("snack", 15.5, 0.35, (10, 25)),
            ("dinner", 19.0, 0.97, (45, 85)),
        )
        meals = []
        for kind, hour, probability, carbs_range in plan:
            eaten = rng.random() < probability
            when = midnight + (hour + rng.uniform(0, 1.5)) * HOUR
            carbs = float(rng.uniform(*carbs_range))
            spread = float(rng.lognormal(0.0, params.meal_spread))
            if eaten:
                meals.append(Meal(when, kind, round(carbs), carbs * params.meal_gain * spread))
        self._meals[day] = result = tuple(meals)
        return result

    def exercise(self, day: int) -> tuple[ExerciseSession, ...]:
        cached = self._exercise.get(day)
        if cached is not None:
            return cached
        params = self.params
        rng = generator(self.seed, self.key, "exercise", day)
        sessions: tuple[ExerciseSession, ...] = ()
        if rng.random() < params.exercise_per_week / 7:
            start = day_start(day, self.zone) + (17.0 + rng.uniform(0, 1.5)) * HOUR
            sessions = (
                ExerciseSession(
                    start,
                    rng.uniform(30, 60) * MINUTE,
                    params.exercise_drop * rng.uniform(0.6, 1.2),
                ),
            )
        self._exercise[day] = sessions
        return sessions

    def hypos(self, day: int) -> tuple[HypoEpisode, ...]:
        cached = self._hypos.get(day)
        if cached is not None:
            return cached
        rng = generator(self.seed, self.key, "hypo", day)
        count = int(rng.poisson(self.params.hypo_per_week / 7))
        midnight = day_start(day, self.zone)
        episodes = []
        for _ in range(count):
            nocturnal = rng.random() < 0.5
            hour = 1.5 + rng.uniform(0, 4) if nocturnal else 10 + rng.uniform(0, 8)
            episodes.append(
                HypoEpisode(
                    center=midnight + hour * HOUR,
                    nadir=float(rng.uniform(40, 60)),
                    down_s=rng.uniform(30, 60) * MINUTE,
                    hold_s=rng.uniform(15, 45) * MINUTE,
                    up_s=rng.uniform(15, 30) * MINUTE,
                    rebound=float(rng.uniform(25, 50)),
                )
            )
        self._hypos[day] = result = tuple(episodes)
        return result

    # --- evaluation -------------------------------------------------------------------------

    def _days(self, t: FloatArray) -> range:
        first = local_day(float(t.min()), self.zone)
        last = local_day(float(t.max()), self.zone)
        return range(first - 1, last + 1)  # yesterday's dinner still acts after midnight

    def _base(self, t: FloatArray) -> FloatArray:
        params = self.params
        hours = local_hours(t, self.zone)
        value = self.fasting + params.dawn * np.exp(-((hours - 6.0) ** 2) / (2 * 1.2**2))
        for period, phase in zip(self.slow_periods_s, self.slow_phases, strict=True):
            value = value + self.slow_amplitude * np.sin(2 * np.pi * t / period + phase)
        peak = params.meal_peak_min * MINUTE
        for day in self._days(t):
            for meal in self.meals(day):
                value = value + meal.rise * _gamma_curve(t - meal.time, peak)
            for session in self.exercise(day):
                tau = t - session.start
                during = np.clip(tau / session.duration_s, 0.0, 1.0)
                after = np.exp(-np.clip(tau - session.duration_s, 0.0, None) / HOUR)
                value = value - session.drop * np.where(tau < 0, 0.0, during * after)
        return np.asarray(value, dtype=np.float64)

    def blood(self, times: FloatArray | list[float]) -> FloatArray:
        """Blood glucose (mg/dL) at each UTC time."""
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        value = self._base(t)
        for day in self._days(t):
            for episode in self.hypos(day):
                depth = max(0.0, float(self._base(np.array([episode.center]))[0]) - episode.nadir)
                hold_start = episode.center - episode.hold_s / 2
                hold_end = episode.center + episode.hold_s / 2
                down = _raised((t - (hold_start - episode.down_s)) / episode.down_s)
                up = 1.0 - _raised((t - hold_end) / episode.up_s)
                shape = np.where(t < hold_start, down, np.where(t <= hold_end, 1.0, up))
                value = value - depth * shape
                value = value + episode.rebound * _gamma_curve(t - hold_end, 30 * MINUTE)
        return np.asarray(np.maximum(value, GLUCOSE_FLOOR), dtype=np.float64)

    def interstitial(self, times: FloatArray | list[float]) -> FloatArray:
        """Interstitial glucose (what a CGM senses): the blood value :data:`ISF_LAG_S` ago."""
        return self.blood(np.atleast_1d(np.asarray(times, dtype=np.float64)) - ISF_LAG_S)


# --- what sensors and meters report ---------------------------------------------------------

CGM_INTERVAL_S = 5 * MINUTE
CGM_RANGE = (40, 400)  # what a sensor reports; beyond it, LO / HI


@dataclass(frozen=True, slots=True)
class SensorSession:
    number: int
    start: float  # when the sensor was inserted (UTC)
    end: float  # when it expires
    bias: float  # calibration error of this sensor, relative

    @property
    def first_reading(self) -> float:
        return self.start + CgmSensor.WARMUP_S


@dataclass(frozen=True, slots=True)
class CgmTrace:
    times: FloatArray  # UTC
    values: FloatArray  # mg/dL, whole numbers within CGM_RANGE
    sessions: npt.NDArray[np.int64]  # session number of each reading


@functools.lru_cache(maxsize=4096)
def _sensor_phase(seed: int, key: str, length: float) -> float:
    """Where a sensor's 14-day cycle starts (seeded; cached: asked on every fleet step)."""
    return float(generator(seed, key, "sensor-phase").uniform(0, length))


@dataclass(frozen=True, slots=True)
class CgmSensor:
    """Sensor sessions (a new sensor every ``session_days``), their 1-hour warm-up with no
    readings, signal-loss gaps, a calibration bias per sensor and measurement noise."""

    seed: int
    key: str
    session_days: float = 14.0
    dropouts_per_day: float = 0.3
    WARMUP_S = HOUR

    @property
    def _length(self) -> float:
        return self.session_days * DAY

    def _phase(self) -> float:
        return _sensor_phase(self.seed, self.key, self._length)

    def session(self, number: int) -> SensorSession:
        rng = generator(self.seed, self.key, "sensor", number)
        expiry = self._phase() + (number + 1) * self._length
        start = self._phase() + number * self._length + rng.uniform(0.0, 3.0) * HOUR
        return SensorSession(number, start, expiry, float(rng.normal(0.0, 0.03)))

    def session_at(self, t: float) -> SensorSession:
        """The session worn at ``t`` (its start may still be ahead: between two sensors)."""
        number = math.floor((t - self._phase()) / self._length)
        return self.session(number)

    def _gaps(self, t0: float, t1: float) -> list[tuple[float, float]]:
        gaps = []
        for day in range(math.floor(t0 / DAY) - 1, math.floor(t1 / DAY) + 1):
            rng = generator(self.seed, self.key, "signal-loss", day)
            for _ in range(int(rng.poisson(self.dropouts_per_day))):
                start = day * DAY + rng.uniform(0, DAY)
                gaps.append((start, start + rng.uniform(15, 60) * MINUTE))
        return gaps

    def trace(self, model: GlucoseModel, t0: float, t1: float) -> CgmTrace:
        """Every reading the sensor takes in ``[t0, t1)``, on its 5-minute grid."""
        times: list[FloatArray] = []
        numbers: list[npt.NDArray[np.int64]] = []
        biases: list[FloatArray] = []
        number = self.session_at(t0).number
        while True:
            session = self.session(number)
            if session.start >= t1:
                break
            first = session.first_reading
            n0 = max(0, math.ceil((t0 - first) / CGM_INTERVAL_S))
            n1 = math.ceil((min(t1, session.end) - first) / CGM_INTERVAL_S)
            if n1 > n0:
                grid = first + CGM_INTERVAL_S * np.arange(n0, n1, dtype=np.float64)
                times.append(grid)
                numbers.append(np.full(grid.size, number, dtype=np.int64))
                biases.append(np.full(grid.size, session.bias))
            number += 1
        if not times:
            empty = np.zeros(0)
            return CgmTrace(empty, empty, np.zeros(0, dtype=np.int64))
        t = np.concatenate(times)
        keep = np.ones(t.size, dtype=bool)
        for start, end in self._gaps(t0, t1):
            keep &= ~((t >= start) & (t < end))
        t, bias = t[keep], np.concatenate(biases)[keep]
        isf = model.interstitial(t) if t.size else np.zeros(0)
        noise = normal_at(stream_key(self.seed, self.key, "cgm-noise"), t) if t.size else isf
        raw = isf * (1 + bias) + (2.5 + 0.025 * isf) * noise
        values = np.clip(np.round(raw), *CGM_RANGE)
        return CgmTrace(t, values, np.concatenate(numbers)[keep])


def meter_reading(seed: int, key: str, model: GlucoseModel, t: float) -> float:
    """A glucose meter's capillary reading at ``t``: blood glucose with ~3 % error, whole."""
    blood = float(model.blood([t])[0])
    error = float(normal_at(stream_key(seed, key, "meter-noise"), [t])[0])
    return float(np.clip(round(blood * (1 + 0.03 * error)), 20, 600))


# --- CGM metrics (international consensus, Battelino et al., Diabetes Care 2019) ----------


@dataclass(frozen=True, slots=True)
class CgmMetrics:
    count: int
    mean: float
    sd: float
    cv_pct: float
    gmi_pct: float  # glucose management indicator: 3.31 + 0.02392 x mean mg/dL
    tir_pct: float  # 70-180 mg/dL
    tbr70_pct: float  # < 70
    tbr54_pct: float  # < 54
    tar180_pct: float  # > 180
    tar250_pct: float  # > 250


def cgm_metrics(values: FloatArray | list[float]) -> CgmMetrics:
    """The consensus CGM metrics of a series of readings (mg/dL)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("no readings")
    mean = float(v.mean())
    sd = float(v.std())

    def pct(mask: np.ndarray) -> float:
        return float(100.0 * np.count_nonzero(mask) / v.size)

    return CgmMetrics(
        count=int(v.size),
        mean=mean,
        sd=sd,
        cv_pct=100.0 * sd / mean,
        gmi_pct=3.31 + 0.02392 * mean,
        tir_pct=pct((v >= 70) & (v <= 180)),
        tbr70_pct=pct(v < 70),
        tbr54_pct=pct(v < 54),
        tar180_pct=pct(v > 180),
        tar250_pct=pct(v > 250),
    )


def hypo_events(
    times: FloatArray,
    values: FloatArray,
    *,
    below: float,
    minutes: float = 15,
    interval_s: float = 300,
) -> int:
    """Episodes of consecutive readings below ``below`` lasting at least ``minutes``, each
    reading covering ``interval_s`` (consensus: >= 15 min below 54 mg/dL is a level-2 event,
    below 70 a level-1 event)."""
    events = 0
    run_start: float | None = None
    counted = False
    for when, value in zip(times, values, strict=True):
        if value < below:
            if run_start is None:
                run_start, counted = float(when), False
            if not counted and float(when) - run_start + interval_s >= minutes * MINUTE:
                events += 1
                counted = True
        else:
            run_start = None
    return events
