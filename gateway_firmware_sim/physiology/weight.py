"""Body weight of one simulated person, with heart-failure fluid retention (pure).

The person weighs themself each morning shortly after waking (most days). The weight is::

    baseline + slow trend (kg/day) + weekly rhythm (heavier after the weekend)
        + fluid retained (heart failure decompensation) + day-to-day noise (sd 0.25 kg)

A fluid-gain episode (:class:`FluidEpisode`) is the heart-failure warning sign home
monitoring exists for: ``gain_kg`` (2.3-2.8 kg) retained over exactly 3 days, held a day,
then lost over 3 days once diuretics are adjusted. Heart-failure patients have such episodes
at random (about one a month); a scenario can plan one (``planned``). Readings are to 0.1 kg.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gateway_firmware_sim.physiology._episodes import Episode, poisson_episodes
from gateway_firmware_sim.physiology._random import FloatArray, generator, normal_at, stream_key
from gateway_firmware_sim.timebase import (
    DAY,
    HOUR,
    MINUTE,
    Zone,
    day_start,
    local_days,
    utc_offsets,
)

RISE_S = 3 * DAY
HOLD_S = 1 * DAY
FALL_S = 3 * DAY
HF_EPISODES_PER_DAY = 1 / 30


@dataclass(frozen=True, slots=True)
class FluidEpisode:
    start: float
    gain_kg: float

    def retained(self, t: FloatArray) -> FloatArray:
        tau = t - self.start
        rise = np.clip(tau / RISE_S, 0.0, 1.0)
        fall = np.clip((tau - RISE_S - HOLD_S) / FALL_S, 0.0, 1.0)
        return np.asarray(self.gain_kg * (rise - fall), dtype=np.float64)


def draw_fluid_episode(rng: np.random.Generator) -> tuple[float, ...]:
    return (float(rng.uniform(2.3, 2.8)),)


@dataclass(frozen=True, slots=True)
class WeightReading:
    time: float
    kg: float  # to 0.1 kg


@dataclass(frozen=True, slots=True)
class WeightModel:
    seed: int
    key: str
    zone: Zone
    baseline_kg: float
    trend_kg_per_day: float
    height_m: float
    heart_failure: bool
    wake_hour: float
    planned: tuple[FluidEpisode, ...] = ()

    @classmethod
    def create(
        cls,
        seed: int,
        key: str,
        zone: Zone = 0.0,
        *,
        height_m: float = 1.70,
        heart_failure: bool = False,
        planned: tuple[FluidEpisode, ...] = (),
    ) -> WeightModel:
        rng = generator(seed, key, "weight")
        bmi = rng.uniform(21, 33)
        return cls(
            seed,
            key,
            zone,
            round(float(bmi * height_m**2), 1),
            float(rng.uniform(-0.02, 0.02)),
            height_m,
            heart_failure,
            float(rng.uniform(6.0, 7.5)),
            planned,
        )

    def episodes(self, t0: float, t1: float) -> list[FluidEpisode]:
        lookback = RISE_S + HOLD_S + FALL_S
        drawn: list[Episode] = []
        if self.heart_failure:
            drawn = poisson_episodes(
                self.seed,
                self.key,
                "fluid",
                per_day=HF_EPISODES_PER_DAY,
                t0=t0,
                t1=t1,
                lookback_s=lookback,
                draw=draw_fluid_episode,
            )
        planned = [e for e in self.planned if t0 - lookback <= e.start < t1]
        return [FluidEpisode(e.start, e.params[0]) for e in drawn] + planned

    def fluid(self, times: FloatArray | list[float]) -> FloatArray:
        """Fluid retained (kg) at each time."""
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        total = np.zeros(t.size)
        for episode in self.episodes(float(t.min()), float(t.max()) + 1):
            total = total + episode.retained(t)
        return total

    def true_weight(self, times: FloatArray | list[float]) -> FloatArray:
        """Weight without the day-to-day noise (kg)."""
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        days = (t + utc_offsets(t, self.zone)) / DAY
        weekly = 0.1 * np.cos(2 * math.pi * (days - 4.0) / 7)  # day 4 of the epoch: a Monday
        return np.asarray(
            self.baseline_kg + self.trend_kg_per_day * (days - 20000) + weekly + self.fluid(t),
            dtype=np.float64,
        )

    def readings(self, t0: float, t1: float) -> list[WeightReading]:
        out = []
        noise = stream_key(self.seed, self.key, "weight-noise")
        for day in local_days(t0, t1, self.zone):
            rng = generator(self.seed, self.key, "weigh-in", day)
            when = day_start(day, self.zone) + self.wake_hour * HOUR
            when += float(rng.uniform(5, 30)) * MINUTE
            if rng.random() < 0.93 and t0 <= when < t1:
                kg = self.true_weight([when])[0] + 0.25 * normal_at(noise, [when])[0]
                out.append(WeightReading(when, round(float(kg), 1)))
        return out

    def bmi(self, kg: float) -> float:
        return round(kg / self.height_m**2, 1)
