"""Glucose for display: mg/dL (stored, computed) or mmol/L (a patient's preference).

The hub stores and computes glucose in mg/dL; a patient who reads mmol/L gets the figures
converted once, where the API answers, with the vocabulary's factor: 1 mmol/L = 18.0156 mg/dL
(the molar mass of glucose, device_profiles/vocabulary.py). Nothing is rounded here: rounding
is the page's business.

Summaries name their glucose fields by unit (``mean_mg_dl``); in mmol/L each such field gets a
twin named ``..._mmol_l`` (:func:`with_mmol_twins`), so a field never holds a unit its name
does not say. Series of values (a chart's points, the AGP's percentiles) are converted whole
and carry their unit.
"""

from __future__ import annotations

from typing import Any, Literal

from device_profiles.vocabulary import METRICS

GlucoseUnit = Literal["mg/dL", "mmol/L"]
MG_DL: GlucoseUnit = "mg/dL"
MMOL_L: GlucoseUnit = "mmol/L"
MG_DL_PER_MMOL_L = float(METRICS["glucose"].units[MMOL_L][0])  # 18.0156
GLUCOSE_METRICS = frozenset(name for name, m in METRICS.items() if m.unit == MG_DL)
_SUFFIX = "_mg_dl"


def glucose_value(mg_dl: float, unit: GlucoseUnit) -> float:
    """A glucose value (or a difference, an SD: the conversion has no offset) in ``unit``."""
    return mg_dl if unit == MG_DL else mg_dl / MG_DL_PER_MMOL_L


def display_unit(metric: str, glucose_unit: GlucoseUnit) -> str:
    """The unit a metric's values are shown in: the glucose preference, else canonical."""
    return glucose_unit if metric in GLUCOSE_METRICS else METRICS[metric].unit


def with_mmol_twins(value: Any) -> Any:
    """A copy of a JSON value where every ``X_mg_dl`` number gets an ``X_mmol_l`` twin (in
    nested objects and lists too); None stays None."""
    if isinstance(value, list):
        return [with_mmol_twins(v) for v in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for key, item in value.items():
        result[key] = with_mmol_twins(item)
        if key.endswith(_SUFFIX) and (item is None or isinstance(item, int | float)):
            twin = key[: -len(_SUFFIX)] + "_mmol_l"
            result[twin] = None if item is None else glucose_value(float(item), MMOL_L)
    return result
