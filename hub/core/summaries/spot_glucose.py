"""Spot glucose (meters): counts, mean and shares of readings in ranges, by meal context.

Each reading is one capillary measurement; shares are shares of **readings** (not of time:
a meter samples when the patient tests). Ranges as for CGM (Battelino et al. 2019):
in range 70-180 mg/dL inclusive, below 70, above 180. The meal context of a reading comes
from its flags (``meal:preprandial``, ``meal:postprandial``, ``meal:fasting``,
``meal:casual``, ``meal:bedtime``) or is absent (``none``); an unknown context is ``other``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo

import numpy as np
import numpy.typing as npt

from hub.core.summaries._series import FloatArray, prepare
from hub.core.summaries._time import PARIS, local_days, rfc3339_utc

SPOT_GLUCOSE_ALGORITHM_VERSION = "spot-glucose-1.0"
CONTEXTS = ("preprandial", "postprandial", "fasting", "bedtime", "casual", "none", "other")
MIN_READINGS = 30
_PREFIX = "meal:"


def meal_context(flags: Iterable[str]) -> str | None:
    """The meal context among a reading's flags (``meal:fasting`` -> ``fasting``), or None."""
    for flag in flags:
        if flag.startswith(_PREFIX):
            return flag[len(_PREFIX) :]
    return None


def _normalise(context: str | None) -> str:
    if context is None or context == "":
        return "none"
    name = context[len(_PREFIX) :] if context.startswith(_PREFIX) else context
    return name if name in CONTEXTS else "other"


@dataclass(frozen=True, slots=True)
class SpotGlucoseGroup:
    context: str  # "all", or one of CONTEXTS
    readings: int
    mean_mg_dl: float | None
    in_range_70_180_percent: float | None
    below_70_percent: float | None
    above_180_percent: float | None

    def to_json(self) -> dict[str, object]:
        return {
            "context": self.context,
            "readings": self.readings,
            "mean_mg_dl": self.mean_mg_dl,
            "in_range_70_180_percent": self.in_range_70_180_percent,
            "below_70_percent": self.below_70_percent,
            "above_180_percent": self.above_180_percent,
        }


@dataclass(frozen=True, slots=True)
class SpotGlucoseSummary:
    algorithm_version: str
    start_ms: int
    end_ms: int
    readings: int
    days_with_readings: int
    sufficient: bool  # at least MIN_READINGS readings
    overall: SpotGlucoseGroup
    by_context: tuple[SpotGlucoseGroup, ...]  # every context of CONTEXTS, in that order

    def group(self, context: str) -> SpotGlucoseGroup:
        for group in self.by_context:
            if group.context == context:
                return group
        raise KeyError(context)

    def to_json(self) -> dict[str, object]:
        return {
            "algorithm_version": self.algorithm_version,
            "from": rfc3339_utc(self.start_ms),
            "to": rfc3339_utc(self.end_ms),
            "readings": self.readings,
            "days_with_readings": self.days_with_readings,
            "sufficient": self.sufficient,
            "overall": self.overall.to_json(),
            "by_context": [g.to_json() for g in self.by_context],
        }


def _group(context: str, values: FloatArray) -> SpotGlucoseGroup:
    n = int(values.size)
    if n == 0:
        return SpotGlucoseGroup(context, 0, None, None, None, None)
    return SpotGlucoseGroup(
        context,
        n,
        float(values.mean()),
        100.0 * int(np.count_nonzero((values >= 70.0) & (values <= 180.0))) / n,
        100.0 * int(np.count_nonzero(values < 70.0)) / n,
        100.0 * int(np.count_nonzero(values > 180.0)) / n,
    )


def spot_glucose_summary(
    times_ms: npt.ArrayLike,
    values_mg_dl: npt.ArrayLike,
    meal_contexts: Sequence[str | None],
    start_ms: int,
    end_ms: int,
    tz: tzinfo = PARIS,
    *,
    mask: npt.ArrayLike | None = None,
) -> SpotGlucoseSummary:
    """Meter readings in ``[start_ms, end_ms)`` summarised overall and per meal context.

    ``meal_contexts[i]`` is reading i's context (``"meal:fasting"``, ``"fasting"`` or None;
    see :func:`meal_context`). The caller has removed readings flagged ``time-unknown`` (or
    passes ``mask``). ``tz`` decides the calendar days counted in ``days_with_readings``.
    """
    if len(meal_contexts) != np.asarray(times_ms).size:
        raise ValueError("one meal context per reading")
    series = prepare(times_ms, [values_mg_dl], start_ms, end_ms, mask)
    values = series.columns[0]
    contexts = np.array([_normalise(meal_contexts[int(i)]) for i in series.order], dtype=object)
    return SpotGlucoseSummary(
        algorithm_version=SPOT_GLUCOSE_ALGORITHM_VERSION,
        start_ms=int(start_ms),
        end_ms=int(end_ms),
        readings=series.size,
        days_with_readings=int(np.unique(local_days(series.times_ms, tz)).size),
        sufficient=series.size >= MIN_READINGS,
        overall=_group("all", values),
        by_context=tuple(_group(c, values[contexts == c]) for c in CONTEXTS),
    )
