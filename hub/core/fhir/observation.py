"""One pushed ``Observation``: what it is to the hub, by a table of its codes.

An Observation is exactly one of (HL7 PHD IG profiles in brackets):

* a **measurement** (PhdNumericObservation, PhdCompoundNumericObservation, the R4 / ANS
  vital-signs profiles): numbers of the hub's metrics, in ``valueQuantity`` or in the
  ``component``s of a panel or compound; coded or textual components that are context
  (meal, tester, health, sample location, supplemental types) annotate its readings;
* a **context** of other measurements (PhdCodedEnumerationObservation MDC_CTXT_GLU_*,
  PhdBitsEnumerationObservation status bits, MDC_SAT_O2_QUAL): its annotations go to the
  readings it is ``derivedFrom``, else to the readings of the same device at the same time;
* the **device's clock** (PhdCoincidentTimeStampObservation): a
  :class:`~hub.core.timekeeping.ClockReading` for the device its ``subject`` names;
* a **device fact** (battery, time synchronisation): kept in the answer;
* a **note**: valid FHIR the hub does not store — no value (``dataAbsentReason``), a waveform
  (PhdRtsaObservation ``valueSampledData``), a device setting (subject is a Device), a coded
  or textual value of a code it does not know.

Refused (:class:`~hub.core.wire.WireError`, naming the field): a measurement that is not
final, has no usable time, device or value, or a number under a code the hub does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from device_profiles.strict_json import kind_of
from hub.core.fhir import codes
from hub.core.fhir._bundle import BundleIndex, SubjectKind
from hub.core.fhir._values import When, array, codings, effective, mdc_codes, obj, quantity
from hub.core.identity import canonical_decimal
from hub.core.timekeeping import ClockMethod, ClockReading
from hub.core.wire import WireError

_FINAL = frozenset({"final", "amended", "corrected"})
_VALUE_KEYS = (
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueRange",
    "valueRatio",
    "valueSampledData",
    "valueTime",
    "valueDateTime",
    "valuePeriod",
)


@dataclass(frozen=True, slots=True)
class Value:
    metric: str
    value: Decimal
    unit: str
    path: str  # where the value sits: "entry[3].resource.component[0]"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Readings:
    device_id: str
    when: When
    subject_ins: str | None
    values: list[Value]
    notes: list[str]


@dataclass(frozen=True, slots=True)
class Context:
    device_id: str | None
    when: When | None
    targets: list[int]  # entries it is derivedFrom
    annotations: tuple[str, ...]
    metrics: frozenset[str]  # the metrics whose readings it may describe
    label: str


@dataclass(frozen=True, slots=True)
class Fact:
    device_id: str | None
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Clock:
    device_id: str
    reading: ClockReading | None
    value: str


@dataclass(frozen=True, slots=True)
class Note:
    text: str


Part = Readings | Context | Fact | Clock | Note


def classify(index: int, resource: dict[str, Any], bundle: BundleIndex) -> Part:
    """What entry ``index``'s Observation is to the hub; WireError if it is refused."""
    where = f"entry[{index}].resource"
    mdc = mdc_codes(resource.get("code"))
    for table, handler in _BY_MDC:
        code = next((c for c in mdc if c in table), None)
        if code is not None:
            return handler(resource, where, bundle, code)
    if _is_bits(resource):
        return _status(resource, where, bundle, "")
    return _measurement(resource, where, bundle)


# --- clocks, facts, contexts -------------------------------------------------------------------


def _clock(resource: dict[str, Any], where: str, bundle: BundleIndex, code: str) -> Part:
    """PhdCoincidentTimeStampObservation: ``subject`` the PHD, ``valueDateTime`` its clock,
    ``effectiveDateTime`` the PHG's (true) time at that moment."""
    try:
        device_id, _ = bundle.device(resource.get("subject"), f"{where}.subject")
    except WireError as err:
        return Note(f"coincident time stamp not used: {err.field}: {err.reason}")
    if "dataAbsentReason" in resource:
        return Clock(device_id, None, "clock fault (dataAbsentReason)")
    raw = resource.get("valueDateTime")
    moment = resource.get("effectiveDateTime")
    if codes.CLOCK_CODES[code] == "relative" or not isinstance(raw, str):
        return Clock(device_id, None, f"{codes.CLOCK_CODES[code]} clock: offset not measured")
    if not isinstance(moment, str):
        # PHD IG: no effective[x] = the PHD's clock is better synchronised than the PHG's.
        return Clock(device_id, None, f"device clock {raw}, better synchronised than the PHG")
    try:
        shown = datetime.fromisoformat(raw)
        reference = datetime.fromisoformat(moment)
    except ValueError:
        return Note(f"coincident time stamp not used: {raw!r} / {moment!r} are not times")
    if reference.tzinfo is None:
        return Note("coincident time stamp not used: effectiveDateTime has no UTC offset")
    reading = ClockReading(shown, raw, reference, ClockMethod.PHD_COINCIDENT)
    return Clock(device_id, reading, f"device clock {raw} at {moment}")


def _fact(resource: dict[str, Any], where: str, bundle: BundleIndex, code: str) -> Part:
    device_id = _optional_device(resource, where, bundle)
    return Fact(device_id, codes.DEVICE_FACTS[code], _value_text(resource))


def _context(resource: dict[str, Any], where: str, bundle: BundleIndex, code: str) -> Part:
    """PhdCodedEnumerationObservation of a glucose context (MDC_CTXT_GLU_*)."""
    notes = _coded_notes(resource.get("valueCodeableConcept"))
    if not notes:
        return Note(f"context {code}: no value the hub knows")
    return _linked(resource, where, bundle, notes, codes.CONTEXT_QUESTIONS[code], code)


def _quality(resource: dict[str, Any], where: str, bundle: BundleIndex, code: str) -> Part:
    """MDC_SAT_O2_QUAL: the SpO2 signal quality (%) of the oximeter's readings."""
    if "valueQuantity" not in resource:
        return Note("SpO2 signal quality without a value: not kept")
    value, _ = quantity(resource["valueQuantity"], f"{where}.valueQuantity")
    note = f"signal-quality:{canonical_decimal(value)}"
    return _linked(resource, where, bundle, (note,), codes.SIGNAL_QUALITY_METRICS, code)


def _status(resource: dict[str, Any], where: str, bundle: BundleIndex, code: str) -> Part:
    """PhdBitsEnumerationObservation: each set bit becomes a flag of the readings it is
    about (the Bluetooth decoders' names for the same conditions)."""
    flags = []
    for component in array(resource.get("component"), f"{where}.component"):
        if not isinstance(component, dict) or component.get("valueBoolean") is not True:
            continue
        for system, bit in codings(component.get("code")):
            if system in codes.ASN1_SYSTEMS:
                flags.append(codes.STATUS_FLAGS.get(bit, f"status:{bit}"))
    if not flags:
        return Note("status: no condition set")
    return _linked(resource, where, bundle, tuple(flags), frozenset(), code or "status")


def _linked(
    resource: dict[str, Any],
    where: str,
    bundle: BundleIndex,
    notes: tuple[str, ...],
    metrics: frozenset[str],
    label: str,
) -> Context:
    when = None
    try:
        when = effective(resource, where)
    except WireError:
        when = None  # then only derivedFrom can place it
    return Context(
        _optional_device(resource, where, bundle),
        when,
        bundle.references(resource.get("derivedFrom")),
        notes,
        metrics,
        label,
    )


_BY_MDC = (
    (codes.CLOCK_CODES, _clock),
    (codes.DEVICE_FACTS, _fact),
    (codes.STATUS_CODES, _status),
    (codes.CONTEXT_QUESTIONS, _context),
    (frozenset({codes.SIGNAL_QUALITY}), _quality),
)


# --- measurements ------------------------------------------------------------------------------


def _measurement(resource: dict[str, Any], where: str, bundle: BundleIndex) -> Part:
    value_keys = [key for key in _VALUE_KEYS if key in resource]
    components = array(resource.get("component"), f"{where}.component")
    numeric_components = any(isinstance(c, dict) and "valueQuantity" in c for c in components)
    if not value_keys and not numeric_components:
        if "dataAbsentReason" in resource:
            return Note(f"no value ({_absent(resource['dataAbsentReason'])}): nothing stored")
        if not codings_known(resource.get("code")):
            raise WireError(_unknown_code(resource.get("code")), field=f"{where}.code.coding")
        raise WireError(
            "no valueQuantity in the observation or its components",
            field=f"{where}.valueQuantity",
        )
    if "valueSampledData" in resource:
        return Note("a waveform (valueSampledData): the hub stores no waveforms")
    subject = bundle.subject(resource.get("subject"), f"{where}.subject")
    if subject.kind is SubjectKind.DEVICE:
        return Note("a device setting (its subject is a Device): not a patient reading")
    known = codings_known(resource.get("code"))
    if value_keys and value_keys[0] != "valueQuantity" and not numeric_components:
        if known:
            raise WireError(
                f"a measurement's value is a valueQuantity, got {value_keys[0]}",
                field=f"{where}.{value_keys[0]}",
            )
        return Note(f"{value_keys[0]} of a code the hub does not store: not kept")
    status = resource.get("status")
    if status not in _FINAL:
        raise WireError(
            f"status {status!r} is not final, amended or corrected", field=f"{where}.status"
        )
    when = effective(resource, where)
    device_id, device_entry = bundle.device(resource.get("device"), f"{where}.device")
    pulse_context = bool(bundle.specializations(device_entry) & codes.PULSE_SPECIALIZATIONS)
    method = next(
        (
            codes.RATE_BY_METHOD[key]
            for key in codings(resource.get("method"))
            if key in codes.RATE_BY_METHOD
        ),
        None,
    )
    panel = any(key in codes.PANEL_CODES for key in codings(resource.get("code")))
    values: list[Value] = []
    notes: list[str] = []
    shared = [*_extension_notes(resource), *_security_notes(resource)]
    if "valueQuantity" in resource:
        metric = metric_of(resource.get("code"), pulse_context=pulse_context, method=method)
        if metric is None:
            raise WireError(_unknown_code(resource.get("code")), field=f"{where}.code.coding")
        amount, unit = quantity(resource["valueQuantity"], f"{where}.valueQuantity")
        values.append(Value(metric, amount, unit, where, _sample(resource.get("code"))))
    for number, component in enumerate(components):
        at = f"{where}.component[{number}]"
        part = _component(obj(component, at), at, pulse_context or panel, method)
        if isinstance(part, Value):
            values.append(part)
        elif isinstance(part, tuple):
            shared += part
        else:
            notes.append(f"component[{number}]: {part}")
    if not values:
        raise WireError(
            f"no component has a code the hub knows ({_unknown_code(resource.get('code'))})",
            field=f"{where}.component",
        )
    values = [
        Value(v.metric, v.value, v.unit, v.path, (*when.notes, *v.notes, *shared)) for v in values
    ]
    return Readings(device_id, when, subject.ins, values, notes)


def _component(
    component: dict[str, Any], at: str, pulse_context: bool, method: str | None
) -> Value | tuple[str, ...] | str:
    """A component: a reading, context annotations, or why it is not kept."""
    concept = component.get("code")
    mdc = mdc_codes(concept)
    if "valueQuantity" in component:
        if codes.SIGNAL_QUALITY in mdc:
            value, _ = quantity(component["valueQuantity"], f"{at}.valueQuantity")
            return (f"signal-quality:{canonical_decimal(value)}",)
        metric = metric_of(concept, pulse_context=pulse_context, method=method)
        if metric is None:
            return f"not a metric the hub knows ({_unknown_code(concept)}): not kept"
        number, unit = quantity(component["valueQuantity"], f"{at}.valueQuantity")
        return Value(metric, number, unit, at, _sample(concept))
    if any(code in codes.CONTEXT_QUESTIONS for code in mdc):
        notes = _coded_notes(component.get("valueCodeableConcept"))
        return notes or "context value not known: not kept"
    own = tuple(
        codes.CONTEXT_VALUES[key] for key in codings(concept) if key in codes.CONTEXT_VALUES
    )
    if own:
        return own
    if component.get("valueBoolean") is True:
        flags = tuple(
            codes.STATUS_FLAGS.get(bit, f"status:{bit}")
            for system, bit in codings(concept)
            if system in codes.ASN1_SYSTEMS
        )
        if flags:
            return flags
    if "dataAbsentReason" in component:
        return f"no value ({_absent(component['dataAbsentReason'])})"
    return "not a measurement or a context the hub knows: not kept"


def metric_of(
    concept: Any, *, pulse_context: bool = False, method: str | None = None
) -> str | None:
    """The metric a CodeableConcept names (module ``codes``: MDC first; 8867-4 by context)."""
    pairs = list(codings(concept))
    for system, code in pairs:
        if system == codes.MDC and (system, code) in codes.METRIC_BY_CODE:
            return codes.METRIC_BY_CODE[(system, code)]
    for system, code in pairs:
        if system in codes.LOINC_SYSTEMS and code == codes.HEART_RATE_LOINC:
            return method or ("pulse_rate" if pulse_context else "heart_rate")
    for key in pairs:
        if key in codes.METRIC_BY_CODE:
            return codes.METRIC_BY_CODE[key]
    return None


def codings_known(concept: Any) -> bool:
    return metric_of(concept) is not None or any(
        key in codes.PANEL_CODES for key in codings(concept)
    )


# --- helpers -----------------------------------------------------------------------------------


def _optional_device(resource: dict[str, Any], where: str, bundle: BundleIndex) -> str | None:
    for name in ("device", "subject"):
        try:
            return bundle.device(resource.get(name), f"{where}.{name}")[0]
        except WireError:
            continue
    return None


def _is_bits(resource: dict[str, Any]) -> bool:
    """A BITs-enumeration Observation: every component an ASN1ToHL7 bit with a boolean."""
    components = resource.get("component")
    if not isinstance(components, list) or not components or "valueQuantity" in resource:
        return False
    return all(
        isinstance(c, dict)
        and isinstance(c.get("valueBoolean"), bool)
        and any(system in codes.ASN1_SYSTEMS for system, _ in codings(c.get("code")))
        for c in components
    )


def _coded_notes(concept: Any) -> tuple[str, ...]:
    return tuple(
        codes.CONTEXT_VALUES[key] for key in codings(concept) if key in codes.CONTEXT_VALUES
    )


def _extension_notes(resource: dict[str, Any]) -> list[str]:
    """ANS MesMomentOfMeasurement (moment of a glucose measurement) as annotations."""
    notes: list[str] = []
    for extension in resource.get("extension") or ():
        if isinstance(extension, dict) and extension.get("url") == codes.ANS_MOMENT_EXT:
            notes += _coded_notes(extension.get("valueCodeableConcept"))
    return notes


def _security_notes(resource: dict[str, Any]) -> list[str]:
    """PHD IG measurement status "test-data": ``meta.security`` ActReason HTEST."""
    meta = resource.get("meta")
    labels = meta.get("security") if isinstance(meta, dict) else None
    for label in labels if isinstance(labels, list) else ():
        if isinstance(label, dict) and label.get("code") == "HTEST":
            return ["test-data"]
    return []


def _sample(concept: Any) -> tuple[str, ...]:
    return tuple(
        codes.SAMPLE_BY_CODE[code]
        for code in mdc_codes(concept)[:1]
        if code in codes.SAMPLE_BY_CODE
    )


def _absent(value: Any) -> str:
    found = [code for _, code in codings(value)]
    return f"dataAbsentReason {found[0]}" if found else "dataAbsentReason"


def _unknown_code(concept: Any) -> str:
    seen = [f"{system}|{code}" for system, code in codings(concept)]
    if not seen:
        return "no coding with a system and a code"
    return f"no MDC or LOINC code the hub knows: {', '.join(seen[:3])}"


def _value_text(resource: dict[str, Any]) -> str:
    if "valueQuantity" in resource and isinstance(resource["valueQuantity"], dict):
        quantity = resource["valueQuantity"]
        return f"{quantity.get('value')} {quantity.get('code', quantity.get('unit', ''))}".strip()
    concept = resource.get("valueCodeableConcept")
    if isinstance(concept, dict):
        found = [code for _, code in codings(concept)]
        return found[0] if found else str(concept.get("text", "coded value"))
    for key in ("valueString", "valueDateTime", "valueBoolean", "valueInteger"):
        if key in resource:
            return str(resource[key])
    if "dataAbsentReason" in resource:
        return _absent(resource["dataAbsentReason"])
    return f"value of type {kind_of(resource.get('value'))}"
