"""The hub's data as FHIR R4 resources: pure builders, JSON-ready ``dict``s out.

* **Observation** per reading (R4 "Vital Signs" profiles, observation-vitalsigns.html; ANS
  *Mesures de santé* profiles derive from them): ``status`` final; ``category`` vital-signs
  (every metric with a LOINC code, as the ANS profiles have it, glucose included) and the PHD
  IG's ``phd``; ``code`` with the MDC coding (PHD IG) and the LOINC coding(s) the profile
  requires (oxygensat: 2708-6); ``valueQuantity`` in UCUM; ``effectiveDateTime`` with the
  device's own UTC offset when known (``Reading.utc_offset_min``), as a date when the device
  sent a date, as ``effectivePeriod`` when it sent a period; ``issued`` the hub's receive
  time; critical flags as ``interpretation`` (v3 LL / HH); a glucose meal context as a PHD
  ``component`` (MDC_CTXT_GLU_MEAL) and as the ANS ``mesures-moment-of-measurement``
  extension; provenance (time source, raw device time, clock correction, zone, value and unit
  as sent, path) and the hub's flags as extensions (below). Systolic, diastolic and mean
  pressures of one measurement are one R4 ``bp`` panel (85354-9, components 8480-6/8462-4).
* **Device** (the hub's device id as identifier; a PHD SYSID identifier when the id is an
  EUI-64), **Patient** (INS-NIR and the pseudonymous id), **AuditEvent** (R4: ``source`` is
  mandatory), **Basic** (registry rows of the GDPR export).
* **Bundles**: ``collection`` without ``total`` (bdl-1: total only for search and history),
  ``searchset`` with ``total`` and ``self`` / ``next`` links, ``batch-response`` and
  ``transaction-response``; **OperationOutcome**.

Resource ids follow R4's ``[A-Za-z0-9-.]{1,64}``: a hub id that does not is hashed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from device_profiles.vocabulary import METRICS
from hub.core.fhir import codes
from hub.core.model import Reading

# The hub's own identifier systems and extensions (one namespace, easy to move to a canonical
# URL once the hub publishes StructureDefinitions).
HUB = "urn:health-device-hub"
DEVICE_ID_SYSTEM = f"{HUB}:device-id"
PATIENT_ID_SYSTEM = f"{HUB}:patient-id"
PRINCIPAL_SYSTEM = f"{HUB}:principal"
AUDIT_ACTION_SYSTEM = f"{HUB}:audit-action"
PROVENANCE_EXT = f"{HUB}:fhir:StructureDefinition:reading-provenance"
FLAG_EXT = f"{HUB}:fhir:StructureDefinition:reading-flag"
REGISTRY_ROWS_EXT = f"{HUB}:registry-rows"
HUB_NAME = "health-device-hub"

_CONTINUA_IDS = "http://hl7.org/fhir/uv/phd/CodeSystem/ContinuaDeviceIdentifiers"
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_EUI64 = re.compile(r"[0-9A-F]{2}(?:-[0-9A-F]{2}){7}")
JSON = dict[str, Any]


def fhir_id(value: str, prefix: str) -> str:
    """``value`` when it is a valid R4 id, else ``prefix`` + a hash of it (stable)."""
    if _FHIR_ID.fullmatch(value):
        return value
    return prefix + hashlib.sha256(value.encode()).hexdigest()[:32]


def patient_ref(patient_id: str) -> str:
    return f"Patient/{fhir_id(patient_id, 'pat-')}"


def device_ref(device_id: str) -> str:
    return f"Device/{fhir_id(device_id, 'dev-')}"


# --- observations ---------------------------------------------------------------------------


def observations(readings: Iterable[Reading]) -> list[JSON]:
    """Readings in store order as Observations; one R4 ``bp`` panel per blood-pressure
    measurement (systolic and diastolic of one device, one time)."""
    ordered = list(readings)
    panels: dict[tuple[str, str, datetime, str | None], list[Reading]] = {}
    for reading in ordered:
        if reading.metric in codes.BP_METRICS:
            key = (
                reading.patient_id,
                reading.device_id,
                reading.effective_time,
                reading.device_time,
            )
            panels.setdefault(key, []).append(reading)
    out: list[JSON] = []
    done: set[str] = set()
    for reading in ordered:
        if reading.reading_id in done:
            continue
        key = (reading.patient_id, reading.device_id, reading.effective_time, reading.device_time)
        members = panels.get(key, []) if reading.metric in codes.BP_METRICS else []
        metrics = {m.metric for m in members}
        if {"systolic_bp", "diastolic_bp"} <= metrics:
            out.append(bp_panel(members))
            done.update(m.reading_id for m in members)
        else:
            out.append(observation(reading))
    return out


def observation(reading: Reading) -> JSON:
    """One reading as one Observation (see the module docstring)."""
    definition = reading.definition
    vital = definition.loinc is not None
    resource: JSON = {"resourceType": "Observation", "id": reading.reading_id}
    profiles = _profiles(reading.metric) if vital else []
    if profiles:
        resource["meta"] = {"profile": profiles}
    resource["extension"] = [
        _provenance(reading),
        *_flags(reading.flags),
        *_moment(reading.flags),
    ]
    resource.update(
        {
            "status": "final",
            "category": _categories(vital),
            "code": {"coding": metric_codings(reading.metric), "text": definition.display},
            "subject": {"reference": patient_ref(reading.patient_id)},
            **effective(reading),
            "issued": _instant(reading.receive_time),
            "valueQuantity": _quantity(reading.value, reading.unit),
        }
    )
    interpretation = _interpretation(reading.flags)
    if interpretation:
        resource["interpretation"] = interpretation
    resource["device"] = {"reference": device_ref(reading.device_id)}
    meal = _meal_component(reading.flags)
    if meal is not None:
        resource["component"] = [meal]
    return resource


def bp_panel(members: Sequence[Reading]) -> JSON:
    """Systolic, diastolic (and mean) pressures of one measurement: an R4 ``bp`` panel."""
    ordered = sorted(members, key=lambda r: codes.BP_METRICS.index(r.metric))
    first = ordered[0]
    flags = tuple(dict.fromkeys(flag for member in ordered for flag in member.flags))
    mdc_code, mdc_ref = codes.BP_PANEL_MDC
    components = []
    for member in ordered:
        component: JSON = {
            "extension": [_sent(member)],
            "code": {"coding": metric_codings(member.metric)},
            "valueQuantity": _quantity(member.value, member.unit),
        }
        interpretation = _interpretation(member.flags)
        if interpretation:
            component["interpretation"] = interpretation
        components.append(component)
    return {
        "resourceType": "Observation",
        "id": f"bp-{first.reading_id}",
        "meta": {"profile": [codes.VITAL_SIGNS_PROFILE, codes.BP_PROFILE]},
        "extension": [_provenance(first), *_flags(flags)],
        "status": "final",
        "category": _categories(True),
        "code": {
            "coding": [
                _loinc(codes.BP_PANEL_LOINC),
                {"system": codes.MDC, "code": mdc_code, "display": mdc_ref},
            ],
            "text": "Blood pressure",
        },
        "subject": {"reference": patient_ref(first.patient_id)},
        **effective(first),
        "issued": _instant(first.receive_time),
        "device": {"reference": device_ref(first.device_id)},
        "component": components,
    }


def metric_codings(metric: str) -> list[JSON]:
    """The LOINC coding(s) a profile requires first, then the MDC coding (PHD IG)."""
    definition = METRICS[metric]
    loincs = [*codes.EXTRA_LOINC.get(metric, ()), *([definition.loinc] if definition.loinc else [])]
    return [
        *(_loinc(code) for code in dict.fromkeys(loincs)),
        {"system": codes.MDC, "code": str(definition.mdc_code), "display": definition.mdc_ref},
    ]


def _loinc(code: str) -> JSON:
    coding: JSON = {"system": codes.LOINC, "code": code}
    if code in codes.LOINC_DISPLAY:
        coding["display"] = codes.LOINC_DISPLAY[code]
    return coding


def _profiles(metric: str) -> list[str]:
    specific = codes.PROFILE_BY_METRIC.get(metric)
    return [codes.VITAL_SIGNS_PROFILE, *([specific] if specific else [])]


def _categories(vital: bool) -> list[JSON]:
    phd = {"coding": [{"system": codes.PHD_CATEGORY, "code": "phd"}]}
    if not vital:
        return [phd]
    signs = {
        "coding": [
            {"system": codes.OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}
        ]
    }
    return [signs, phd]


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _quantity(value: float, unit: str) -> JSON:
    return {"value": _number(value), "unit": unit, "system": codes.UCUM, "code": unit}


def _interpretation(flags: Sequence[str]) -> list[JSON]:
    return [
        {"coding": [{"system": codes.INTERPRETATION, "code": code, "display": display}]}
        for flag, (code, display) in codes.INTERPRETATION_OUT.items()
        if flag in flags
    ]


def _meal_component(flags: Sequence[str]) -> JSON | None:
    """PHD IG compound glucose: the meal context as a component (MDC_CTXT_GLU_MEAL)."""
    meal = next((codes.MEAL_OUT[f] for f in flags if f in codes.MEAL_OUT), None)
    if meal is None:
        return None
    question, question_ref = codes.MEAL_CONTEXT_CODE
    value, value_ref, _, _ = meal
    return {
        "code": {"coding": [{"system": codes.MDC, "code": question, "display": question_ref}]},
        "valueCodeableConcept": {
            "coding": [{"system": codes.MDC, "code": value, "display": value_ref}]
        },
    }


def _moment(flags: Sequence[str]) -> list[JSON]:
    """ANS ``mesures-moment-of-measurement`` (JDV-J157 MomentGlucose) for a meal/moment flag."""
    for flag in flags:
        if flag in codes.MEAL_OUT:
            _, _, code, display = codes.MEAL_OUT[flag]
            coding = {"system": codes.LOINC_ANS, "code": code, "display": display}
            text = flag.removeprefix("meal:")
        elif flag in codes.MOMENT_OUT:
            system, code, display = codes.MOMENT_OUT[flag]
            coding = {"system": system, "code": code, "display": display}
            text = flag.removeprefix("moment:")
        else:
            continue
        return [
            {
                "url": codes.ANS_MOMENT_EXT,
                "valueCodeableConcept": {"coding": [coding], "text": text},
            }
        ]
    return []


def _flags(flags: Iterable[str]) -> list[JSON]:
    return [{"url": FLAG_EXT, "valueCode": flag} for flag in flags if flag and " " not in flag]


def _provenance(reading: Reading) -> JSON:
    """Where the value and its time come from (``hub.core.model.Reading`` provenance)."""
    parts: list[JSON] = [
        {"url": "source", "valueCode": reading.source.value},
        {"url": "timeSource", "valueCode": reading.time_source.value},
    ]
    if reading.device_time is not None:
        parts.append({"url": "deviceTime", "valueString": reading.device_time})
    if reading.clock_offset_ms is not None:
        parts.append(
            {
                "url": "clockOffset",
                "valueQuantity": {
                    "value": reading.clock_offset_ms,
                    "unit": "ms",
                    "system": codes.UCUM,
                    "code": "ms",
                },
            }
        )
    if reading.time_zone is not None:
        parts.append({"url": "timeZone", "valueCode": reading.time_zone})
    if reading.seq is not None:
        parts.append({"url": "sequence", "valueString": str(reading.seq)})
    parts += _sent(reading)["extension"]
    return {"url": PROVENANCE_EXT, "extension": parts}


def _sent(reading: Reading) -> JSON:
    parts: list[JSON] = [{"url": "readingId", "valueId": reading.reading_id[:64]}]
    if reading.value_sent is not None:
        parts.append({"url": "valueSent", "valueString": reading.value_sent})
    if reading.unit_sent is not None:
        parts.append({"url": "unitSent", "valueCode": reading.unit_sent})
    return {"url": PROVENANCE_EXT, "extension": parts}


# --- times ------------------------------------------------------------------------------------


def local_zone(reading: Reading) -> tzinfo:
    """The device's UTC offset at the reading's time, else its zone, else UTC."""
    if reading.utc_offset_min is not None:
        return timezone(timedelta(minutes=reading.utc_offset_min))
    if reading.time_zone is not None:
        try:
            return ZoneInfo(reading.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return UTC
    return UTC


def effective(reading: Reading) -> JSON:
    """``effective[x]`` as the device sent it: a date, a period, or a time with its offset."""
    local = reading.effective_time.astimezone(local_zone(reading))
    flags = reading.flags
    day = "time-precision:day" in flags

    def written(moment: datetime) -> str:
        return moment.date().isoformat() if day else _datetime(moment)

    duration = next(
        (f.removeprefix("period-ms:") for f in flags if f.startswith("period-ms:")), None
    )
    if duration is not None and duration.isdigit():
        end = local + timedelta(milliseconds=int(duration))
        return {"effectivePeriod": {"start": written(local), "end": written(end)}}
    if "period:start-only" in flags:
        return {"effectivePeriod": {"start": written(local)}}
    if "period:end-only" in flags:
        return {"effectivePeriod": {"end": written(local)}}
    return {"effectiveDateTime": written(local)}


def _datetime(moment: datetime) -> str:
    """An R4 dateTime: seconds (milliseconds when there are any) and the UTC offset."""
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _instant(moment: datetime) -> str:
    return _datetime(moment.astimezone(UTC))


# --- devices, patients, audit, registry rows ---------------------------------------------------


def device(device_id: str, *, manufacturer: str | None = None, model: str | None = None) -> JSON:
    """A Device the hub knows: its hub id (and PHD SYSID when it is an EUI-64), make, model."""
    identifiers: list[JSON] = [{"system": DEVICE_ID_SYSTEM, "value": device_id}]
    if _EUI64.fullmatch(device_id):
        identifiers.append(
            {
                "type": {
                    "coding": [
                        {
                            "system": _CONTINUA_IDS,
                            "code": "SYSID",
                        }
                    ]
                },
                "system": codes.SYSID_SYSTEM,
                "value": device_id,
            }
        )
    resource: JSON = {
        "resourceType": "Device",
        "id": fhir_id(device_id, "dev-"),
        "identifier": identifiers,
    }
    if manufacturer:
        resource["manufacturer"] = manufacturer
    if model:
        resource["deviceName"] = [{"name": model, "type": "model-name"}]
        resource["modelNumber"] = model
    return resource


def patient(patient_id: str, ins: str | None) -> JSON:
    identifiers: list[JSON] = [{"system": PATIENT_ID_SYSTEM, "value": patient_id}]
    if ins:
        identifiers.insert(0, {"system": codes.INS_NIR, "value": ins})
    return {
        "resourceType": "Patient",
        "id": fhir_id(patient_id, "pat-"),
        "identifier": identifiers,
    }


# The last part of an audited action -> AuditEvent.action (C R U D E).
_AUDIT_ACTIONS = {
    "read": "R",
    "list": "R",
    "search": "R",
    "export": "R",
    "register": "C",
    "object": "C",
    "create": "C",
    "enroll": "C",
    "visibility": "U",
    "update": "U",
    "withdraw": "U",
    "erase": "D",
    "erased": "D",
    "delete": "D",
}


def audit_event(row: Mapping[str, Any], at: datetime) -> JSON:
    """One audit row (``hub.adapters.registry`` audit_events) as an R4 AuditEvent; ``at`` is
    the row's time."""
    action = str(row["action"])
    event: JSON = {
        "resourceType": "AuditEvent",
        "id": fhir_id(str(row["id"]), "audit-"),
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
            "display": "RESTful Operation",
        },
        "subtype": [{"system": AUDIT_ACTION_SYSTEM, "code": action}],
        "action": _AUDIT_ACTIONS.get(action.rsplit(".", 1)[-1], "E"),
        "recorded": _instant(at),
        "outcome": "0" if row["outcome"] == "allowed" else "4",
        "outcomeDesc": str(row["outcome"]) + (f": {row['detail']}" if row.get("detail") else ""),
        "agent": [
            {
                "who": {"identifier": {"system": PRINCIPAL_SYSTEM, "value": str(row["actor"])}},
                "role": [{"text": str(row["role"])}],
                "requestor": True,
            }
        ],
        "source": {
            "site": HUB_NAME,
            "observer": {"display": HUB_NAME},
            "type": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                    "code": "4",
                    "display": "Application Server",
                }
            ],
        },
    }
    if row.get("patient_id"):
        event["entity"] = [{"what": {"reference": patient_ref(str(row["patient_id"]))}}]
    return event


def basic(table: str, rows_json: str) -> JSON:
    """A registry table's rows for the GDPR export (R4 Basic; id without ``_``)."""
    return {
        "resourceType": "Basic",
        "id": fhir_id(f"registry-{table.replace('_', '-')}", "registry-"),
        "code": {"text": f"hub registry: {table}"},
        "extension": [{"url": REGISTRY_ROWS_EXT, "valueString": rows_json}],
    }


# --- bundles and outcomes ------------------------------------------------------------------------


def entry(resource: JSON, base: str, *, search: bool = False) -> JSON:
    """A Bundle entry whose ``fullUrl`` is the resource's URL under the FHIR ``base``."""
    item: JSON = {
        "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
    }
    if search:
        item["search"] = {"mode": "match"}
    return item


def collection(entries: list[JSON], *, timestamp: datetime) -> JSON:
    """A ``collection`` Bundle: no ``total`` (bdl-1)."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _instant(timestamp),
        "entry": entries,
    }


def searchset(
    entries: list[JSON],
    *,
    total: int,
    self_url: str,
    next_url: str | None,
    timestamp: datetime,
) -> JSON:
    """A ``searchset`` page: ``total`` matches in all, ``self`` and ``next`` links."""
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": _instant(timestamp),
        "total": total,
        "link": links,
        "entry": entries,
    }


def issue(severity: str, code: str, diagnostics: str, expression: str | None = None) -> JSON:
    """An OperationOutcome issue; ``expression`` a FHIRPath into the request."""
    item: JSON = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        item["expression"] = [expression]
    return item


def operation_outcome(issues: list[JSON]) -> JSON:
    return {"resourceType": "OperationOutcome", "issue": issues}


def response_entry(status: str, issues: list[JSON], location: str | None = None) -> JSON:
    response: JSON = {"status": status}
    if location:
        response["location"] = location
    if issues:
        response["outcome"] = operation_outcome(issues)
    return {"response": response}


def response_bundle(kind: str, entries: list[JSON], *, timestamp: datetime) -> JSON:
    """A ``batch-response`` or ``transaction-response``: one entry per request entry."""
    return {
        "resourceType": "Bundle",
        "type": f"{kind}-response",
        "timestamp": _instant(timestamp),
        "entry": entries,
    }
