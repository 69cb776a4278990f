"""Alerts derived from the summaries, with thresholds configurable per patient programme.

The defaults are the consensus targets for most adults with type 1 or type 2 diabetes
(Battelino et al., Diabetes Care 2019;42:1593-1603: TIR > 70 %, TBR < 70 below 4 %, TBR < 54
below 1 %, TAR > 180 below 25 %, TAR > 250 below 5 %; CV <= 36 %), a GMI above the usual
HbA1c target of 7 % (ADA Standards of Care, section 6), the home BP threshold 135/85 mm[Hg]
(ESH 2023), a weight gain of 2 kg in 3 days (ESC 2021 heart failure), nocturnal desaturation
(>= 30 % of the time below 90 %: INOX trial) and fever (>= 38.0 °C). A CGM alert is raised
only on sufficient data (14 days, 70 % active); an insufficient window raises
``cgm.insufficient_data`` instead. "No data for N days" is per device.

An alert is data: a stable ``code``, the value and threshold behind it, a sentence in
English. Ordering and wording for patients are the caller's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hub.core.summaries._time import MS_PER_DAY, rfc3339_utc
from hub.core.summaries.blood_pressure import BloodPressureSummary
from hub.core.summaries.cgm import CgmSummary
from hub.core.summaries.oximetry import Spo2Summary
from hub.core.summaries.temperature import TemperatureSummary
from hub.core.summaries.weight import WeightSummary

ALERTS_ALGORITHM_VERSION = "alerts-1.0"
SILENT_DAYS = 3.0


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    """Alert thresholds of a patient programme (defaults: see the module docstring)."""

    cgm_tir_min_percent: float = 70.0  # alert when TIR < this
    cgm_tbr70_max_percent: float = 4.0  # alert when TBR < 70 > this
    cgm_tbr54_max_percent: float = 1.0  # alert when TBR < 54 > this
    cgm_tar180_max_percent: float = 25.0
    cgm_tar250_max_percent: float = 5.0
    cgm_cv_max_percent: float = 36.0
    cgm_gmi_max_percent: float = 7.0
    bp_systolic_mm_hg: float = 135.0  # alert when the mean is >= this
    bp_diastolic_mm_hg: float = 85.0
    weight_gain_kg: float = 2.0
    weight_gain_days: int = 3
    spo2_threshold_percent: float = 90.0
    spo2_below_max_percent: float = 30.0  # alert when the share below is >= this
    fever_celsius: float = 38.0
    silent_days: float = SILENT_DAYS  # "no data for N days"

    @classmethod
    def older_or_high_risk(cls) -> AlertThresholds:
        """The consensus targets for older or high-risk people with diabetes (Battelino et
        al. 2019): TIR > 50 %, TBR < 70 below 1 %, TAR > 250 below 10 %, TAR > 180 below
        50 %."""
        return cls(
            cgm_tir_min_percent=50.0,
            cgm_tbr70_max_percent=1.0,
            cgm_tbr54_max_percent=1.0,
            cgm_tar180_max_percent=50.0,
            cgm_tar250_max_percent=10.0,
        )


@dataclass(frozen=True, slots=True)
class Alert:
    code: str  # e.g. "cgm.tbr54", "device.silent"
    message: str
    value: float | None = None
    threshold: float | None = None
    device_id: str | None = None
    at_ms: int | None = None  # the moment the alert is about, if any

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "value": self.value,
            "threshold": self.threshold,
            "device_id": self.device_id,
            "at": None if self.at_ms is None else rfc3339_utc(self.at_ms),
        }


def _cgm_alerts(cgm: CgmSummary, thresholds: AlertThresholds) -> list[Alert]:
    if cgm.readings == 0:
        return []
    if not cgm.sufficient:
        return [
            Alert(
                "cgm.insufficient_data",
                f"CGM data insufficient: {cgm.window_days:.1f} days, "
                f"{cgm.active_percent:.0f} % active (14 days and 70 % needed)",
                cgm.active_percent,
                70.0,
            )
        ]
    checks: list[tuple[str, float | None, float, bool, str]] = [
        (
            "cgm.tbr54",
            cgm.tbr_below_54_percent,
            thresholds.cgm_tbr54_max_percent,
            True,
            "time < 54 mg/dL",
        ),
        (
            "cgm.tbr70",
            cgm.tbr_below_70_percent,
            thresholds.cgm_tbr70_max_percent,
            True,
            "time < 70 mg/dL",
        ),
        (
            "cgm.tir",
            cgm.tir_70_180_percent,
            thresholds.cgm_tir_min_percent,
            False,
            "time in 70-180",
        ),
        (
            "cgm.tar250",
            cgm.tar_above_250_percent,
            thresholds.cgm_tar250_max_percent,
            True,
            "time > 250",
        ),
        (
            "cgm.tar180",
            cgm.tar_above_180_percent,
            thresholds.cgm_tar180_max_percent,
            True,
            "time > 180",
        ),
        ("cgm.cv", cgm.cv_percent, thresholds.cgm_cv_max_percent, True, "glucose variability (CV)"),
        ("cgm.gmi", cgm.gmi_percent, thresholds.cgm_gmi_max_percent, True, "GMI"),
    ]
    alerts = []
    for code, value, limit, above_is_bad, what in checks:
        if value is None:
            continue
        if (value > limit) if above_is_bad else (value < limit):
            relation = "above" if above_is_bad else "below"
            alerts.append(Alert(code, f"{what} {value:.1f} % {relation} {limit:g} %", value, limit))
    return alerts


def evaluate_alerts(
    thresholds: AlertThresholds | None = None,
    *,
    cgm: CgmSummary | None = None,
    blood_pressure: BloodPressureSummary | None = None,
    weight: WeightSummary | None = None,
    spo2: Spo2Summary | None = None,
    temperature: TemperatureSummary | None = None,
) -> tuple[Alert, ...]:
    """The alerts of a patient's summaries under a programme's thresholds (default:
    :class:`AlertThresholds` ()).

    Thresholds that change how a summary is computed (weight gain, SpO2 and fever levels)
    must be the ones the summary was computed with: pass them to the summary function
    (``weight_summary(..., gain_kg=thresholds.weight_gain_kg, ...)``); a mismatch raises
    ValueError rather than alerting on the wrong rule.
    """
    limits = thresholds if thresholds is not None else AlertThresholds()
    alerts: list[Alert] = []
    if cgm is not None:
        alerts += _cgm_alerts(cgm, limits)
    bp = blood_pressure
    if bp is not None and bp.sufficient:
        sys_mean, dia_mean = bp.overall.systolic_mm_hg, bp.overall.diastolic_mm_hg
        if (
            sys_mean is not None
            and dia_mean is not None
            and (sys_mean >= limits.bp_systolic_mm_hg or dia_mean >= limits.bp_diastolic_mm_hg)
        ):
            alerts.append(
                Alert(
                    "bp.home_hypertension",
                    f"home BP mean {sys_mean:.0f}/{dia_mean:.0f} mm[Hg] at or above "
                    f"{limits.bp_systolic_mm_hg:g}/{limits.bp_diastolic_mm_hg:g}",
                    sys_mean,
                    limits.bp_systolic_mm_hg,
                )
            )
    if weight is not None:
        if (weight.gain_threshold_kg, weight.gain_window_days) != (
            limits.weight_gain_kg,
            limits.weight_gain_days,
        ):
            raise ValueError("weight summary computed with other gain thresholds")
        for gain in weight.rapid_gains:
            alerts.append(
                Alert(
                    "weight.rapid_gain",
                    f"weight +{gain.gain_kg:.1f} kg within {limits.weight_gain_days} days",
                    gain.gain_kg,
                    limits.weight_gain_kg,
                    at_ms=gain.reading_ms,
                )
            )
    if spo2 is not None:
        if spo2.threshold_percent != limits.spo2_threshold_percent:
            raise ValueError("SpO2 summary computed with another threshold")
        share = spo2.below_threshold_percent
        if spo2.sufficient and share is not None and share >= limits.spo2_below_max_percent:
            alerts.append(
                Alert(
                    "spo2.low",
                    f"SpO2 below {limits.spo2_threshold_percent:g} %"
                    f" during {share:.0f} % of the time",
                    share,
                    limits.spo2_below_max_percent,
                )
            )
    if temperature is not None:
        if temperature.fever_threshold_celsius != limits.fever_celsius:
            raise ValueError("temperature summary computed with another fever threshold")
        for episode in temperature.fever_episodes:
            alerts.append(
                Alert(
                    "temperature.fever",
                    f"fever up to {episode.max_celsius:.1f} °C",
                    episode.max_celsius,
                    limits.fever_celsius,
                    at_ms=episode.start_ms,
                )
            )
    return tuple(alerts)


def silent_device_alerts(
    last_reading_ms: Mapping[str, int | None],
    now_ms: int,
    days: float = SILENT_DAYS,
) -> tuple[Alert, ...]:
    """A ``device.silent`` alert for each device whose last reading is ``days`` or more
    before ``now_ms`` (None: never a reading), sorted by device id. ``now_ms`` is passed in."""
    limit_ms = days * MS_PER_DAY
    alerts = []
    for device_id in sorted(last_reading_ms):
        last = last_reading_ms[device_id]
        if last is None:
            alerts.append(Alert("device.silent", "no reading ever", None, days, device_id))
            continue
        silent_days = (int(now_ms) - int(last)) / MS_PER_DAY
        if int(now_ms) - int(last) >= limit_ms:
            alerts.append(
                Alert(
                    "device.silent",
                    f"no reading for {silent_days:.1f} days",
                    silent_days,
                    days,
                    device_id,
                    int(last),
                )
            )
    return tuple(alerts)
