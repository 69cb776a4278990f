"""Body temperature of one simulated person, with fever episodes (pure).

Core temperature: a personal baseline (36.4-36.9 Cel) with a circadian swing of +/-0.3 (lowest
before dawn, highest around 17:00). A fever episode rises to its peak (38.3-39.8) over 6-12 h,
stays 1.5-3 days with a wider daily swing, and falls back over 12-24 h. The person takes their
temperature morning and evening; while feverish (>= 37.8) every four hours while awake.
Readings are to 0.1 Cel; the armpit reads ~0.4 below the ear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gateway_firmware_sim.physiology._episodes import Episode, poisson_episodes
from gateway_firmware_sim.physiology._random import FloatArray, generator, normal_at, stream_key
from gateway_firmware_sim.timebase import DAY, HOUR, Zone, day_start, local_days, local_hours

FEVER_THRESHOLD = 37.8
SITE_OFFSET = {"ear": 0.0, "armpit": -0.4, "mouth": -0.2}


def draw_fever(rng: np.random.Generator) -> tuple[float, ...]:
    """(peak Cel, rise s, plateau s, fall s)."""
    return (
        float(rng.uniform(38.3, 39.8)),
        float(rng.uniform(6, 12)) * HOUR,
        float(rng.uniform(1.5, 3.0)) * DAY,
        float(rng.uniform(12, 24)) * HOUR,
    )


def _fever_shape(episode: Episode, t: FloatArray) -> FloatArray:
    _peak, rise, plateau, fall = episode.params
    tau = t - episode.start
    up = np.clip(tau / rise, 0.0, 1.0)
    down = np.clip((tau - rise - plateau) / fall, 0.0, 1.0)
    return np.asarray(up * (1.0 - down), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class TemperatureReading:
    time: float
    celsius: float  # to 0.1
    site: str


@dataclass(frozen=True, slots=True)
class TemperatureModel:
    seed: int
    key: str
    zone: Zone
    baseline: float
    fevers_per_day: float
    site: str
    planned: tuple[Episode, ...] = ()

    @classmethod
    def create(
        cls,
        seed: int,
        key: str,
        zone: Zone = 0.0,
        *,
        fevers_per_day: float = 1 / 40,
        planned: tuple[Episode, ...] = (),
    ) -> TemperatureModel:
        rng = generator(seed, key, "temperature")
        site = "ear" if rng.random() < 0.6 else "armpit"
        return cls(seed, key, zone, float(rng.uniform(36.4, 36.9)), fevers_per_day, site, planned)

    def fevers(self, t0: float, t1: float) -> list[Episode]:
        lookback = 12 * HOUR + 3 * DAY + 24 * HOUR
        drawn = poisson_episodes(
            self.seed,
            self.key,
            "fever",
            per_day=self.fevers_per_day,
            t0=t0,
            t1=t1,
            lookback_s=lookback,
            draw=draw_fever,
        )
        return drawn + [e for e in self.planned if t0 - lookback <= e.start < t1]

    def core(self, times: FloatArray | list[float]) -> FloatArray:
        """Core temperature (Cel) at each time."""
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        circadian = 0.3 * np.cos(2 * math.pi * (local_hours(t, self.zone) - 17.0) / 24)
        fever = np.zeros(t.size)
        for episode in self.fevers(float(t.min()), float(t.max()) + 1):
            fever = np.maximum(
                fever, (episode.params[0] - self.baseline) * _fever_shape(episode, t)
            )
        swing = 1.0 + 0.6 * (fever > 0.5)
        return np.asarray(self.baseline + circadian * swing + fever, dtype=np.float64)

    def readings(self, t0: float, t1: float) -> list[TemperatureReading]:
        noise = stream_key(self.seed, self.key, "temperature-noise")
        out = []
        for day in local_days(t0, t1, self.zone):
            rng = generator(self.seed, self.key, "thermometer", day)
            midnight = day_start(day, self.zone)
            jitter = rng.uniform(-0.5, 0.5, 4)
            routine = rng.random(4) < 0.8
            for slot, hour in enumerate((8.0, 12.0, 16.0, 20.0)):
                when = midnight + (hour + jitter[slot]) * HOUR
                if not t0 <= when < t1:
                    continue
                core = float(self.core([when])[0])
                if (hour in (8.0, 20.0) and routine[slot]) or core >= FEVER_THRESHOLD:
                    value = core + SITE_OFFSET[self.site] + 0.1 * normal_at(noise, [when])[0]
                    out.append(TemperatureReading(when, round(float(value), 1), self.site))
        return out
