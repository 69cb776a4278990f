"""What a periodic report says: the summaries of one patient, program and period.

A :class:`ReportContent` is computed from the readings (``hub.core.reports.compute``) and
rendered twice — a PDF for people, a FHIR document for machines — so both always say the
same thing. ``to_json()`` is its canonical form: the content hash that decides whether a
recomputed report changed is taken over it (``hub.core.reports.versioning``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from hub.core.periods import CalendarPeriod
from hub.core.summaries import (
    AgpProfile,
    Alert,
    AlertThresholds,
    BloodPressureSummary,
    CgmSummary,
    HeartRateSummary,
    Spo2Summary,
    SpotGlucoseSummary,
    TemperatureSummary,
    WeightSummary,
    rfc3339_utc,
)

Summary = (
    CgmSummary
    | AgpProfile
    | SpotGlucoseSummary
    | BloodPressureSummary
    | WeightSummary
    | Spo2Summary
    | HeartRateSummary
    | TemperatureSummary
)

# Bumped when the documents made from the same content change (layout, codes, metadata), so
# that reports filed before are filed again in the new form.
REPORT_FORMAT_VERSION = "reports-1.0"


@dataclass(frozen=True, slots=True)
class Program:
    id: str
    name: str
    thresholds: AlertThresholds


@dataclass(frozen=True, slots=True)
class DeviceUse:
    """A device that measured for the patient in the period, or was enrolled to them."""

    device_id: str
    manufacturer: str | None
    model: str | None
    readings: int  # in the period
    last_ms: int | None  # last reading in the period
    metrics: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "device_id": self.device_id,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "readings": self.readings,
            "last": None if self.last_ms is None else rfc3339_utc(self.last_ms),
            "metrics": list(self.metrics),
        }


@dataclass(frozen=True, slots=True)
class DailyTrend:
    """One metric day by day on the patient's calendar (None: no reading that day)."""

    metric: str
    mean: tuple[float | None, ...]
    low: tuple[float | None, ...]
    high: tuple[float | None, ...]

    def to_json(self) -> dict[str, object]:
        return {"metric": self.metric, "mean": self.mean, "low": self.low, "high": self.high}


@dataclass(frozen=True, slots=True)
class ReportContent:
    patient_id: str
    program: Program
    period: CalendarPeriod
    zone: str
    language: str  # fr | en
    glucose_unit: str  # mg/dL | mmol/L (display only: values are mg/dL)
    start_ms: int
    end_ms: int
    cgm_start_ms: int  # CGM metrics and the AGP cover [cgm_start_ms, end_ms): 14 days at least
    readings: int  # readings of the patient in [start_ms, end_ms)
    devices: tuple[DeviceUse, ...]
    cgm: CgmSummary
    agp: AgpProfile
    spot_glucose: SpotGlucoseSummary
    blood_pressure: BloodPressureSummary
    weight: WeightSummary
    spo2: Spo2Summary
    heart_rate: HeartRateSummary
    temperature: TemperatureSummary
    alerts: tuple[Alert, ...]
    trends: tuple[DailyTrend, ...]
    alerts_version: str

    @property
    def empty(self) -> bool:
        """No reading at all in the period: nothing to report, nothing is filed."""
        return self.readings == 0

    @property
    def cgm_days(self) -> int:
        return round((self.end_ms - self.cgm_start_ms) / 86_400_000)

    def algorithm_versions(self) -> dict[str, str]:
        versions = {"report": REPORT_FORMAT_VERSION, "alerts": self.alerts_version}
        for name, summary in self.summaries().items():
            versions[name] = summary.algorithm_version
        return versions

    def summaries(self) -> dict[str, Summary]:
        """The summaries that have readings, by name (each is computed, with or without)."""
        found: dict[str, Summary] = {
            "cgm": self.cgm,
            "agp": self.agp,
            "spot_glucose": self.spot_glucose,
            "blood_pressure": self.blood_pressure,
            "weight": self.weight,
            "spo2": self.spo2,
            "heart_rate": self.heart_rate,
            "temperature": self.temperature,
        }
        return {name: s for name, s in found.items() if s.readings > 0}

    def to_json(self) -> dict[str, object]:
        return {
            "format": REPORT_FORMAT_VERSION,
            "patient_id": self.patient_id,
            "program": {
                "id": self.program.id,
                "name": self.program.name,
                "thresholds": asdict(self.program.thresholds),
            },
            "period": {
                "label": self.period.label,
                "kind": self.period.kind,
                "start": rfc3339_utc(self.start_ms),
                "end": rfc3339_utc(self.end_ms),
                "cgm_start": rfc3339_utc(self.cgm_start_ms),
                "zone": self.zone,
            },
            "language": self.language,
            "glucose_unit": self.glucose_unit,
            "readings": self.readings,
            "devices": [d.to_json() for d in self.devices],
            "summaries": {name: s.to_json() for name, s in self.summaries().items()},
            "alerts": [a.to_json() for a in self.alerts],
            "trends": [t.to_json() for t in self.trends],
            "algorithm_versions": self.algorithm_versions(),
        }
