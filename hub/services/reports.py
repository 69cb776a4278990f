"""Periodic reports: read a period's readings, compute the report, decide, queue the filing.

For each registered patient and each period kind of their monitoring program (a program's
``report_periods``; patients without one follow ``reports.program`` and ``reports.periods``):

1. read the readings of the period (and the 14 days CGM metrics need) from the time-series
   store — series per metric, and one pass over the readings for the devices that measured
   and the meters' meal contexts — and the devices enrolled in the period from the registry;
2. compute the content (``hub.core.reports.compute``); an empty period is not filed;
3. hash the content with the metadata that shows in the documents (visibility, language)
   and decide against the latest version: unchanged, a first version, or a replacement;
4. render the PDF and the FHIR document, build the ITI-65 bundle, and write the new version
   and its filing in one registry transaction (``FilingStore.decide``). Delivery is
   ``hub.services.filing``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from device_profiles.catalog import Catalog
from hub import __version__
from hub.adapters.pdf import render_report_pdf
from hub.adapters.registry import Registry
from hub.adapters.registry.filings import DocumentRow, FilingStore, NewFiling
from hub.adapters.store import ReadingCursor, ReadingStore, cursor_of
from hub.config import Settings
from hub.core.model import epoch_ms, from_epoch_ms
from hub.core.periods import REPORT_KINDS, CalendarPeriod, complete_periods
from hub.core.reports import mhd, strings, versioning
from hub.core.reports.compute import MetricSeries, ReportInputs, compute_report, report_window
from hub.core.reports.content import DeviceUse, Program, ReportContent
from hub.core.reports.fhir_document import Authoring, fhir_document
from hub.core.reports.versioning import Decision
from hub.core.summaries import meal_context
from hub.core.thresholds import alert_thresholds

log = logging.getLogger(__name__)

SERIES_METRICS = (
    "systolic_bp",
    "diastolic_bp",
    "pulse_rate",
    "weight",
    "spo2",
    "heart_rate",
    "body_temperature",
)
_PAGE = 5000


@dataclass(frozen=True, slots=True)
class Plan:
    """What is reported for a patient: zone, language, visibility, program and its periods."""

    patient_id: str
    zone: str
    language: str
    glucose_unit: str
    hidden_from_professionals: bool
    program: Program
    periods: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: Decision
    filing_id: int | None = None
    version: int | None = None


@dataclass
class RunSummary:
    """The outcome of a run, by decision; ``failed``: patients whose report raised."""

    counts: dict[str, int] = field(default_factory=dict)
    filing_ids: list[int] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.counts[outcome.decision.value] = self.counts.get(outcome.decision.value, 0) + 1
        if outcome.filing_id is not None:
            self.filing_ids.append(outcome.filing_id)

    def failure(self) -> None:
        self.counts["failed"] = self.counts.get("failed", 0) + 1


class ReportService:
    def __init__(
        self,
        settings: Settings,
        store: ReadingStore,
        registry: Registry,
        filings: FilingStore,
        catalog: Catalog,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.filings = filings
        self.catalog = catalog
        self.clock = clock
        reports = settings.reports
        self.authoring = Authoring(reports.organization_name, reports.organization_id, __version__)

    # --- who and what ---------------------------------------------------------------------

    def plan(self, patient_id: str) -> Plan:
        prefs = self.registry.patients.preferences(patient_id)
        patient = self.registry.patients.get(patient_id)
        language = prefs.language if prefs.language in strings.LANGUAGES else "fr"
        program_id = prefs.program or self.settings.reports.program
        record = self.registry.programs.get(program_id)
        if record is None:
            program = Program(
                program_id,
                strings.text("program.default", language),
                alert_thresholds({}),
            )
            periods: tuple[str, ...] = tuple(self.settings.reports.periods)
        else:
            program = Program(record.id, record.name, alert_thresholds(record.thresholds))
            periods = record.report_periods
        return Plan(
            patient_id=patient_id,
            zone=prefs.zone or self.settings.time.zone,
            language=language,
            glucose_unit=prefs.glucose_unit,
            hidden_from_professionals=bool(patient and patient.hidden_from_professionals),
            program=program,
            periods=periods,
        )

    def plans(self) -> list[Plan]:
        return [self.plan(patient_id) for patient_id in self.filings.patient_ids()]

    # --- reading the stores -------------------------------------------------------------------

    def _devices_and_meters(
        self, plan: Plan, start_ms: int, end_ms: int
    ) -> tuple[int, list[DeviceUse], MetricSeries, list[str | None]]:
        """One pass over the period's readings: their number, the devices that measured
        (with those enrolled in the period), and the meter glucose with its meal contexts."""
        counts: dict[str, int] = {}
        last: dict[str, int] = {}
        metrics: dict[str, set[str]] = {}
        meter_times: list[int] = []
        meter_values: list[float] = []
        contexts: list[str | None] = []
        after: ReadingCursor | None = None
        total = 0
        start, end = from_epoch_ms(start_ms), from_epoch_ms(end_ms)
        while True:
            page = self.store.readings(plan.patient_id, None, start, end, after=after, limit=_PAGE)
            for reading in page:
                at_ms = epoch_ms(reading.effective_time)
                counts[reading.device_id] = counts.get(reading.device_id, 0) + 1
                last[reading.device_id] = max(at_ms, last.get(reading.device_id, at_ms))
                metrics.setdefault(reading.device_id, set()).add(reading.metric)
                if reading.metric == "glucose":
                    meter_times.append(at_ms)
                    meter_values.append(reading.value)
                    contexts.append(meal_context(reading.flags))
            total += len(page)
            if len(page) < _PAGE:
                break
            after = cursor_of(page[-1])
        enrolled = {
            e.device_id
            for e in self.registry.enrollments.of_patient(plan.patient_id)
            if epoch_ms(e.start) < end_ms and (e.end is None or epoch_ms(e.end) > start_ms)
        }
        devices = []
        for device_id in sorted(enrolled | set(counts)):
            row = self.registry.devices.get(device_id)
            profile = self.catalog.get(row.profile) if row else None
            devices.append(
                DeviceUse(
                    device_id,
                    profile.manufacturer if profile else None,
                    profile.model if profile else None,
                    counts.get(device_id, 0),
                    last.get(device_id),
                    tuple(sorted(metrics.get(device_id, ()))),
                )
            )
        return total, devices, MetricSeries.of(meter_times, meter_values), contexts

    def content(self, plan: Plan, period: CalendarPeriod) -> ReportContent:
        start, end, cgm_start = report_window(period, plan.zone)
        total, devices, meter, contexts = self._devices_and_meters(plan, start, end)
        series = {"glucose": meter}
        cgm = self.store.series(
            plan.patient_id, "glucose_isf", from_epoch_ms(cgm_start), from_epoch_ms(end)
        )
        series["glucose_isf"] = MetricSeries(cgm.times_ms, cgm.values)
        for metric in SERIES_METRICS:
            found = self.store.series(
                plan.patient_id, metric, from_epoch_ms(start), from_epoch_ms(end)
            )
            series[metric] = MetricSeries(found.times_ms, found.values)
        return compute_report(
            ReportInputs(
                patient_id=plan.patient_id,
                program=plan.program,
                period=period,
                zone=plan.zone,
                language=plan.language,
                glucose_unit=plan.glucose_unit,
                readings=total,
                series=series,
                meter_contexts=contexts,
                devices=devices,
            )
        )

    # --- deciding and queueing -----------------------------------------------------------------

    def file(self, plan: Plan, period: CalendarPeriod) -> Outcome:
        """Compute one report and queue its filing if it is new or changed."""
        content = self.content(plan, period)
        title = strings.document_title(period, plan.program.name, plan.language)
        metadata = {
            "hidden_from_professionals": plan.hidden_from_professionals,
            "language": plan.language,
            "title": title,
        }
        digest = versioning.content_hash(content.to_json(), metadata)
        sets = {
            t: versioning.document_set_id(plan.patient_id, plan.program.id, period.label, t)
            for t in versioning.DOC_TYPES
        }
        latest = self.filings.latest(sets["pdf"])
        verdict = versioning.decide(latest, digest, empty=content.empty)
        if verdict.version is None:
            return Outcome(verdict.decision)
        version = verdict.version
        created = self.clock()
        created_ms = epoch_ms(created)
        ids = {t: versioning.version_ids(s, version) for t, s in sets.items()}
        replaced = {
            t: None if verdict.replaces is None else versioning.version_ids(s, verdict.replaces)
            for t, s in sets.items()
        }
        structured = fhir_document(
            content, ids["fhir"], title=title, created_ms=created_ms, authoring=self.authoring
        )
        pdf = render_report_pdf(content, title=title, created=created)
        key = versioning.report_key(plan.patient_id, plan.program.id, period.label)
        submission = mhd.Submission(
            patient_id=plan.patient_id,
            language=plan.language,
            hidden_from_professionals=plan.hidden_from_professionals,
            period_start_ms=content.start_ms,
            period_end_ms=content.end_ms,
            created_ms=created_ms,
            ids=versioning.submission_ids(key, version),
            title=title,
            source_oid=self.settings.reports.source_oid,
            authoring=self.authoring,
            documents=(
                mhd.FiledDocument(
                    sets["fhir"],
                    ids["fhir"],
                    "application/fhir+json",
                    json.dumps(structured, ensure_ascii=False).encode(),
                    title,
                    replaces=replaced["fhir"],
                ),
                mhd.FiledDocument(
                    sets["pdf"],
                    ids["pdf"],
                    "application/pdf",
                    pdf,
                    title,
                    replaces=replaced["pdf"],
                    transforms=ids["fhir"],
                ),
            ),
        )
        filing_id = self.filings.decide(
            NewFiling(
                patient_id=plan.patient_id,
                program_id=plan.program.id,
                period=period.label,
                report=key,
                version=version,
                content_hash=digest,
                hidden_from_professionals=plan.hidden_from_professionals,
                bundle=json.dumps(mhd.provide_bundle(submission)).encode(),
                documents=tuple(
                    DocumentRow(ids[t].resource_id, sets[t], version, t, ids[t].unique_id, title)
                    for t in versioning.DOC_TYPES
                ),
            ),
            expected=None if latest is None else latest.version,
            now_ms=created_ms,
            actor=self.settings.vault.source_subject,
        )
        if filing_id is None:  # another run decided this report meanwhile
            return Outcome(Decision.UNCHANGED)
        return Outcome(verdict.decision, filing_id, version)

    def run(
        self,
        periods: Callable[[Plan], Iterable[CalendarPeriod]],
        *,
        progress: Callable[[int, int], None] = lambda _done, _total: None,
    ) -> RunSummary:
        """File the reports of every patient for the periods ``periods(plan)`` gives."""
        summary = RunSummary()
        plans = self.plans()
        for number, plan in enumerate(plans):
            for period in periods(plan):
                try:
                    summary.add(self.file(plan, period))
                except Exception:  # one patient's failure must not stop the others
                    log.exception("report %s failed (patient in the DEBUG log)", period.label)
                    log.debug("report %s of %s failed", period.label, plan.patient_id)
                    summary.failure()
            progress(number + 1, len(plans))
        return summary

    def due_periods(self, plan: Plan) -> list[CalendarPeriod]:
        """The complete periods the schedule (re)computes for a patient now."""
        tz = ZoneInfo(plan.zone)
        count = self.settings.reports.recompute_periods
        now = self.clock()
        return [
            period
            for kind in REPORT_KINDS
            if kind in plan.periods
            for period in complete_periods(kind, now, tz, count)
        ]
