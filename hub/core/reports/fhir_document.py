"""The structured version of a report: a FHIR R4 document (``Bundle.type = document``).

Entries: the Composition (LOINC 53576-5, one section per summary, the alerts as text), the
Patient (the hub's pseudonymous id only: the INS travels in the filing metadata, never in a
document), the authoring Organization, the hub itself as a Device (its version and every
algorithm version), the devices that measured, and the summary Observations — coded as the
ANS *Mesures de santé* glucose profile has it for the GMI (TAASIP MED-972 + LOINC 97506-0,
its window in the ``mesures-number-of-days`` extension), LOINC where a code exists, the hub's
own code system otherwise — each referencing the device that measured when there is one.
Every ``fullUrl`` is a name-based UUID of the document version, so building it twice gives
the same document.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.core.fhir import outbound
from hub.core.fhir.codes import OBSERVATION_CATEGORY
from hub.core.reports import codes, strings
from hub.core.reports.content import DeviceUse, ReportContent
from hub.core.reports.versioning import VersionIds
from hub.core.summaries import rfc3339_utc

JSON = dict[str, Any]
VITAL_SIGNS = codes.concept(codes.coding(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs"))


@dataclass(frozen=True, slots=True)
class Authoring:
    """Who files the documents: the organization operating the hub, and the hub."""

    organization_name: str
    organization_id: str
    hub_version: str


@dataclass(slots=True)
class _Builder:
    content: ReportContent
    ids: VersionIds
    entries: list[JSON]

    def url(self, key: str) -> str:
        return f"urn:uuid:{uuid.uuid5(self.ids.entry_uuid, key)}"

    def add(self, key: str, resource: JSON) -> str:
        full_url = self.url(key)
        self.entries.append({"fullUrl": full_url, "resource": resource})
        return full_url

    def text(self, key: str, **values: object) -> str:
        return strings.text(key, self.content.language, **values)


def _narrative(lines: Sequence[str]) -> JSON:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def _period(content: ReportContent, start_ms: int | None = None) -> JSON:
    return {
        "start": rfc3339_utc(content.start_ms if start_ms is None else start_ms),
        "end": rfc3339_utc(content.end_ms),
    }


def _observation(
    builder: _Builder,
    code: JSON,
    patient: str,
    *,
    effective: JSON,
    value: JSON | None = None,
    components: list[JSON] | None = None,
    device: str | None = None,
    vital: bool = False,
    extensions: list[JSON] | None = None,
) -> JSON:
    resource: JSON = {"resourceType": "Observation", "status": "final"}
    if extensions:
        resource["extension"] = extensions
    if vital:
        resource["category"] = [VITAL_SIGNS]
    resource |= {"code": code, "subject": {"reference": patient}} | effective
    if value is not None:
        resource["valueQuantity"] = value
    if components:
        resource["component"] = components
    if device:
        resource["device"] = {"reference": device}
    return resource


def _device_of(metric: str, devices: dict[str, str], uses: Sequence[DeviceUse]) -> str | None:
    """The one device that measured ``metric`` in the period, if exactly one did."""
    found = [devices[d.device_id] for d in uses if metric in d.metrics]
    return found[0] if len(found) == 1 else None


def _component(code: JSON, value: float | None, unit: str) -> JSON | None:
    if value is None:
        return None
    return {"code": code, "valueQuantity": codes.quantity(value, unit)}


def _cgm(builder: _Builder, patient: str, devices: dict[str, str]) -> tuple[list[str], list[str]]:
    content = builder.content
    cgm = content.cgm
    if cgm.readings == 0:
        return [], []
    device = _device_of("glucose_isf", devices, content.devices)
    window = {"effectivePeriod": _period(content, content.cgm_start_ms)}
    days = builder.text("cgm.window", days=content.cgm_days)
    refs = []
    lines = [days]
    if cgm.gmi_percent is not None and cgm.mean_mg_dl is not None:
        ndays = [codes.number_of_days(content.cgm_days, days)]
        refs.append(
            builder.add(
                "gmi",
                _observation(
                    builder,
                    codes.concept(*codes.GMI, text=builder.text("cgm.gmi")),
                    patient,
                    effective={"effectiveDateTime": rfc3339_utc(content.end_ms)},
                    value=codes.quantity(cgm.gmi_percent, "%"),
                    device=device,
                    vital=True,
                    extensions=ndays,
                ),
            )
        )
        refs.append(
            builder.add(
                "cgm-mean",
                _observation(
                    builder,
                    codes.concept(*codes.MEAN_CGM_GLUCOSE, text=builder.text("cgm.mean")),
                    patient,
                    effective=window,
                    value=codes.quantity(cgm.mean_mg_dl, "mg/dL"),
                    device=device,
                    vital=True,
                    extensions=ndays,
                ),
            )
        )
        lines.append(
            f"{builder.text('cgm.gmi')}: {strings.number(cgm.gmi_percent, content.language)} %"
        )
    ranges = [
        (codes.TIME_IN_RANGE, "time-in-range-70-180", "cgm.tir", cgm.tir_70_180_percent),
        (None, "time-below-70", "cgm.tbr70", cgm.tbr_below_70_percent),
        (None, "time-below-54", "cgm.tbr54", cgm.tbr_below_54_percent),
        (None, "time-above-180", "cgm.tar180", cgm.tar_above_180_percent),
        (None, "time-above-250", "cgm.tar250", cgm.tar_above_250_percent),
    ]
    components = []
    for loinc, hub, key, value in ranges:
        local = codes.hub_code(hub, builder.text(key))
        code = codes.concept(*([loinc] if loinc else []), local, text=builder.text(key))
        if (component := _component(code, value, "%")) is not None:
            components.append(component)
            assert value is not None
            lines.append(f"{builder.text(key)}: {strings.number(value, content.language)} %")
    if components:
        refs.append(
            builder.add(
                "cgm-ranges",
                _observation(
                    builder,
                    codes.concept(codes.hub_code("cgm-times-in-ranges", "CGM times in ranges")),
                    patient,
                    effective=window,
                    components=components,
                    device=device,
                ),
            )
        )
    for key, hub, label, value in (
        ("cgm-cv", "glucose-cv", "cgm.cv", cgm.cv_percent),
        ("cgm-active", "cgm-active-time", "cgm.active", cgm.active_percent),
    ):
        if value is None:
            continue
        refs.append(
            builder.add(
                key,
                _observation(
                    builder,
                    codes.concept(
                        codes.hub_code(hub, builder.text(label)), text=builder.text(label)
                    ),
                    patient,
                    effective=window,
                    value=codes.quantity(value, "%"),
                    device=device,
                ),
            )
        )
    return refs, lines


def _vitals(
    builder: _Builder, patient: str, devices: dict[str, str]
) -> list[tuple[str, list[str]]]:
    """(section key, Observation fullUrls) of the other summaries."""
    content = builder.content
    sections: list[tuple[str, list[str]]] = []
    meter = content.spot_glucose
    if meter.overall.mean_mg_dl is not None:
        code = codes.concept(codes.hub_code("meter-mean-glucose", builder.text("meter.mean")))
        ref = builder.add(
            "meter-mean",
            _observation(
                builder,
                code,
                patient,
                effective={"effectivePeriod": _period(content)},
                value=codes.quantity(meter.overall.mean_mg_dl, "mg/dL"),
                device=_device_of("glucose", devices, content.devices),
            ),
        )
        sections.append(("section.meter", [ref]))
    bp = content.blood_pressure
    if bp.readings:
        sys, dia = bp.overall.systolic_mm_hg, bp.overall.diastolic_mm_hg
        parts = [
            p
            for p in (
                _component(codes.concept(codes.SYSTOLIC), sys, "mm[Hg]"),
                _component(codes.concept(codes.DIASTOLIC), dia, "mm[Hg]"),
            )
            if p is not None
        ]
        resource = _observation(
            builder,
            codes.concept(codes.BP_PANEL, text=builder.text("bp.mean")),
            patient,
            effective={"effectivePeriod": _period(content)},
            components=parts,
            device=_device_of("systolic_bp", devices, content.devices),
            vital=True,
        )
        resource["method"] = {"text": f"{builder.text('bp.mean')} ({bp.readings})"}
        sections.append(("section.bp", [builder.add("bp-mean", resource)]))
    weight = content.weight
    if weight.latest_kg is not None and weight.latest_ms is not None:
        refs = [
            builder.add(
                "weight-latest",
                _observation(
                    builder,
                    codes.concept(codes.BODY_WEIGHT),
                    patient,
                    effective={"effectiveDateTime": rfc3339_utc(weight.latest_ms)},
                    value=codes.quantity(weight.latest_kg, "kg"),
                    device=_device_of("weight", devices, content.devices),
                    vital=True,
                ),
            )
        ]
        if weight.trend_kg_per_week is not None:
            code = codes.concept(codes.hub_code("weight-trend", builder.text("weight.trend")))
            refs.append(
                builder.add(
                    "weight-trend",
                    _observation(
                        builder,
                        code,
                        patient,
                        effective={"effectivePeriod": _period(content)},
                        value=codes.quantity(weight.trend_kg_per_week, "kg/wk"),
                    ),
                )
            )
        sections.append(("section.weight", refs))
    spo2 = content.spo2
    if spo2.mean_percent is not None:
        ref = builder.add(
            "spo2-mean",
            _observation(
                builder,
                codes.concept(codes.SPO2, text=builder.text("spo2.mean")),
                patient,
                effective={"effectivePeriod": _period(content)},
                value=codes.quantity(spo2.mean_percent, "%"),
                device=_device_of("spo2", devices, content.devices),
                vital=True,
            ),
        )
        sections.append(("section.spo2", [ref]))
    heart = content.heart_rate
    if heart.resting_per_min is not None and heart.resting_window_start_ms is not None:
        ref = builder.add(
            "hr-resting",
            _observation(
                builder,
                codes.concept(codes.HEART_RATE_RESTING, text=builder.text("hr.resting")),
                patient,
                effective={"effectiveDateTime": rfc3339_utc(heart.resting_window_start_ms)},
                value=codes.quantity(heart.resting_per_min, "/min"),
                device=_device_of("heart_rate", devices, content.devices),
                vital=True,
            ),
        )
        sections.append(("section.heart_rate", [ref]))
    temp = content.temperature
    if temp.max_celsius is not None and temp.max_ms is not None:
        ref = builder.add(
            "temp-max",
            _observation(
                builder,
                codes.concept(codes.BODY_TEMPERATURE, text=builder.text("temp.max")),
                patient,
                effective={"effectiveDateTime": rfc3339_utc(temp.max_ms)},
                value=codes.quantity(temp.max_celsius, "Cel"),
                device=_device_of("body_temperature", devices, content.devices),
                vital=True,
            ),
        )
        sections.append(("section.temperature", [ref]))
    return sections


def alert_lines(content: ReportContent) -> list[str]:
    """The alerts in the report's language (the PDF prints the same lines)."""
    lang = content.language
    lines = []
    for alert in content.alerts:
        at = ""
        if alert.at_ms is not None:
            at = rfc3339_utc(alert.at_ms)[:10]
        value = "" if alert.value is None else strings.number(alert.value, lang)
        threshold = "" if alert.threshold is None else strings.number(alert.threshold, lang)
        key = f"alert.{alert.code}"
        if key in strings.STRINGS:
            lines.append(
                strings.text(
                    key, lang, value=value, threshold=threshold, at=at, device=alert.device_id
                )
            )
        else:
            lines.append(alert.message)
    return lines


def fhir_document(
    content: ReportContent, ids: VersionIds, *, title: str, created_ms: int, authoring: Authoring
) -> JSON:
    """The FHIR document of one version of a report (``ids``: the ``fhir`` set's version)."""
    builder = _Builder(content, ids, [])
    lang = content.language
    composition_url = builder.url("composition")
    builder.entries.append({"fullUrl": composition_url})  # the Composition comes first (bdl-11)
    patient = builder.add("patient", outbound.patient(content.patient_id, None))
    organization = builder.add(
        "organization",
        {
            "resourceType": "Organization",
            "identifier": [
                {"system": codes.HUB_ORGANIZATION_ID, "value": authoring.organization_id}
            ],
            "name": authoring.organization_name,
        },
    )
    hub_device = builder.add(
        "hub",
        {
            "resourceType": "Device",
            "deviceName": [{"name": outbound.HUB_NAME, "type": "manufacturer-name"}],
            "version": [{"type": {"text": "hub"}, "value": authoring.hub_version}]
            + [
                {"type": {"text": name}, "value": version}
                for name, version in sorted(content.algorithm_versions().items())
            ],
            "owner": {"reference": organization},
        },
    )
    devices: dict[str, str] = {}
    for use in content.devices:
        resource = outbound.device(use.device_id, manufacturer=use.manufacturer, model=use.model)
        devices[use.device_id] = builder.add(f"device:{use.device_id}", resource)
    cgm_refs, cgm_lines = _cgm(builder, patient, devices)
    sections: list[JSON] = []
    device_lines = [
        f"{use.device_id}: {use.manufacturer or ''} {use.model or ''} ({use.readings})".strip()
        for use in content.devices
    ]
    if devices:
        sections.append(
            {
                "title": builder.text("section.devices"),
                "text": _narrative(device_lines),
                "entry": [{"reference": r} for r in devices.values()],
            }
        )
    if cgm_refs:
        sections.append(
            {
                "title": builder.text("section.cgm"),
                "text": _narrative(cgm_lines),
                "entry": [{"reference": r} for r in cgm_refs],
            }
        )
    for key, refs in _vitals(builder, patient, devices):
        sections.append(
            {
                "title": builder.text(key),
                "text": _narrative([builder.text(key)]),
                "entry": [{"reference": r} for r in refs],
            }
        )
    alerts = alert_lines(content) or [builder.text("no_alert")]
    sections.append({"title": builder.text("section.alerts"), "text": _narrative(alerts)})
    composition: JSON = {
        "resourceType": "Composition",
        "language": "fr-FR" if lang == "fr" else "en",
        "status": "final",
        "type": codes.concept(codes.TYPE_CODE),
        "category": [codes.concept(codes.CLASS_CODE)],
        "subject": {"reference": patient},
        "date": rfc3339_utc(created_ms),
        "author": [{"reference": organization}, {"reference": hub_device}],
        "title": title,
        "confidentiality": "N",
        "event": [{"period": _period(content)}],
        "section": sections,
    }
    builder.entries[0]["resource"] = composition
    return {
        "resourceType": "Bundle",
        "id": ids.resource_id,
        "language": composition["language"],
        "identifier": {"system": "urn:ietf:rfc:3986", "value": ids.unique_id},
        "type": "document",
        "timestamp": rfc3339_utc(created_ms),
        "entry": builder.entries,
    }
