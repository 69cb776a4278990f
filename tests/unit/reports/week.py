"""A synthetic patient week for the report tests — 14 days of CGM, home blood pressure twice a
day and a daily weighing, in the last complete week before now (dates from the clock) — and
its documents and ITI-65 submission as the hub builds them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np

from hub.core.periods import complete_periods
from hub.core.reports import mhd, versioning
from hub.core.reports.compute import MetricSeries, ReportInputs, compute_report, report_window
from hub.core.reports.content import DeviceUse, Program, ReportContent
from hub.core.reports.fhir_document import Authoring, fhir_document
from hub.core.summaries import PARIS, AlertThresholds

NOW = datetime.now(UTC)
ZONE = "Europe/Paris"
PERIOD = complete_periods("week", NOW, PARIS, 1)[0]
PATIENT = "pat-0123456789abcdef"


def week_inputs(
    *, language: str = "fr", unit: str = "mg/dL", cgm: bool = True, empty: bool = False
) -> ReportInputs:
    start, end, cgm_start = report_window(PERIOD, ZONE)
    program = Program("diabetes", "Diabète", AlertThresholds())
    if empty:
        return ReportInputs(PATIENT, program, PERIOD, ZONE, language, unit, readings=0)
    rng = np.random.default_rng(7)
    cgm_times = np.arange(cgm_start, end, 300_000, dtype=np.int64)
    wave = 60 * np.sin(cgm_times / 3.6e6 / 24 * 2 * np.pi)
    glucose = np.clip(150 + wave + rng.normal(0, 20, cgm_times.size), 40, 400)
    bp_times = np.arange(start + 7 * 3_600_000, end, 12 * 3_600_000, dtype=np.int64)
    weigh_times = np.arange(start + 7 * 3_600_000, end, 24 * 3_600_000, dtype=np.int64)
    series = {
        "systolic_bp": MetricSeries(bp_times, 138 + rng.normal(0, 6, bp_times.size)),
        "diastolic_bp": MetricSeries(bp_times, 86 + rng.normal(0, 4, bp_times.size)),
        "weight": MetricSeries(weigh_times, 81 + np.linspace(0, 2.5, weigh_times.size)),
    }
    bp_metrics = ("diastolic_bp", "systolic_bp")
    devices = [
        DeviceUse("cuff-1", "Acme", "BP", 2 * bp_times.size, int(bp_times[-1]), bp_metrics),
        DeviceUse(
            "scale-1", "Nimbus", "Scale", weigh_times.size, int(weigh_times[-1]), ("weight",)
        ),
    ]
    readings = 2 * bp_times.size + weigh_times.size
    if cgm:
        series["glucose_isf"] = MetricSeries(cgm_times, glucose)
        in_week = int((cgm_times >= start).sum())
        devices.append(
            DeviceUse("cgm-1", "Acme", "CGM", in_week, int(cgm_times[-1]), ("glucose_isf",))
        )
        readings += in_week
    return ReportInputs(
        PATIENT, program, PERIOD, ZONE, language, unit, readings, series=series, devices=devices
    )


def week(
    *, language: str = "fr", unit: str = "mg/dL", cgm: bool = True, empty: bool = False
) -> ReportContent:
    return compute_report(week_inputs(language=language, unit=unit, cgm=cgm, empty=empty))


INS = "255081416802538"
CREATED_MS = int(NOW.timestamp() * 1000)
AUTHORING = Authoring("Hôpital de jour", "org-1", "0.1.0")


def ids(doc_type: str, version: int, patient: str = PATIENT) -> versioning.VersionIds:
    set_id = versioning.document_set_id(patient, "diabetes", PERIOD.label, doc_type)
    return versioning.version_ids(set_id, version)


def document(content: ReportContent, version: int = 1) -> dict[str, Any]:
    return fhir_document(
        content, ids("fhir", version), title="Rapport", created_ms=CREATED_MS, authoring=AUTHORING
    )


def submission(
    content: ReportContent,
    *,
    version: int = 1,
    hidden: bool = False,
    patient: str = PATIENT,
    pdf: bytes = b"%PDF-1.7 stand-in",
) -> mhd.Submission:
    """The ITI-65 submission of version ``version`` of ``patient``'s report of the week."""
    structured = json.dumps(document(content, version)).encode()
    previous = version - 1 or None

    def filed(doc_type: str, data: bytes, content_type: str, **extra: Any) -> mhd.FiledDocument:
        return mhd.FiledDocument(
            versioning.document_set_id(patient, "diabetes", PERIOD.label, doc_type),
            ids(doc_type, version, patient),
            content_type,
            data,
            "Rapport",
            replaces=None if previous is None else ids(doc_type, previous, patient),
            **extra,
        )

    return mhd.Submission(
        patient_id=patient,
        language="fr",
        hidden_from_professionals=hidden,
        period_start_ms=content.start_ms,
        period_end_ms=content.end_ms,
        created_ms=CREATED_MS,
        ids=versioning.submission_ids(f"{patient}|diabetes|{PERIOD.label}", version),
        title="Rapport",
        source_oid="2.25.1234",
        authoring=AUTHORING,
        documents=(
            filed("fhir", structured, "application/fhir+json"),
            filed("pdf", pdf, "application/pdf", transforms=ids("fhir", version, patient)),
        ),
    )
