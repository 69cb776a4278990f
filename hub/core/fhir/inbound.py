"""A provider's FHIR R4 Bundle (``application/fhir+json``) to measurements, entry by entry.

Accepted as the HL7 Personal Health Device IG (v1.0/v2.0) and the ANS *Mesures de santé* IG
(``mesures-bundle-flux-alimentation``) define them: a ``transaction`` or ``batch`` Bundle of
Observations, the Devices and Patients they reference, optionally PHD DeviceMetrics. What each
Observation is — measurement, context, clock, device fact, or valid content the hub does not
store — is decided by :mod:`hub.core.fhir.observation`; references by
:mod:`hub.core.fhir._bundle`; times by :func:`hub.core.fhir._values.effective`.

The result (:class:`FhirBatch`) keeps, per entry: its measurements (:class:`ProviderItem`, with
the entry's own JSON, the INS of its subject, the path of its value), its error (the whole
entry is refused, with the offending field), and informational notes (what was kept, and how,
for entries that store no reading). Context Observations are joined to their readings here:
those they are ``derivedFrom``, else the same device's readings at the same time.

Requests (R4 http.html "Batches and transactions"): an entry's ``request`` must be a
``POST`` (create) to its resource type; ``ifNoneExist: identifier=[system|]value`` makes it a
conditional create — a second entry with the same identifier in the request is answered as
already there, and a resend of the same Observation lands on the same reading (deterministic
identity), so it is never stored twice. The INS of a subject never reaches a dead letter:
``raw`` has INS identifier values masked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from device_profiles import strict_json
from device_profiles.errors import DecodeError
from device_profiles.measurement import Measurement
from hub.core.fhir import codes
from hub.core.fhir._bundle import BundleIndex
from hub.core.fhir._values import codings, obj
from hub.core.fhir.observation import Clock, Context, Fact, Note, Readings, classify
from hub.core.provider import ProviderItem, check_item_count
from hub.core.timekeeping import ClockReading
from hub.core.wire import ItemError, WireError, parse_json

BUNDLE_KINDS = ("transaction", "batch")
# Resources a provider may send that carry no reading of their own.
_SUPPORTING = {
    "Patient": "Patient: used to check Observation.subject (patients are registered with "
    "POST /v1/patients)",
    "DeviceMetric": "DeviceMetric: device information, not stored",
}
INS_MASK = "masked"


@dataclass(frozen=True, slots=True)
class DeviceFact:
    """Something a device said about itself (battery, clock, time synchronisation)."""

    index: int
    device_id: str | None
    name: str
    value: str


@dataclass(slots=True)
class FhirBatch:
    kind: str  # "transaction" or "batch"
    entry_count: int
    items: list[ProviderItem] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    notes: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    facts: list[DeviceFact] = field(default_factory=list)
    clocks: dict[str, ClockReading] = field(default_factory=dict)
    # Conditional creates: entry index -> the earlier entry of the request with its identifier.
    duplicate_of: dict[int, int] = field(default_factory=dict)
    # Device entries -> the hub's device id they name (answered as the Device's location:
    # the logical id a PHG uses in later uploads, PHD IG "Profiles Overview").
    devices: dict[int, str] = field(default_factory=dict)
    raws: list[bytes] = field(default_factory=list)  # each entry's own JSON, INS masked


def parse_fhir_bundle(payload: bytes, *, max_bytes: int) -> FhirBatch:
    """The Bundle's entries, parsed; :class:`WireError` only when it is not a batch or
    transaction Bundle at all."""
    document = parse_json(payload, max_bytes=max_bytes)
    bundle = obj(document, "Bundle")
    if bundle.get("resourceType") != "Bundle":
        raise WireError("resourceType must be Bundle", field="resourceType")
    if bundle.get("type") not in BUNDLE_KINDS:
        raise WireError("Bundle.type must be transaction or batch", field="type")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise WireError("expected a non-empty array", field="entry")
    check_item_count(len(entries))
    return _Parser(entries, str(bundle["type"])).run()


class _Parser:
    def __init__(self, entries: list[Any], kind: str) -> None:
        self.index = BundleIndex(entries)
        self.out = FhirBatch(
            kind, len(entries), raws=[strict_json.dumps(mask_ins(e)) for e in entries]
        )
        self.readings: dict[int, Readings] = {}
        self.contexts: dict[int, Context] = {}
        self.conditional: dict[tuple[str, str], int] = {}

    def run(self) -> FhirBatch:
        for number in range(self.out.entry_count):
            try:
                self._entry(number)
            except DecodeError as err:
                self.out.errors.append(ItemError(number, err, self.out.raws[number]))
        self._join_contexts()
        for number, readings in self.readings.items():
            self._emit(number, readings)
        return self.out

    def _entry(self, number: int) -> None:
        entry = obj(self.index.entries[number], f"entry[{number}]")
        where = f"entry[{number}].resource"
        resource = obj(entry.get("resource"), where)
        kind = resource.get("resourceType")
        self._request(number, entry, kind)
        if number in self.out.duplicate_of:
            return
        if kind == "Observation":
            self._observation(number, resource)
        elif kind == "Device":
            self._device(number, resource)
        elif isinstance(kind, str) and kind in _SUPPORTING:
            self.out.notes[number].append(_SUPPORTING[kind])
        else:
            raise WireError(
                f"resourceType {kind!r} is not accepted here (Observation, Device, Patient)",
                field=f"{where}.resourceType",
            )

    def _request(self, number: int, entry: dict[str, Any], kind: Any) -> None:
        """``entry.request``: a create (POST) of its own resource type, maybe conditional."""
        if entry.get("request") is None:
            return  # R4 requires it (bdl-3); the hub reads a missing one as a plain create
        at = f"entry[{number}].request"
        request = obj(entry["request"], at)
        if request.get("method", "POST") != "POST":
            raise WireError(
                f"method {request.get('method')!r}: the hub accepts creates (POST) only",
                field=f"{at}.method",
            )
        url = request.get("url")
        if url is not None and (not isinstance(url, str) or url.split("?")[0] != kind):
            raise WireError(f"url must be {kind!r}, the entry's resource type", field=f"{at}.url")
        condition = request.get("ifNoneExist")
        if condition is None:
            return
        if not isinstance(condition, str) or not condition.startswith("identifier="):
            raise WireError(
                "only identifier=[system|]value conditional creates are supported",
                field=f"{at}.ifNoneExist",
            )
        key = (str(kind), condition.removeprefix("identifier="))
        first = self.conditional.setdefault(key, number)
        if first != number:
            self.out.duplicate_of[number] = first
            self.out.notes[number].append(
                f"conditional create: entry[{first}] of this request has the same identifier"
            )

    def _device(self, number: int, resource: dict[str, Any]) -> None:
        device_id = self.index.device_of_entry(number)
        self.out.devices[number] = device_id
        self.out.notes[number].append(f"Device: the hub's device {device_id}")
        for prop in resource.get("property") or ():
            if not isinstance(prop, dict):
                continue
            for system, code in codings(prop.get("type")):
                if system == codes.MDC and code in codes.DEVICE_FACTS:
                    value = _property_value(prop)
                    self._fact(number, device_id, codes.DEVICE_FACTS[code], value)

    def _observation(self, number: int, resource: dict[str, Any]) -> None:
        part = classify(number, resource, self.index)
        notes = self.out.notes[number]
        if isinstance(part, Readings):
            self.readings[number] = part
            notes += part.notes
        elif isinstance(part, Context):
            self.contexts[number] = part
        elif isinstance(part, Clock):
            if part.reading is not None:
                known = self.out.clocks.get(part.device_id)
                if known is None or known.reference_time < part.reading.reference_time:
                    self.out.clocks[part.device_id] = part.reading
            self._fact(number, part.device_id, "clock", part.value)
        elif isinstance(part, Fact):
            self._fact(number, part.device_id, part.name, part.value)
        else:
            assert isinstance(part, Note)
            notes.append(part.text)

    def _fact(self, number: int, device_id: str | None, name: str, value: str) -> None:
        self.out.facts.append(DeviceFact(number, device_id, name, value))
        device = f" of device {device_id}" if device_id else ""
        self.out.notes[number].append(f"device fact{device} kept in this answer: {name} {value}")

    def _join_contexts(self) -> None:
        """Each context to its readings: those it is derivedFrom, else the same device's at
        the same time; the readings get its annotations."""
        extra: dict[int, list[str]] = defaultdict(list)
        for number, context in self.contexts.items():
            targets = [t for t in context.targets if t in self.readings] or [
                t for t, r in self.readings.items() if _same_moment(context, r)
            ]
            targets = [t for t in targets if _describes(context, self.readings[t])]
            if not targets:
                self.out.notes[number].append(
                    f"context {context.label} not kept: no reading of this request to attach "
                    "it to (send it with its measurement, derivedFrom it)"
                )
                if not context.metrics:  # status bits: still a fact about the device
                    flags = ", ".join(context.annotations)
                    self._fact(number, context.device_id, "status", flags)
                continue
            for target in targets:
                extra[target] += context.annotations
            where = ", ".join(f"entry[{t}]" for t in targets)
            self.out.notes[number].append(
                f"context kept with the reading(s) of {where}: {', '.join(context.annotations)}"
            )
        for target, notes in extra.items():
            readings = self.readings[target]
            self.readings[target] = replace(
                readings,
                values=[replace(v, notes=_merged(v.notes, notes)) for v in readings.values],
            )

    def _emit(self, number: int, readings: Readings) -> None:
        raw = self.out.raws[number]
        for value in readings.values:
            measurement = Measurement(
                metric=value.metric,
                value=value.value,
                unit=value.unit,
                time=readings.when.time,
                time_raw=readings.when.raw,
                annotations=value.notes,
            )
            self.out.items.append(
                ProviderItem(
                    number,
                    readings.device_id,
                    measurement,
                    raw,
                    subject_ins=readings.subject_ins,
                    path=value.path,
                )
            )


def _same_moment(context: Context, readings: Readings) -> bool:
    if context.when is None or context.device_id != readings.device_id:
        return False
    if context.when.raw == readings.when.raw:
        return True
    context_time, readings_time = context.when.time, readings.when.time
    return (context_time.tzinfo is None) == (
        readings_time.tzinfo is None
    ) and context_time == readings_time


def _describes(context: Context, readings: Readings) -> bool:
    return not context.metrics or any(v.metric in context.metrics for v in readings.values)


def _merged(own: tuple[str, ...], extra: list[str]) -> tuple[str, ...]:
    return own + tuple(note for note in dict.fromkeys(extra) if note not in own)


def _property_value(prop: dict[str, Any]) -> str:
    for quantity in prop.get("valueQuantity") or ():
        if isinstance(quantity, dict):
            return (
                f"{quantity.get('value')} {quantity.get('code', quantity.get('unit', ''))}".strip()
            )
    for concept in prop.get("valueCode") or ():
        found = [code for _, code in codings(concept)]
        if found:
            return found[0]
    return "(no value)"


def mask_ins(value: Any) -> Any:
    """``value`` with the value of every INS identifier masked (the INS lives in one registry
    column only; dead letters keep the item, not the patient's national identifier)."""
    if isinstance(value, list):
        return [mask_ins(item) for item in value]
    if not isinstance(value, dict):
        return value
    masked = {key: mask_ins(item) for key, item in value.items()}
    if masked.get("system") in codes.INS_SYSTEMS and "value" in masked:
        masked["value"] = INS_MASK
    return masked
