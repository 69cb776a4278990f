"""Provider pushes: a JSON batch or a FHIR R4 Bundle of Observations, to coded measurements.

Pure: the request body in, ``(device_id, index, Measurement)`` items and per-item errors out.
The whole body is refused (:class:`~hub.core.wire.WireError`) only when it is not a document of the
expected shape at all; every other problem is reported for its item, and the good items go on.

* JSON batch (``application/json``)::

    {"readings": [{"device_id": "bp-1", "metric": "systolic_bp", "value": 128,
                   "unit": "mm[Hg]", "time": "2026-11-28T08:00:00+01:00", "seq": 3}, ...]}

* FHIR R4 ``Bundle`` of type ``transaction`` or ``batch`` (``application/fhir+json``) holding
  ``Observation`` and ``Device`` resources, as the HL7 Personal Health Device IG and the ANS
  *Mesures de santé* IG shape them: ``Observation.code`` coded in MDC
  (``urn:iso:std:iso:11073:10101``) or LOINC, ``valueQuantity`` in UCUM, ``effectiveDateTime``
  with an offset, ``device`` referencing a ``Device`` of the bundle whose ``identifier`` is the
  hub's device id; a blood-pressure panel carries its values in ``component``. The item index
  is the bundle entry's index.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from device_profiles.errors import DecodeError
from device_profiles.measurement import Measurement
from device_profiles.vocabulary import METRICS
from hub.core.identity import check_device_id
from hub.core.wire import ItemError, WireError, json_type, parse_json, parse_reading, parse_time

MAX_ITEMS = 5000
MDC_SYSTEM = "urn:iso:std:iso:11073:10101"
LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
_FINAL = {"final", "amended", "corrected"}

# Code -> metric. MDC codes are unique per metric; a LOINC code shared by two metrics
# (8867-4: heart rate and pulse rate) maps to the first one listed in the vocabulary.
_BY_CODE: dict[tuple[str, str], str] = {}
for _metric in METRICS.values():
    _BY_CODE.setdefault((MDC_SYSTEM, str(_metric.mdc_code)), _metric.name)
    if _metric.loinc:
        _BY_CODE.setdefault((LOINC_SYSTEM, _metric.loinc), _metric.name)


@dataclass(frozen=True, slots=True)
class ProviderItem:
    index: int
    device_id: str
    measurement: Measurement


@dataclass(frozen=True, slots=True)
class ProviderBatch:
    items: list[ProviderItem]
    errors: list[ItemError]


def _device_id(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise WireError(f"expected a string, got {json_type(value)}", field=field)
    problem = check_device_id(value)
    if problem:
        raise WireError(f"device id {problem}", field=field)
    return value


def _limit(count: int) -> None:
    if count > MAX_ITEMS:
        raise WireError(f"{count} items exceed the limit of {MAX_ITEMS} per request")


def parse_json_batch(payload: bytes, *, max_bytes: int) -> ProviderBatch:
    document = parse_json(payload, max_bytes=max_bytes)
    if not isinstance(document, dict) or set(document) != {"readings"}:
        raise WireError('expected an object {"readings": [...]}')
    readings = document["readings"]
    if not isinstance(readings, list) or not readings:
        raise WireError("expected a non-empty array", field="readings")
    _limit(len(readings))
    items, errors = [], []
    for index, item in enumerate(readings):
        prefix = f"readings[{index}]."
        try:
            measurement = parse_reading(item, prefix, extra=frozenset({"device_id"}))
            device_id = _device_id(item.get("device_id"), f"{prefix}device_id")
            items.append(ProviderItem(index, device_id, measurement))
        except DecodeError as err:
            errors.append(ItemError(index, err))
    return ProviderBatch(items, errors)


# --- FHIR R4 ---------------------------------------------------------------------------


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireError(f"expected an object, got {json_type(value)}", field=field)
    return value


def _metric_of(concept: Any, field: str) -> str:
    codings = _object(concept, field).get("coding")
    if not isinstance(codings, list) or not codings:
        raise WireError("expected a non-empty coding array", field=f"{field}.coding")
    seen = []
    for coding in codings:
        if isinstance(coding, dict):
            key = (str(coding.get("system")), str(coding.get("code")))
            seen.append(f"{key[0]}|{key[1]}")
            if key in _BY_CODE:
                return _BY_CODE[key]
    raise WireError(
        f"no MDC or LOINC code the hub knows: {', '.join(seen[:3])}", field=f"{field}.coding"
    )


def _quantity(value: Any, field: str) -> tuple[Decimal, str]:
    quantity = _object(value, field)
    number = quantity.get("value")
    if isinstance(number, bool) or not isinstance(number, int | Decimal):
        raise WireError(f"expected a number, got {json_type(number)}", field=f"{field}.value")
    if not Decimal(number).is_finite():
        raise WireError("value must be finite", field=f"{field}.value")
    system = quantity.get("system")
    if system is not None and system != UCUM_SYSTEM:
        raise WireError(f"unit system must be {UCUM_SYSTEM}", field=f"{field}.system")
    unit = quantity.get("code", quantity.get("unit"))
    if not isinstance(unit, str) or not unit or len(unit) > 32:
        raise WireError("a UCUM unit code is required", field=f"{field}.code")
    return Decimal(number), unit


def _observation(
    resource: dict[str, Any], where: str, devices: dict[str, str]
) -> tuple[str, list[Measurement]]:
    status = resource.get("status")
    if status not in _FINAL:
        raise WireError(
            f"status {status!r} is not final, amended or corrected", field=f"{where}.status"
        )
    time_raw = resource.get("effectiveDateTime")
    if not isinstance(time_raw, str):
        raise WireError("effectiveDateTime is required", field=f"{where}.effectiveDateTime")
    time = parse_time(time_raw, f"{where}.effectiveDateTime")
    reference = _object(resource.get("device"), f"{where}.device").get("reference")
    if not isinstance(reference, str) or reference not in devices:
        raise WireError("must reference a Device of this bundle", field=f"{where}.device")
    values: list[tuple[str, Decimal, str]] = []
    if "valueQuantity" in resource:
        number, unit = _quantity(resource["valueQuantity"], f"{where}.valueQuantity")
        values.append((_metric_of(resource.get("code"), f"{where}.code"), number, unit))
    components = resource.get("component", [])
    if not isinstance(components, list):
        raise WireError("expected an array", field=f"{where}.component")
    for number_index, component in enumerate(components):
        at = f"{where}.component[{number_index}]"
        component = _object(component, at)
        if "valueQuantity" not in component:
            continue
        number, unit = _quantity(component["valueQuantity"], f"{at}.valueQuantity")
        values.append((_metric_of(component.get("code"), f"{at}.code"), number, unit))
    if not values:
        raise WireError(
            "no valueQuantity in the observation or its components", field=f"{where}.valueQuantity"
        )
    return devices[reference], [
        Measurement(metric=metric, value=number, unit=unit, time=time, time_raw=time_raw)
        for metric, number, unit in values
    ]


def _bundle_devices(entries: list[Any]) -> dict[str, str]:
    """Device references (``urn:uuid:...`` full URLs and ``Device/<id>``) -> device id."""
    devices: dict[str, str] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        if not isinstance(resource, dict) or resource.get("resourceType") != "Device":
            continue
        identifiers = resource.get("identifier")
        value = None
        if isinstance(identifiers, list) and identifiers and isinstance(identifiers[0], dict):
            value = identifiers[0].get("value")
        try:
            device_id = _device_id(value, f"entry[{index}].resource.identifier[0].value")
        except WireError:
            continue  # reported on the observations that reference it
        if isinstance(entry.get("fullUrl"), str):
            devices[entry["fullUrl"]] = device_id
        if isinstance(resource.get("id"), str):
            devices[f"Device/{resource['id']}"] = device_id
    return devices


def parse_fhir_bundle(payload: bytes, *, max_bytes: int) -> ProviderBatch:
    document = parse_json(payload, max_bytes=max_bytes)
    bundle = _object(document, "Bundle")
    if bundle.get("resourceType") != "Bundle":
        raise WireError("resourceType must be Bundle", field="resourceType")
    if bundle.get("type") not in ("transaction", "batch"):
        raise WireError("Bundle.type must be transaction or batch", field="type")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise WireError("expected a non-empty array", field="entry")
    _limit(len(entries))
    devices = _bundle_devices(entries)
    items, errors = [], []
    for index, entry in enumerate(entries):
        where = f"entry[{index}].resource"
        try:
            resource = _object(_object(entry, f"entry[{index}]").get("resource"), where)
            kind = resource.get("resourceType")
            if kind in ("Device", "Patient"):
                continue
            if kind != "Observation":
                raise WireError(
                    f"resourceType {kind!r} is not accepted here", field=f"{where}.resourceType"
                )
            device_id, measurements = _observation(resource, where, devices)
            items += [ProviderItem(index, device_id, m) for m in measurements]
        except DecodeError as err:
            errors.append(ItemError(index, err))
    return ProviderBatch(items, errors)
