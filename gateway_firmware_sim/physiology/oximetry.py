"""Oxygen saturation (SpO2) and pulse of one simulated person (pure).

* daytime SpO2: a personal baseline (healthy 96-98.5 %, COPD 89-93.5 %) with noise;
* sleep (23:00-07:00 local): desaturations — drops of 4-9 points lasting 40-150 s — at about
  0.5 an hour (healthy) or 8 an hour (COPD, or sleep apnoea);
* spot checks three times a day (about 09:00, 14:00 and 20:00);
* overnight recordings on some nights (COPD: about one night in three), one value a minute.

SpO2 is in whole percent (at most 100), pulse in whole beats per minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gateway_firmware_sim.physiology._random import FloatArray, generator, normal_at, stream_key
from gateway_firmware_sim.timebase import HOUR, MINUTE, Zone, day_start, local_days, local_hours

SLEEP_START_H = 23.0
SLEEP_HOURS = 8.0


@dataclass(frozen=True, slots=True)
class Desaturation:
    start: float
    depth: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class OxiReading:
    time: float
    spo2: int
    pulse: int


@dataclass(frozen=True, slots=True)
class OximetryModel:
    seed: int
    key: str
    zone: Zone
    baseline: float
    resting_pulse: float
    copd: bool
    recorded_night_probability: float
    record_interval_s: float = MINUTE

    @classmethod
    def create(
        cls, seed: int, key: str, zone: Zone = 0.0, *, copd: bool, resting_pulse: float
    ) -> OximetryModel:
        rng = generator(seed, key, "oximetry")
        baseline = rng.uniform(89.0, 93.5) if copd else rng.uniform(96.0, 98.5)
        return cls(seed, key, zone, float(baseline), resting_pulse, copd, 0.35 if copd else 0)

    def desaturations(self, night: int) -> list[Desaturation]:
        """Desaturations of the night starting on local day ``night``."""
        rng = generator(self.seed, self.key, "desaturation", night)
        rate = 8.0 if self.copd else 0.5
        start = day_start(night, self.zone) + SLEEP_START_H * HOUR
        events = []
        for _ in range(int(rng.poisson(rate * SLEEP_HOURS))):
            events.append(
                Desaturation(
                    start + float(rng.uniform(0, SLEEP_HOURS * HOUR)),
                    float(rng.uniform(4, 9)),
                    float(rng.uniform(40, 150)),
                )
            )
        return events

    def spo2(self, times: FloatArray | list[float]) -> FloatArray:
        """The true saturation (%) at each time, before the device's rounding and noise."""
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        value = np.full(t.size, self.baseline)
        for night in local_days(float(t.min()) - 12 * HOUR, float(t.max()) + 1, self.zone):
            for event in self.desaturations(night):
                tau = t - event.start
                # trapezoid: 15 s down, hold, 20 s back up
                down = np.clip(tau / 15.0, 0.0, 1.0)
                up = np.clip((event.duration_s - tau) / 20.0, 0.0, 1.0)
                value = value - event.depth * np.minimum(down, up) * (tau > 0)
        return np.asarray(value, dtype=np.float64)

    def pulse(self, times: FloatArray | list[float]) -> FloatArray:
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        hours = local_hours(t, self.zone)
        asleep = (hours >= SLEEP_START_H) | (hours < SLEEP_START_H + SLEEP_HOURS - 24)
        return np.asarray(self.resting_pulse + np.where(asleep, -6.0, 4.0), dtype=np.float64)

    def _readings(self, t: FloatArray) -> list[OxiReading]:
        if t.size == 0:
            return []
        spo2_noise = normal_at(stream_key(self.seed, self.key, "spo2-noise"), t)
        pulse_noise = normal_at(stream_key(self.seed, self.key, "oxi-pulse-noise"), t)
        spo2 = np.minimum(100, np.round(self.spo2(t) + 0.7 * spo2_noise))
        pulse = np.round(self.pulse(t) + 2.5 * pulse_noise)
        return [
            OxiReading(float(when), int(s), int(p))
            for when, s, p in zip(t, spo2, pulse, strict=True)
        ]

    def spot_checks(self, t0: float, t1: float) -> list[OxiReading]:
        times = []
        for day in local_days(t0, t1, self.zone):
            rng = generator(self.seed, self.key, "spot-checks", day)
            midnight = day_start(day, self.zone)
            for hour in (9.0, 14.0, 20.0):
                when = midnight + (hour + rng.uniform(-0.5, 0.5)) * HOUR
                taken = rng.random() < 0.9
                if taken and t0 <= when < t1:
                    times.append(when)
        return self._readings(np.array(sorted(times), dtype=np.float64))

    def recorded_nights(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """``(start, end)`` of the overnight recordings overlapping ``[t0, t1)``."""
        out = []
        for night in local_days(t0 - 12 * HOUR, t1, self.zone):
            rng = generator(self.seed, self.key, "recorded-night", night)
            if rng.random() < self.recorded_night_probability:
                start = day_start(night, self.zone) + SLEEP_START_H * HOUR
                end = start + SLEEP_HOURS * HOUR
                if start < t1 and end > t0:
                    out.append((start, end))
        return out

    def overnight(self, t0: float, t1: float) -> list[OxiReading]:
        """Overnight recording values in ``[t0, t1)``, one every ``record_interval_s``."""
        chunks = []
        step = self.record_interval_s
        for start, end in self.recorded_nights(t0, t1):
            first = start + max(0.0, np.ceil((t0 - start) / step)) * step
            chunks.append(np.arange(first, min(end, t1), step, dtype=np.float64))
        if not chunks:
            return []
        return self._readings(np.concatenate(chunks))
