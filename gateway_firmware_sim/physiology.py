"""Seeded physiological signals for one simulated patient. Pure: time and a seed in, values out.

Deliberately simple first models (documented bounds in docs/simulator.md); each is a function
of the patient's traits and the local time of day, plus seeded noise:

* interstitial glucose: fasting baseline, three meal excursions (peak ~45-60 min after the
  meal, decaying over ~2.5 h), a dawn rise, sensor noise;
* home blood pressure: baseline with a morning surge, beat-to-beat noise, pulse;
* weight: slow linear trend plus day-to-day water noise;
* SpO2: baseline with occasional shallow dips.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

MEALS_H = (7.5, 12.5, 19.5)


@dataclass(frozen=True, slots=True)
class Traits:
    fasting_glucose: float  # mg/dL
    meal_rise: float  # mg/dL at peak
    systolic: float  # mm[Hg]
    diastolic: float
    pulse: float  # /min
    weight: float  # kg
    weight_trend_per_day: float  # kg/day
    spo2: float  # %

    @classmethod
    def draw(cls, rng: random.Random) -> Traits:
        return cls(
            fasting_glucose=rng.uniform(95, 150),
            meal_rise=rng.uniform(40, 110),
            systolic=rng.uniform(118, 150),
            diastolic=rng.uniform(72, 92),
            pulse=rng.uniform(60, 80),
            weight=rng.uniform(58, 110),
            weight_trend_per_day=rng.uniform(-0.03, 0.03),
            spo2=rng.uniform(94, 98.5),
        )


def _hours(moment: datetime) -> float:
    return moment.hour + moment.minute / 60 + moment.second / 3600


def _meal_response(hours_since: float) -> float:
    """Gamma-like curve: 0 at the meal, 1 at ~50 min, back near 0 after ~3 h."""
    if hours_since <= 0:
        return 0.0
    shape = hours_since / 0.83
    return shape * math.exp(1 - shape)


def glucose_isf(traits: Traits, moment: datetime, rng: random.Random) -> float:
    h = _hours(moment)
    meals = sum(_meal_response((h - m) % 24) for m in MEALS_H)
    dawn = 12 * math.exp(-((h - 5.5) ** 2) / 2)
    value = traits.fasting_glucose + traits.meal_rise * meals + dawn + rng.gauss(0, 4)
    return round(max(40.0, min(400.0, value)))


def blood_pressure(traits: Traits, moment: datetime, rng: random.Random) -> tuple[int, int, int]:
    morning = 8 if 5 <= _hours(moment) < 10 else 0
    systolic = traits.systolic + morning + rng.gauss(0, 6)
    diastolic = traits.diastolic + morning / 2 + rng.gauss(0, 4)
    pulse = traits.pulse + rng.gauss(0, 4)
    return round(systolic), round(diastolic), round(pulse)


def weight(traits: Traits, day_index: int, rng: random.Random) -> float:
    return round(traits.weight + traits.weight_trend_per_day * day_index + rng.gauss(0, 0.25), 1)


def spo2(traits: Traits, rng: random.Random) -> int:
    dip = rng.uniform(2, 5) if rng.random() < 0.05 else 0.0
    return round(min(100.0, traits.spo2 - dip + rng.gauss(0, 0.7)))
