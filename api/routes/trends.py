"""A patient's trends, period summaries and alerts (docs/api.md, "Trends and summaries").

* ``GET /v1/patients/{id}/trends``: downsampled series, the bucket chosen from the range;
* ``GET /v1/patients/{id}/summaries?period=...``: every clinical summary of a period, and the
  latest value of each metric;
* ``GET /v1/patients/{id}/summaries/cgm?from=...&to=...``: the CGM consensus metrics of any
  window;
* ``GET /v1/patients/{id}/alerts?period=...``: the alerts of the patient's programme.

Days, meal times and the AGP's time of day are the patient's (their zone, else the hub's);
glucose is in mg/dL or mmol/L by the patient's preference or ``unit`` (``hub.core.
glucose_units``: series converted, summary fields given ``_mmol_l`` twins). The computations
are the pure summaries' (docs/summaries.md); readings flagged ``time-unknown`` never enter.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import CurrentPrincipal, authorize_patient_access
from api.deps import Context, HubContext
from api.errors import Problem
from api.types import Instant
from device_profiles.vocabulary import METRICS
from hub.adapters.store.buckets import bucket_for_range
from hub.core.glucose_units import (
    GLUCOSE_METRICS,
    MG_DL,
    MMOL_L,
    GlucoseUnit,
    display_unit,
    glucose_value,
    with_mmol_twins,
)
from hub.core.model import epoch_ms, from_epoch_ms
from hub.core.periods import ROLLING_DAYS, Period, resolve_period
from hub.core.summaries import rfc3339_utc
from hub.core.summaries.alerts import ALERTS_ALGORITHM_VERSION
from hub.services import trends as service

router = APIRouter(prefix="/v1/patients", tags=["trends"])

MAX_WINDOW = timedelta(days=731)  # two years: a custom window's longest
DEFAULT_TREND_PERIOD = "week"
DEFAULT_SUMMARY_PERIOD = "2weeks"  # the consensus window for CGM metrics and the AGP
PERIOD_HELP = (
    f"rolling, ending now: {', '.join(ROLLING_DAYS)}; or a calendar period in the patient's "
    "zone: an ISO date (2026-11-28), week (2026-W47) or month (2026-11)"
)
UNIT_HELP = "glucose unit; default: the patient's preference"

Unit = Annotated[GlucoseUnit | None, Query(description=UNIT_HELP)]


class PeriodOut(BaseModel):
    name: str | None = Field(description="the period asked for; null for a from/to window")
    start: str = Field(alias="from", description="inclusive, RFC 3339 UTC")
    end: str = Field(alias="to", description="exclusive; now for a period still running")
    complete: bool = Field(description="false while the period is still running")


class SeriesOut(BaseModel):
    metric: str
    display: str
    unit: str
    t_ms: list[int] = Field(description="bucket starts, epoch milliseconds UTC")
    mean: list[float]
    min: list[float]
    max: list[float]
    count: list[int]


class TrendsOut(BaseModel):
    patient_id: str
    period: PeriodOut
    zone: str
    glucose_unit: GlucoseUnit
    bucket_ms: int = Field(description="the bucket, chosen from the range (at most 500)")
    series: list[SeriesOut]


class SummariesOut(BaseModel):
    patient_id: str
    period: PeriodOut
    zone: str
    glucose_unit: GlucoseUnit
    program: dict[str, str] | None
    latest: dict[str, dict[str, Any]]
    cgm: dict[str, Any] | None
    agp: dict[str, Any] | None
    spot_glucose: dict[str, Any] | None
    blood_pressure: dict[str, Any] | None
    weight: dict[str, Any] | None
    spo2: dict[str, Any] | None
    heart_rate: dict[str, Any] | None
    temperature: dict[str, Any] | None


class AlertsOut(BaseModel):
    patient_id: str
    period: PeriodOut
    algorithm_version: str
    program: dict[str, str] | None
    thresholds: dict[str, float]
    items: list[dict[str, Any]]


def _period_out(period: Period, *, named: bool = True) -> PeriodOut:
    return PeriodOut.model_validate(
        {
            "name": period.name if named else None,
            "from": rfc3339_utc(period.start_ms),
            "to": rfc3339_utc(period.end_ms),
            "complete": period.complete,
        }
    )


def _named_period(context: HubContext, patient: service.PatientSettings, name: str) -> Period:
    try:
        return resolve_period(name, epoch_ms(context.clock()), patient.zone)
    except ValueError as err:
        raise Problem(422, "invalid-period", str(err), field="period") from err


def _window(context: HubContext, start: datetime | None, end: datetime | None) -> Period:
    """A from/to window: ``to`` defaults to now, ``from`` to 14 days before ``to``."""
    now = context.clock()
    stop = end or now
    begin = start or stop - timedelta(days=14)
    if begin >= stop:
        raise Problem(422, "invalid-range", "`from` must be before `to`", field="from")
    if stop - begin > MAX_WINDOW:
        raise Problem(422, "invalid-range", "a window spans at most 731 days", field="from")
    return Period("window", epoch_ms(begin), epoch_ms(stop), stop <= now)


def _program(patient: service.PatientSettings) -> dict[str, str] | None:
    program = patient.program
    return None if program is None else {"id": program.id, "name": program.name}


def _setup(
    context: HubContext, patient_id: str, unit: GlucoseUnit | None
) -> tuple[service.PatientSettings, GlucoseUnit]:
    patient = service.patient_settings(context.registry, patient_id, context.settings.time.zone)
    chosen = unit or (MMOL_L if patient.preferences.glucose_unit == MMOL_L else MG_DL)
    return patient, chosen


def _glucose(values: list[float], unit: GlucoseUnit) -> list[float]:
    """mg/dL values in ``unit`` (unchanged for mg/dL)."""
    return values if unit == MG_DL else [glucose_value(v, unit) for v in values]


def _summary(summary: Any, unit: GlucoseUnit) -> dict[str, Any] | None:
    """A summary's ``to_json()``, with ``_mmol_l`` twins when mmol/L is shown."""
    if summary is None:
        return None
    data: dict[str, Any] = summary.to_json()
    return with_mmol_twins(data) if unit == MMOL_L else data


@router.get("/{patient_id}/trends", response_model=TrendsOut, response_model_by_alias=True)
def get_trends(
    patient_id: str,
    principal: CurrentPrincipal,
    context: Context,
    metric: Annotated[
        list[str] | None, Query(description="repeatable; default: the charted metrics held")
    ] = None,
    period: Annotated[str | None, Query(description=PERIOD_HELP)] = None,
    from_: Annotated[
        Instant | None, Query(alias="from", description="a window instead of a period")
    ] = None,
    to: Annotated[Instant | None, Query(description="exclusive; default now")] = None,
    unit: Unit = None,
) -> TrendsOut:
    """Mean, min, max and count per bucket of each metric; the bucket is the smallest of 1 s
    ... 1 year that cuts the range into at most 500 epoch-aligned buckets (a day: 5 min, a
    week: 30 min, a month: 2 h, 3 months: 6 h). Default range: the last week."""
    authorize_patient_access(context, principal, patient_id, "trends.read")
    for name in metric or ():
        if name not in METRICS:
            raise Problem(422, "unknown-metric", f"unknown metric {name!r}", field="metric")
    patient, chosen = _setup(context, patient_id, unit)
    if from_ is not None or to is not None:
        if period is not None:
            raise Problem(422, "invalid-range", "give `period` or `from`/`to`", field="period")
        window, named = _window(context, from_, to), False
    else:
        window, named = _named_period(context, patient, period or DEFAULT_TREND_PERIOD), True
    metrics = metric or service.charted_metrics(context.store, patient_id)
    start, end = window.start_ms, window.end_ms
    series = []
    for name, down in service.trends(
        context.store, patient_id, metrics, from_epoch_ms(start), from_epoch_ms(end)
    ):
        shown = chosen if name in GLUCOSE_METRICS else MG_DL  # only glucose is converted
        series.append(
            SeriesOut(
                metric=name,
                display=METRICS[name].display,
                unit=display_unit(name, chosen),
                t_ms=down.starts_ms.tolist(),
                mean=_glucose(down.mean.tolist(), shown),
                min=_glucose(down.min.tolist(), shown),
                max=_glucose(down.max.tolist(), shown),
                count=down.count.tolist(),
            )
        )
    return TrendsOut(
        patient_id=patient_id,
        period=_period_out(window, named=named),
        zone=patient.zone_name,
        glucose_unit=chosen,
        bucket_ms=bucket_for_range(start, end, None),
        series=series,
    )


@router.get("/{patient_id}/summaries", response_model=SummariesOut, response_model_by_alias=True)
def get_summaries(
    patient_id: str,
    principal: CurrentPrincipal,
    context: Context,
    period: Annotated[str, Query(description=PERIOD_HELP)] = DEFAULT_SUMMARY_PERIOD,
    unit: Unit = None,
) -> SummariesOut:
    """Every summary of the period (docs/summaries.md; null where the patient has no reading
    of the metric) and the latest trusted reading of each charted metric."""
    authorize_patient_access(context, principal, patient_id, "summaries.read")
    patient, chosen = _setup(context, patient_id, unit)
    window = _named_period(context, patient, period)
    found = service.summaries(context.store, patient_id, window, patient)
    agp = _summary(found.agp, MG_DL)
    if agp is not None:
        for row in agp["bins"]:
            for key in ("p5", "p25", "p50", "p75", "p95"):
                if row[key] is not None:
                    row[key] = glucose_value(row[key], chosen)
        agp["unit"] = chosen
    heart = _summary(found.heart_rate, chosen)
    if heart is not None:
        heart["metric"] = found.heart_rate_metric
    latest = {
        name: {
            "value": glucose_value(r.value, chosen) if name in GLUCOSE_METRICS else r.value,
            "unit": display_unit(name, chosen),
            "time": rfc3339_utc(epoch_ms(r.effective_time)),
            "device_id": r.device_id,
            "flags": list(r.flags),
        }
        for name, r in context.store.latest(patient_id, service.CHARTED).items()
    }
    return SummariesOut(
        patient_id=patient_id,
        period=_period_out(window),
        zone=patient.zone_name,
        glucose_unit=chosen,
        program=_program(patient),
        latest=latest,
        cgm=_summary(found.cgm, chosen),
        agp=agp,
        spot_glucose=_summary(found.spot_glucose, chosen),
        blood_pressure=_summary(found.blood_pressure, chosen),
        weight=_summary(found.weight, chosen),
        spo2=_summary(found.spo2, chosen),
        heart_rate=heart,
        temperature=_summary(found.temperature, chosen),
    )


@router.get("/{patient_id}/summaries/cgm")
def get_cgm_summary(
    patient_id: str,
    principal: CurrentPrincipal,
    context: Context,
    from_: Annotated[
        Instant | None, Query(alias="from", description="default: `to` - 14 days")
    ] = None,
    to: Annotated[Instant | None, Query(description="exclusive; default now")] = None,
    unit: Unit = None,
) -> dict[str, Any]:
    """The CGM consensus metrics (``cgm-1.0``) of ``[from, to)``, at most 731 days:
    time-weighted ranges, active time, mean, SD, CV, GMI, hypoglycaemia events."""
    authorize_patient_access(context, principal, patient_id, "summaries.read")
    patient, chosen = _setup(context, patient_id, unit)
    window = _window(context, from_, to)
    summary = service.cgm_window(context.store, patient_id, window, patient.zone)
    body = _summary(summary, chosen) or {}
    return {**body, "zone": patient.zone_name, "glucose_unit": chosen}


@router.get("/{patient_id}/alerts", response_model=AlertsOut, response_model_by_alias=True)
def get_alerts(
    patient_id: str,
    principal: CurrentPrincipal,
    context: Context,
    period: Annotated[str, Query(description=PERIOD_HELP)] = DEFAULT_SUMMARY_PERIOD,
) -> AlertsOut:
    """The alerts of the period under the patient's programme thresholds (the consensus
    defaults without one; CGM alerts need 14 days and 70 % active time), and each enrolled
    device silent for ``silent_days`` at the time of the request."""
    authorize_patient_access(context, principal, patient_id, "alerts.read")
    patient, _ = _setup(context, patient_id, None)
    window = _named_period(context, patient, period)
    found = service.summaries(context.store, patient_id, window, patient, profiles=False)
    silent = service.silent_devices(
        context.store, context.registry, patient_id, context.clock(), patient.thresholds
    )
    return AlertsOut(
        patient_id=patient_id,
        period=_period_out(window),
        algorithm_version=ALERTS_ALGORITHM_VERSION,
        program=_program(patient),
        thresholds={k: float(v) for k, v in asdict(patient.thresholds).items()},
        items=[a.to_json() for a in (*found.alerts(patient.thresholds), *silent)],
    )
