"""Home blood pressure of one simulated person (pure).

The person follows the home protocol (ESH): a morning session shortly after waking, before
medication, and an evening session; each session is two readings one minute apart. Once a
week a nurse visits and measures in the same way. A reading is::

    baseline + morning surge (decays over ~2 h after waking) - evening dip
        + session effect (day-to-day) + reading noise
        + alerting reaction on the first reading of a session
        + white-coat effect when the nurse measures

Variants (:data:`VARIANTS`): ``normotensive``, ``hypertensive``, ``morning-surge`` (morning
systolic >= 20 mm[Hg] above the evening) and ``white-coat`` (normal at home, high when the
nurse measures: white-coat hypertension). Values are whole mm[Hg] and beats per minute.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from gateway_firmware_sim.physiology._random import generator, normal_at, stream_key
from gateway_firmware_sim.timebase import HOUR, MINUTE, Zone, day_start, local_days


class BpVariant(enum.StrEnum):
    NORMOTENSIVE = "normotensive"
    HYPERTENSIVE = "hypertensive"
    MORNING_SURGE = "morning-surge"
    WHITE_COAT = "white-coat"


@dataclass(frozen=True, slots=True)
class BpParams:
    systolic: tuple[float, float]  # home baseline range, mm[Hg]
    diastolic: tuple[float, float]
    surge: tuple[float, float]  # (systolic, diastolic) added just after waking
    alerting: tuple[float, float]  # added to the first reading of a session
    nurse: tuple[float, float]  # added when the nurse measures (white-coat effect)
    irregular_pct: float  # readings flagged "irregular pulse"


VARIANTS: dict[BpVariant, BpParams] = {
    BpVariant.NORMOTENSIVE: BpParams((112, 126), (70, 79), (6, 3), (3, 2), (5, 3), 0.5),
    BpVariant.HYPERTENSIVE: BpParams((140, 156), (86, 95), (10, 5), (4, 2), (6, 3), 2.0),
    BpVariant.MORNING_SURGE: BpParams((134, 146), (82, 90), (30, 14), (4, 2), (6, 3), 2.0),
    BpVariant.WHITE_COAT: BpParams((118, 128), (72, 80), (6, 3), (12, 6), (30, 14), 0.5),
}
EVENING_DIP = (5.0, 3.0)


@dataclass(frozen=True, slots=True)
class BpReading:
    time: float
    systolic: int
    diastolic: int
    mean_arterial: int
    pulse: int
    irregular: bool
    session: str  # "morning", "evening" or "nurse"
    index: int  # 0 for the first reading of its session


@dataclass(frozen=True, slots=True)
class BloodPressureModel:
    seed: int
    key: str
    variant: BpVariant
    zone: Zone
    systolic: float
    diastolic: float
    resting_pulse: float
    wake_hour: float
    nurse_weekday: int  # local day number modulo 7 on which the nurse comes

    @classmethod
    def create(
        cls,
        seed: int,
        key: str,
        variant: BpVariant,
        zone: Zone = 0.0,
        resting_pulse: float = 70.0,
    ) -> BloodPressureModel:
        params = VARIANTS[variant]
        rng = generator(seed, key, "pressure")
        return cls(
            seed,
            key,
            variant,
            zone,
            float(rng.uniform(*params.systolic)),
            float(rng.uniform(*params.diastolic)),
            resting_pulse,
            float(rng.uniform(6.0, 7.5)),
            int(rng.integers(0, 7)),
        )

    @property
    def params(self) -> BpParams:
        return VARIANTS[self.variant]

    def _sessions(self, day: int) -> list[tuple[str, float]]:
        rng = generator(self.seed, self.key, "bp-sessions", day)
        midnight = day_start(day, self.zone)
        sessions = []
        morning = midnight + (self.wake_hour + rng.uniform(0.1, 0.6)) * HOUR
        evening = midnight + rng.uniform(20.5, 22.0) * HOUR
        nurse = midnight + rng.uniform(9.5, 11.5) * HOUR
        if rng.random() < 0.92:
            sessions.append(("morning", morning))
        if rng.random() < 0.88:
            sessions.append(("evening", evening))
        if day % 7 == self.nurse_weekday:
            sessions.append(("nurse", nurse))
        return sessions

    def readings(self, t0: float, t1: float) -> list[BpReading]:
        """Every reading taken in ``[t0, t1)``, in time order."""
        params = self.params
        noise = stream_key(self.seed, self.key, "bp-noise")
        out = []
        for day in local_days(t0, t1, self.zone):
            midnight = day_start(day, self.zone)
            for session, start in self._sessions(day):
                rng = generator(self.seed, self.key, "bp-session", day, session)
                effect_s, effect_d = rng.normal(0, 5), rng.normal(0, 3)
                irregular = rng.random(2) < params.irregular_pct / 100
                for index in range(2):
                    when = start + index * MINUTE
                    if not t0 <= when < t1:
                        continue
                    awake_h = (when - midnight) / HOUR - self.wake_hour
                    surge = math.exp(-max(0.0, awake_h) / 2.0) if awake_h > -0.5 else 0.0
                    dip = 1.0 if session == "evening" else 0.0
                    alert = 1.0 if index == 0 else 0.0
                    nurse = 1.0 if session == "nurse" else 0.0
                    draws = normal_at(noise, np.array([when, when + 1.0, when + 2.0]))
                    systolic = (
                        self.systolic
                        + params.surge[0] * surge
                        - EVENING_DIP[0] * dip
                        + params.alerting[0] * alert
                        + params.nurse[0] * nurse
                        + effect_s
                        + 3.0 * draws[0]
                    )
                    diastolic = (
                        self.diastolic
                        + params.surge[1] * surge
                        - EVENING_DIP[1] * dip
                        + params.alerting[1] * alert
                        + params.nurse[1] * nurse
                        + effect_d
                        + 2.0 * draws[1]
                    )
                    pulse = self.resting_pulse + 4 + 4 * nurse + 3.0 * draws[2]
                    sys_i, dia_i = round(systolic), round(diastolic)
                    out.append(
                        BpReading(
                            when,
                            sys_i,
                            dia_i,
                            round(dia_i + (sys_i - dia_i) / 3),
                            round(pulse),
                            bool(irregular[index]),
                            session,
                            index,
                        )
                    )
        return sorted(out, key=lambda r: r.time)
