"""Clinical summaries of a patient's readings: pure numpy, exact, cited (docs/summaries.md).

Every function takes numpy arrays out of the time-series store — ``times_ms`` (int64 UTC
epoch milliseconds) and values in the metric's canonical unit — the analysis window
``[start_ms, end_ms)`` and, where days or times of day matter, the patient's IANA zone
(default Europe/Paris). The caller removes readings flagged ``time-unknown`` (or passes a
boolean ``mask``). Nothing here reads a clock, does IO or logs. Each result is a frozen
dataclass carrying its ``algorithm_version``, its period and its data-sufficiency flags, with
``to_json()`` giving plain JSON values (RFC 3339 UTC times, None where a metric is
undefined, never NaN).
"""

from __future__ import annotations

from hub.core.summaries._time import PARIS, rfc3339_utc
from hub.core.summaries.agp import AgpBin, AgpProfile, ambulatory_glucose_profile
from hub.core.summaries.alerts import (
    Alert,
    AlertThresholds,
    evaluate_alerts,
    silent_device_alerts,
)
from hub.core.summaries.blood_pressure import (
    BloodPressureMeans,
    BloodPressureSummary,
    blood_pressure_summary,
    pair_blood_pressure,
)
from hub.core.summaries.cgm import CgmSummary, HypoEvent, cgm_summary, gmi_percent
from hub.core.summaries.heart_rate import HeartRateSummary, heart_rate_summary
from hub.core.summaries.oximetry import Spo2Summary, spo2_summary
from hub.core.summaries.spot_glucose import (
    SpotGlucoseGroup,
    SpotGlucoseSummary,
    meal_context,
    spot_glucose_summary,
)
from hub.core.summaries.temperature import FeverEpisode, TemperatureSummary, temperature_summary
from hub.core.summaries.weight import WeightGain, WeightSummary, weight_summary

__all__ = [
    "PARIS",
    "AgpBin",
    "AgpProfile",
    "Alert",
    "AlertThresholds",
    "BloodPressureMeans",
    "BloodPressureSummary",
    "CgmSummary",
    "FeverEpisode",
    "HeartRateSummary",
    "HypoEvent",
    "Spo2Summary",
    "SpotGlucoseGroup",
    "SpotGlucoseSummary",
    "TemperatureSummary",
    "WeightGain",
    "WeightSummary",
    "ambulatory_glucose_profile",
    "blood_pressure_summary",
    "cgm_summary",
    "evaluate_alerts",
    "gmi_percent",
    "heart_rate_summary",
    "meal_context",
    "pair_blood_pressure",
    "rfc3339_utc",
    "silent_device_alerts",
    "spo2_summary",
    "spot_glucose_summary",
    "temperature_summary",
    "weight_summary",
]
