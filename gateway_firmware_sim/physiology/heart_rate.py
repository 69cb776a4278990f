"""Heart rate at rest and during effort, for a person in cardiac rehabilitation (pure).

Sessions (about three a week, morning or late afternoon, 25-40 min of effort): the strap is
put on 5 minutes before (resting values), a 5-minute warm-up brings the heart rate to the
session's target — 60-75 % of the heart-rate reserve (Karvonen; maximum 208 - 0.7 x age) —
which drifts up ~5 bpm while the effort lasts; after the effort it recovers exponentially
(time constant ~1.5 min) and the strap comes off 10 minutes later. Values are sampled every
``interval_s`` seconds, whole beats per minute, with RR intervals and energy expended.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gateway_firmware_sim.physiology._random import FloatArray, generator, normal_at, stream_key
from gateway_firmware_sim.timebase import HOUR, MINUTE, Zone, day_start, local_days

REST_BEFORE_S = 5 * MINUTE
WARM_UP_S = 5 * MINUTE
WORN_AFTER_S = 10 * MINUTE
RECOVERY_TAU_S = 90.0


@dataclass(frozen=True, slots=True)
class EffortSession:
    start: float  # start of the effort (the strap is on REST_BEFORE_S earlier)
    effort_s: float
    target: float  # bpm

    @property
    def worn(self) -> tuple[float, float]:
        return self.start - REST_BEFORE_S, self.start + self.effort_s + WORN_AFTER_S


@dataclass(frozen=True, slots=True)
class HeartSample:
    time: float
    bpm: int
    rr_1024: tuple[int, ...]  # RR intervals in 1/1024 s
    energy_kj: int  # cumulative since the strap went on
    phase: str  # "rest", "effort" or "recovery"


@dataclass(frozen=True, slots=True)
class HeartRateModel:
    seed: int
    key: str
    zone: Zone
    resting: float
    maximum: float
    sessions_per_week: float
    interval_s: float = 10.0

    @classmethod
    def create(
        cls,
        seed: int,
        key: str,
        zone: Zone = 0.0,
        *,
        age: float = 60,
        resting: float = 68,
        sessions_per_week: float = 3.0,
    ) -> HeartRateModel:
        return cls(seed, key, zone, resting, 208 - 0.7 * age, sessions_per_week)

    def sessions(self, t0: float, t1: float) -> list[EffortSession]:
        out = []
        for day in local_days(t0 - 2 * HOUR, t1 + 2 * HOUR, self.zone):
            rng = generator(self.seed, self.key, "effort", day)
            if rng.random() >= self.sessions_per_week / 7:
                continue
            hour = rng.uniform(10.0, 11.0) if rng.random() < 0.5 else rng.uniform(17.0, 18.0)
            reserve = self.maximum - self.resting
            session = EffortSession(
                day_start(day, self.zone) + hour * HOUR,
                float(rng.uniform(25, 40)) * MINUTE,
                float(self.resting + rng.uniform(0.60, 0.75) * reserve),
            )
            on, off = session.worn
            if on < t1 and off > t0:
                out.append(session)
        return out

    def heart_rate(self, session: EffortSession, times: FloatArray) -> FloatArray:
        """The true heart rate (bpm) during ``session`` at each time."""
        tau = times - session.start
        ramp = np.clip(tau / WARM_UP_S, 0.0, 1.0)
        drift = 5.0 * np.clip(tau / session.effort_s, 0.0, 1.0)
        effort = self.resting + ramp * (session.target - self.resting) + drift
        peak = session.target + 5.0
        after = tau - session.effort_s
        recovery = (
            self.resting
            + 8.0
            + (peak - self.resting - 8.0) * np.exp(-np.clip(after, 0.0, None) / RECOVERY_TAU_S)
        )
        return np.asarray(np.where(after > 0, recovery, effort), dtype=np.float64)

    def samples(self, t0: float, t1: float) -> list[HeartSample]:
        key = stream_key(self.seed, self.key, "hr-noise")
        out = []
        step = self.interval_s
        for session in self.sessions(t0, t1):
            on, off = session.worn
            grid = np.arange(on, off, step, dtype=np.float64)
            bpm = np.clip(
                np.round(self.heart_rate(session, grid) + 1.5 * normal_at(key, grid)), 35, 220
            )
            # energy: ~0.1 kJ/s at the target, ~0.02 at rest
            rate = 0.02 + 0.08 * np.clip(
                (bpm - self.resting) / (session.target - self.resting), 0, 1.2
            )
            energy = np.cumsum(rate * step)
            jitter = normal_at(stream_key(self.seed, self.key, "rr-jitter"), grid)
            for i, when in enumerate(grid):
                if not t0 <= when < t1:
                    continue
                rr = round(1024 * 60 / bpm[i] * (1 + 0.02 * jitter[i]))
                tau = when - session.start
                phase = "rest" if tau < 0 else "effort" if tau <= session.effort_s else "recovery"
                out.append(HeartSample(float(when), int(bpm[i]), (rr,), int(energy[i]), phase))
        return sorted(out, key=lambda s: s.time)
