"""Vendor JSON payloads to measurements, driven by a profile's ``[json]`` mapping.

A device that publishes JSON over MQTT is onboarded with a catalog profile (``catalog.py``,
``docs/device-profiles.md``) whose ``[json]`` section says where each metric's value, unit,
time, sequence number and status live in the payload. This module holds that mapping's types,
the path syntax, the validation of the ``[json]`` section (:func:`check_json_section`, which
the catalog loader calls) and :func:`decode_json`. It never imports the catalog:
:func:`decode_json` takes any :class:`JsonProfile`. It is pure: no IO, no clock, no logging.

Path syntax
-----------
A path names one value in a JSON document. It is plain text, never evaluated and never turned
into a regular expression:

* ``sys``, ``data.body.weight.value`` — dot-separated segments, looked up from the current
  *record* (the payload itself when the mapping has no ``records`` list);
* ``$.device.unit`` — starts at the payload root, whatever the record;
* ``$`` — the root itself;
* a segment of ASCII digits indexes an array (``readings.0.t``); on an object it is a key;
* a segment is 1 to 128 characters, with no ``.`` and no control characters, and no leading or
  trailing space; a path has at most :data:`MAX_DEPTH` segments. Keys containing ``.`` cannot
  be named.

Error paths in :class:`~device_profiles.errors.DecodeError` ``field`` always start at the root
(``$.readings.3.glucose_mmol``), so they can be pasted back into a profile.

Limits on hostile input
-----------------------
A payload is refused whole (``DecodeError`` raised, ``field`` ``"$"`` or the offending path)
when it is larger than :data:`MAX_PAYLOAD_BYTES`, not UTF-8, not JSON, nests deeper than
:data:`MAX_DEPTH`, repeats a key in one object, contains a ``NaN``/``Infinity`` literal,
has its ``records`` path missing or not an array, or holds more than :data:`MAX_RECORDS` records.

Per-record policy
-----------------
Each record is decoded whole or not at all: a record with one bad field yields no measurement,
and its error is reported in :attr:`JsonDecodeResult.errors` with the record's index. Other
records are unaffected, so one bad record never drops good ones. A single-object payload is
one record (index 0), with the same policy. A record that yields no measurement at all (every
mapped metric absent) is an error too, never a silent drop.

What is refused as a value: anything but a JSON number (booleans and numeric strings
included), numbers with more than :data:`MAX_NUMBER_DIGITS` significant digits, and magnitudes
outside ``1e-15 <= |x| < 1e15`` (zero is fine). Physical and profile plausibility limits are
*not* checked here: that is the hub pipeline's decision, with its own refusal kind.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Final, Literal, Protocol, TypeAlias

from device_profiles import strict_json
from device_profiles._checker import Checker, Table, join, toml_kind
from device_profiles.errors import DecodeError
from device_profiles.measurement import Measurement
from device_profiles.strict_json import JsonValue, kind_of
from device_profiles.vocabulary import METRICS, MetricDef, UnitError, normalize_unit

MAX_PAYLOAD_BYTES: Final = 256 * 1024
"""Largest payload accepted, in bytes of UTF-8 (a ``str`` payload is measured encoded)."""
MAX_DEPTH: Final = 32
"""Deepest nesting of arrays and objects accepted; also the most segments in a path."""
MAX_RECORDS: Final = 10_000
"""Most records in one payload's ``records`` array."""
MAX_NUMBER_DIGITS: Final = 30
"""Most significant digits in a value, a scale or an epoch time."""
MAX_TEXT: Final = 64
"""Longest metric name, unit or time text accepted in a payload."""
MAX_SEGMENT_LENGTH: Final = 128
MAX_SEQUENCE: Final = 2**63 - 1
MAX_USER_ID: Final = 2**31 - 1

TimeFormat = Literal["iso8601", "epoch_s", "epoch_ms"]
TIME_FORMATS: Final[dict[str, TimeFormat]] = {
    "iso8601": "iso8601",
    "epoch_s": "epoch_s",
    "epoch_ms": "epoch_ms",
}

"""A parsed JSON value: numbers are ``int`` (integers) or :class:`~decimal.Decimal`."""

# Exact for any product of two numbers of at most MAX_NUMBER_DIGITS digits; independent of
# the caller's thread-local decimal context.
_DECIMAL: Final = Context(
    prec=4 * MAX_NUMBER_DIGITS,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
_MAGNITUDE_EXPONENT: Final = 15  # values must satisfy 1e-15 <= |x| < 1e15, or be zero
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# format -> (microseconds per unit, largest value: 9999-12-31T23:59:59.999Z)
_EPOCH_UNITS: Final[dict[TimeFormat, tuple[Decimal, Decimal]]] = {
    "epoch_s": (Decimal(1_000_000), Decimal("253402300799.999")),
    "epoch_ms": (Decimal(1_000), Decimal(253402300799999)),
}


# --- paths ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A parsed path (see the module docstring). ``text`` is the path as written."""

    text: str
    segments: tuple[str, ...]
    from_root: bool

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        """Parse ``text``; :class:`ValueError` with the reason if it is not a valid path."""
        if text == "$":
            return cls(text, (), from_root=True)
        from_root = text.startswith("$.")
        body = text[2:] if from_root else text
        if not body:
            raise ValueError("a path cannot be empty")
        segments = tuple(body.split("."))
        if len(segments) > MAX_DEPTH:
            raise ValueError(f"a path has at most {MAX_DEPTH} segments")
        for segment in segments:
            if not segment:
                raise ValueError(f"empty segment in {text!r} (two dots, or a dot at an end)")
            if len(segment) > MAX_SEGMENT_LENGTH:
                raise ValueError(f"segment longer than {MAX_SEGMENT_LENGTH} characters")
            if segment != segment.strip():
                raise ValueError(f"segment {segment!r} has leading or trailing spaces")
            if any(ord(char) < 32 or ord(char) == 127 for char in segment):
                raise ValueError(f"segment {segment!r} contains a control character")
        return cls(text, segments, from_root)

    def __str__(self) -> str:
        return self.text


# --- the mapping ----------------------------------------------------------------------------

Scalar: TypeAlias = bool | int | Decimal | str


@dataclass(frozen=True, slots=True)
class AnnotationRule:
    """Add ``annotation`` when the value at ``field`` equals ``equals`` (same JSON type)."""

    field: JsonPath
    equals: Scalar
    annotation: str


@dataclass(frozen=True, slots=True)
class StatusRule:
    """The value at ``field`` (a string, or an integer read as its decimal text) is looked up
    in ``values``; a listed value adds its annotation (``"control"`` -> ``"control-solution"``),
    an unlisted one adds nothing."""

    field: JsonPath
    values: tuple[tuple[str, str], ...]

    def annotation_for(self, status: str) -> str | None:
        for value, annotation in self.values:
            if value == status:
                return annotation
        return None


@dataclass(frozen=True, slots=True)
class TimeSpec:
    path: JsonPath
    format: TimeFormat


@dataclass(frozen=True, slots=True)
class MetricMapping:
    """How one metric is read from a record. Record-level defaults are already applied.

    Invariants (checked by the catalog loader): exactly one of ``metric`` and
    ``metric_field``; ``allowed_metrics`` only with ``metric_field``; at least one of ``unit``
    (UCUM, normalised) and ``unit_field``; ``scale`` positive.
    """

    value: JsonPath
    metric: str | None = None
    metric_field: JsonPath | None = None
    allowed_metrics: tuple[str, ...] = ()  # with metric_field; empty = any vocabulary metric
    unit: str | None = None  # fixed unit, or the fallback when unit_field is absent
    unit_field: JsonPath | None = None
    scale: Decimal | None = None
    time: TimeSpec | None = None
    sequence: JsonPath | None = None
    user_id: JsonPath | None = None
    required: bool = True
    annotations: tuple[AnnotationRule, ...] = ()
    status: tuple[StatusRule, ...] = ()

    def produces(self) -> frozenset[str] | None:
        """The metrics this mapping can yield; ``None`` means any vocabulary metric."""
        if self.metric is not None:
            return frozenset((self.metric,))
        return frozenset(self.allowed_metrics) if self.allowed_metrics else None


@dataclass(frozen=True, slots=True)
class JsonMapping:
    """A profile's ``[json]`` section: where the records are, and each metric's mapping."""

    metrics: tuple[MetricMapping, ...]
    records: JsonPath | None = None


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordError:
    """One record that yielded nothing; ``error.field`` is the offending path from the root;
    ``record`` is the record itself (a dead letter keeps it, not the whole payload)."""

    index: int
    error: DecodeError
    record: JsonValue = None


@dataclass(frozen=True, slots=True)
class JsonDecodeResult:
    """The good measurements (in record order) and the bad records' errors."""

    measurements: tuple[Measurement, ...]
    errors: tuple[RecordError, ...]
    record_count: int

    @property
    def ok(self) -> bool:
        return not self.errors


# --- decoding -------------------------------------------------------------------------------


class JsonProfile(Protocol):
    """What :func:`decode_json` needs of a profile (a catalog ``DeviceProfile`` is one): the
    mapping, and the id and transport that name a profile without one."""

    @property
    def id(self) -> str: ...

    @property
    def transport(self) -> str: ...

    @property
    def json_mapping(self) -> JsonMapping | None: ...


def decode_json(
    profile: JsonProfile, payload: bytes | bytearray | str | Mapping[str, object]
) -> JsonDecodeResult:
    """Decode one payload of a ``mqtt-json`` device with ``profile``'s mapping.

    ``payload`` is the message body (bytes, checked as UTF-8, or text) or an already-parsed
    mapping (floats in it are read as their shortest decimal text). Returns the measurements
    of every good record and a :class:`RecordError` per bad record (see the module docstring).

    Each :class:`~device_profiles.measurement.Measurement` keeps the device's precision
    (``value`` is the JSON number as written, times ``scale``), its unit as UCUM, ``time``
    (aware for epoch times and ISO text with an offset, naive for ISO text without one) and
    ``time_raw`` (the time as sent: the ISO text, or the epoch number's text).

    Raises :class:`~device_profiles.errors.DecodeError` for a payload refused whole, and for
    a profile without a JSON mapping. Nothing else escapes.
    """
    mapping = profile.json_mapping
    if mapping is None:
        raise DecodeError(
            f"profile {profile.id!r} has no [json] mapping (transport {profile.transport})",
            field="profile",
        )
    root = _parse_payload(payload)
    if mapping.records is None:
        records: list[tuple[JsonValue, str]] = [(root, "$")]
    else:
        found, where = _resolve(mapping.records, root, root, "$")
        if isinstance(found, _Missing) or found is None:
            state = "missing" if isinstance(found, _Missing) else "null"
            raise DecodeError(f"the records array is {state}", field=where)
        if not isinstance(found, list):
            raise DecodeError(f"expected an array of records, got {kind_of(found)}", field=where)
        if len(found) > MAX_RECORDS:
            raise DecodeError(
                f"{len(found)} records exceed the limit of {MAX_RECORDS} per payload", field=where
            )
        records = [(record, f"{where}.{index}") for index, record in enumerate(found)]
    measurements: list[Measurement] = []
    errors: list[RecordError] = []
    for index, (record, record_path) in enumerate(records):
        try:
            measurements.extend(_decode_record(mapping, root, record, record_path))
        except DecodeError as err:
            errors.append(RecordError(index, err, record))
    return JsonDecodeResult(tuple(measurements), tuple(errors), len(records))


# --- parsing and checking the document ------------------------------------------------------


class _Missing(enum.Enum):
    MISSING = "missing"


_MISSING: Final = _Missing.MISSING


def _parse_payload(payload: object) -> JsonValue:
    if isinstance(payload, Mapping):
        return _checked(payload, "$", 0)
    if not isinstance(payload, str | bytes | bytearray | memoryview):
        raise DecodeError(
            f"payload must be bytes, text or a mapping, not {type(payload).__name__}", field="$"
        )
    # Already what _checked makes of a caller's mapping: the strict reader bounds depth and
    # digits, refuses NaN and infinities, and gives text keys, ints and finite Decimals.
    return strict_json.loads(
        payload, max_bytes=MAX_PAYLOAD_BYTES, max_depth=MAX_DEPTH, max_digits=MAX_NUMBER_DIGITS
    )


def _checked(value: object, where: str, depth: int) -> JsonValue:
    """``value`` as a :data:`JsonValue`: depth, key types and number kinds checked.

    Recursion is bounded by :data:`MAX_DEPTH`, so cycles in a caller's mapping end too.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise DecodeError(f"{value} is not a number JSON allows", field=where)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DecodeError(f"{value} is not a number JSON allows", field=where)
        return Decimal(repr(value))
    if isinstance(value, Mapping | list | tuple) and depth >= MAX_DEPTH:
        raise DecodeError(f"payload nests deeper than {MAX_DEPTH} levels", field=where)
    if isinstance(value, Mapping):
        result: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise DecodeError(f"object key {_preview(key)} is not text", field=where)
            result[key] = _checked(item, f"{where}.{key}", depth + 1)
        return result
    if isinstance(value, list | tuple):
        return [_checked(item, f"{where}.{index}", depth + 1) for index, item in enumerate(value)]
    raise DecodeError(f"{type(value).__name__} is not a JSON value", field=where)


def _resolve(
    path: JsonPath, root: JsonValue, record: JsonValue, record_path: str
) -> tuple[JsonValue | _Missing, str]:
    """The value at ``path`` (or ``_MISSING``) and its path from the root."""
    current, where = (root, "$") if path.from_root else (record, record_path)
    for segment in path.segments:
        if isinstance(current, dict):
            where = f"{where}.{segment}"
            if segment not in current:
                return _MISSING, where
            current = current[segment]
        elif isinstance(current, list) and segment.isascii() and segment.isdigit():
            where = f"{where}.{segment}"
            index = int(segment)
            if index >= len(current):
                return _MISSING, where
            current = current[index]
        else:
            raise DecodeError(
                f"expected an object to look up {segment!r}, got {kind_of(current)}", field=where
            )
    return current, where


# --- one record -----------------------------------------------------------------------------


def _decode_record(
    mapping: JsonMapping, root: JsonValue, record: JsonValue, record_path: str
) -> list[Measurement]:
    found: list[Measurement] = []
    for metric_mapping in mapping.metrics:
        measurement = _decode_metric(metric_mapping, root, record, record_path)
        if measurement is not None:
            found.append(measurement)
    if not found:
        raise DecodeError("the record has none of the mapped metrics", field=record_path)
    return found


def _decode_metric(
    spec: MetricMapping, root: JsonValue, record: JsonValue, record_path: str
) -> Measurement | None:
    def at(path: JsonPath) -> tuple[JsonValue | _Missing, str]:
        return _resolve(path, root, record, record_path)

    raw_value, value_where = at(spec.value)
    if isinstance(raw_value, _Missing) or raw_value is None:
        if not spec.required:
            return None
        state = "missing" if isinstance(raw_value, _Missing) else "null"
        raise DecodeError(f"required value is {state}", field=value_where)
    value = _number(raw_value, value_where)
    if spec.scale is not None:
        value = _DECIMAL.multiply(value, spec.scale)
    metric = _metric(spec, at)
    unit = _unit(spec, metric, at)
    time, time_raw = _time(spec.time, at) if spec.time is not None else (None, None)
    sequence = _integer(spec.sequence, at, MAX_SEQUENCE)
    user_id = _integer(spec.user_id, at, MAX_USER_ID)
    return Measurement(
        metric=metric,
        value=value,
        unit=unit,
        time=time,
        time_raw=time_raw,
        sequence=sequence,
        user_id=user_id,
        annotations=_annotations(spec, at),
    )


_At: TypeAlias = "Callable[[JsonPath], tuple[JsonValue | _Missing, str]]"


def _number(value: JsonValue, where: str) -> Decimal:
    # bool is an int in Python but never a number in a payload.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise DecodeError(f"expected a number, got {kind_of(value)}", field=where)
    if isinstance(value, int) and abs(value) >= 10**MAX_NUMBER_DIGITS:
        raise DecodeError(f"number {_preview(value)} is out of range", field=where)
    number = Decimal(value)
    if len(number.as_tuple().digits) > MAX_NUMBER_DIGITS:
        raise DecodeError(
            f"number {_preview(number)} has more than {MAX_NUMBER_DIGITS} significant digits",
            field=where,
        )
    if number and not -_MAGNITUDE_EXPONENT <= number.adjusted() < _MAGNITUDE_EXPONENT:
        raise DecodeError(
            f"number {number} is out of range (1e-15 <= |x| < 1e15, or 0)", field=where
        )
    return number


def _text(value: JsonValue, where: str, what: str) -> str:
    if not isinstance(value, str):
        raise DecodeError(f"expected {what} as a string, got {kind_of(value)}", field=where)
    if len(value) > MAX_TEXT:
        raise DecodeError(f"{what} {_preview(value)} is longer than {MAX_TEXT}", field=where)
    return value


def _metric(spec: MetricMapping, at: _At) -> str:
    if spec.metric is not None:
        return spec.metric
    assert spec.metric_field is not None  # invariant of MetricMapping
    raw, where = at(spec.metric_field)
    if isinstance(raw, _Missing) or raw is None:
        raise DecodeError("the metric name is missing", field=where)
    name = _text(raw, where, "metric name")
    allowed = spec.allowed_metrics or tuple(METRICS)
    if name not in allowed:
        raise DecodeError(
            f"metric {name!r} is not one of this profile's: {', '.join(sorted(allowed))}",
            field=where,
        )
    return name


def _unit(spec: MetricMapping, metric: str, at: _At) -> str:
    unit, where = spec.unit, "unit"
    if spec.unit_field is not None:
        raw, field_where = at(spec.unit_field)
        if not (isinstance(raw, _Missing) or raw is None):
            unit, where = _text(raw, field_where, "unit"), field_where
        elif unit is None:
            raise DecodeError("the unit is missing", field=field_where)
    assert unit is not None  # invariant of MetricMapping: unit or unit_field
    try:
        ucum = normalize_unit(unit)
    except UnitError as err:
        raise DecodeError(err.reason, field=where) from err
    accepted = METRICS[metric].units
    if ucum not in accepted:
        raise DecodeError(
            f"unit {unit!r} is not valid for {metric}; accepted: {', '.join(accepted)}",
            field=where,
        )
    return ucum


def _time(spec: TimeSpec, at: _At) -> tuple[datetime, str]:
    raw, where = at(spec.path)
    if isinstance(raw, _Missing) or raw is None:
        raise DecodeError("the time is missing", field=where)
    if spec.format == "iso8601":
        text = _text(raw, where, "ISO-8601 time")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as err:
            raise DecodeError(f"{text!r} is not an ISO-8601 date-time", field=where) from err
        # fromisoformat accepts a date alone, and any character between date and time.
        if not any(separator in text for separator in "Tt "):
            raise DecodeError(f"{text!r} has no time of day", field=where)
        return moment, text
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
        raise DecodeError(f"expected an epoch time as a number, got {kind_of(raw)}", field=where)
    unit, latest = _EPOCH_UNITS[spec.format]
    # Bounds first, so the arithmetic below can neither overflow nor lose digits that matter.
    if isinstance(raw, int) and not 0 <= raw <= latest:
        raise DecodeError(f"epoch time {_preview(raw)} is out of range (1970 to 9999)", field=where)
    number = Decimal(raw)
    if len(number.as_tuple().digits) > MAX_NUMBER_DIGITS or not 0 <= number <= latest:
        raise DecodeError(f"epoch time {_preview(raw)} is out of range (1970 to 9999)", field=where)
    microseconds = int(_DECIMAL.multiply(number, unit).to_integral_value(ROUND_HALF_EVEN))
    return _EPOCH + timedelta(microseconds=microseconds), str(raw)


def _integer(path: JsonPath | None, at: _At, maximum: int) -> int | None:
    if path is None:
        return None
    raw, where = at(path)
    if isinstance(raw, _Missing) or raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise DecodeError(f"expected an integer, got {kind_of(raw)}", field=where)
    if not 0 <= raw <= maximum:
        raise DecodeError(f"{_preview(raw)} is outside 0..{maximum}", field=where)
    return raw


def _annotations(spec: MetricMapping, at: _At) -> tuple[str, ...]:
    found: list[str] = []
    for rule in spec.annotations:
        raw, _ = at(rule.field)
        if not isinstance(raw, _Missing) and _same(raw, rule.equals):
            found.append(rule.annotation)
    for status in spec.status:
        raw, where = at(status.field)
        if isinstance(raw, _Missing) or raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise DecodeError(f"expected a status string, got {kind_of(raw)}", field=where)
        annotation = status.annotation_for(raw if isinstance(raw, str) else str(raw))
        if annotation is not None:
            found.append(annotation)
    return tuple(dict.fromkeys(found))  # unique, first occurrence first


def _same(value: JsonValue, expected: Scalar) -> bool:
    """JSON equality: ``true`` never equals ``1``; ``1`` equals ``1.0``."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    if isinstance(value, int | Decimal) and isinstance(expected, int | Decimal):
        return Decimal(value) == Decimal(expected)
    return isinstance(value, str) and isinstance(expected, str) and value == expected


def _preview(value: object) -> str:
    """``repr`` cut short: payload text never floods an error message or a log line."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"(an integer of {value.bit_length()} bits)"
    text = str(value) if isinstance(value, int | Decimal) else repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


# --- validation of a profile's [json] section -----------------------------------------------
# The catalog loader (catalog.py) validates the rest of the profile with the same Checker, so
# every problem of a file is reported at once.

MAX_METRIC_MAPPINGS: Final = 64
_SHARED_JSON_KEYS: Final = ("time", "time_format", "sequence", "user_id", "annotations", "status")
_JSON_KEYS: Final = ("records", "metrics", *_SHARED_JSON_KEYS)
_METRIC_KEYS: Final = (
    "metric",
    "metric_field",
    "metrics",
    "value",
    "unit",
    "unit_field",
    "scale",
    "required",
    *_SHARED_JSON_KEYS,
)
_ANNOTATION_KEYS: Final = ("field", "equals", "annotation")
_STATUS_KEYS: Final = ("field", "values")
_ANNOTATION_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
)


def check_json_section(check: Checker, table: Table) -> JsonMapping | None:
    """The :class:`JsonMapping` of a profile's ``[json]`` table, or ``None`` when ``check``
    recorded a problem (field paths start at ``json``)."""
    return _JsonSection(check).mapping(table)


def _is_annotation(text: str) -> bool:
    return 1 <= len(text) <= 32 and set(text) <= _ANNOTATION_CHARS and text[0] != "-"


class _JsonSection:
    """The ``[json]`` section's validation, recording its problems in ``check``."""

    def __init__(self, check: Checker) -> None:
        self.check = check

    def path(
        self, table: Table, key: str, where: str, *, required: bool = False
    ) -> JsonPath | None:
        text = self.check.text(table, key, where, required=required, limit=4096)
        if text is None:
            return None
        try:
            return JsonPath.parse(text)
        except ValueError as err:
            self.check.add(join(where, key), f"invalid path {text!r}: {err}")
            return None

    def mapping(self, table: Table) -> JsonMapping | None:
        self.check.keys(table, _JSON_KEYS, "json")
        records = self.path(table, "records", "json")
        defaults = self.shared(table, "json")
        self.time_pair(defaults.time_given, defaults.format_given, "json")
        entries = self.check.tables(table, "metrics", "json")
        if "metrics" not in table:
            self.check.add("json.metrics", "required: at least one [[json.metrics]] table")
        elif not entries and isinstance(table.get("metrics"), list):
            self.check.add("json.metrics", "must not be empty")
        if len(entries) > MAX_METRIC_MAPPINGS:
            self.check.add("json.metrics", f"at most {MAX_METRIC_MAPPINGS} metric mappings")
        metrics: list[MetricMapping] = []
        mapped: dict[str, str] = {}
        for where, entry in entries:
            metric_mapping = self.metric_mapping(entry, where, defaults)
            if metric_mapping is None:
                continue
            if metric_mapping.metric is not None:
                first = mapped.setdefault(metric_mapping.metric, where)
                if first != where:
                    self.check.add(
                        f"{where}.metric", f"{metric_mapping.metric} is already mapped by {first}"
                    )
            metrics.append(metric_mapping)
        if len(metrics) != len(entries):
            return None
        return JsonMapping(tuple(metrics), records)

    def time_pair(self, time_given: bool, format_given: bool, where: str) -> None:
        if time_given and not format_given:
            self.check.add(
                f"{where}.time_format", "required with time: iso8601, epoch_s or epoch_ms"
            )
        elif format_given and not time_given:
            self.check.add(f"{where}.time", "time_format is given without a time path")

    def shared(self, table: Table, where: str) -> _Shared:
        """The keys a record level and a metric level both accept."""
        return _Shared(
            time_given="time" in table,
            format_given="time_format" in table,
            time=self.path(table, "time", where),
            time_format=TIME_FORMATS.get(
                self.check.choice(table, "time_format", where, TIME_FORMATS, required=False) or ""
            ),
            sequence=self.path(table, "sequence", where),
            user_id=self.path(table, "user_id", where),
            annotations=self.annotations(table, where),
            status=self.status(table, where),
        )

    def metric_mapping(self, entry: Table, where: str, defaults: _Shared) -> MetricMapping | None:
        self.check.keys(entry, _METRIC_KEYS, where)
        problems_before = len(self.check.problems)
        metric_name = self.check.text(entry, "metric", where, limit=64)
        metric_field = self.path(entry, "metric_field", where)
        if ("metric" in entry) == ("metric_field" in entry):
            self.check.add(where, "give exactly one of metric and metric_field")
        metric = self.check.metric_name(metric_name, f"{where}.metric") if metric_name else None
        allowed: list[str] = []
        for index, name in enumerate(self.check.text_list(entry, "metrics", where, required=False)):
            if self.check.metric_name(name, f"{where}.metrics[{index}]") is not None:
                allowed.append(name)
        if "metrics" in entry and "metric_field" not in entry:
            self.check.add(f"{where}.metrics", "only with metric_field")
        value = self.path(entry, "value", where, required=True)
        unit = self.unit(entry, where, metric)
        unit_field = self.path(entry, "unit_field", where)
        if "unit" not in entry and "unit_field" not in entry:
            self.check.add(where, "give unit, unit_field, or both (unit is then the fallback)")
        scale = self.check.number(
            entry, "scale", where, required=False, max_digits=MAX_NUMBER_DIGITS
        )
        if scale is not None and scale <= 0:
            self.check.add(f"{where}.scale", f"{scale} is not a positive number")
        required = self.check.flag(entry, "required", where)
        own = self.shared(entry, where)
        if own.time_given or own.format_given:
            self.time_pair(
                own.time_given or defaults.time_given,
                own.format_given or defaults.format_given,
                where,
            )
        time_path = own.time or defaults.time
        time_format = own.time_format or defaults.time_format
        if len(self.check.problems) != problems_before or value is None:
            return None
        return MetricMapping(
            value=value,
            metric=metric.name if metric is not None else None,
            metric_field=metric_field,
            allowed_metrics=tuple(allowed),
            unit=unit,
            unit_field=unit_field,
            scale=scale,
            time=TimeSpec(time_path, time_format) if time_path and time_format else None,
            sequence=own.sequence or defaults.sequence,
            user_id=own.user_id or defaults.user_id,
            required=True if required is None else required,
            annotations=(*defaults.annotations, *own.annotations),
            status=(*defaults.status, *own.status),
        )

    def unit(self, entry: Table, where: str, metric: MetricDef | None) -> str | None:
        text = self.check.text(entry, "unit", where, limit=32)
        if text is None:
            return None
        try:
            ucum = normalize_unit(text)
        except UnitError as err:
            self.check.add(f"{where}.unit", err.reason)
            return None
        if metric is not None and ucum not in metric.units:
            accepted = ", ".join(metric.units)
            self.check.add(
                f"{where}.unit", f"{text!r} is not valid for {metric.name}; accepted: {accepted}"
            )
            return None
        return ucum

    def annotations(self, table: Table, where: str) -> tuple[AnnotationRule, ...]:
        rules: list[AnnotationRule] = []
        for field, rule in self.check.tables(table, "annotations", where):
            self.check.keys(rule, _ANNOTATION_KEYS, field)
            path = self.path(rule, "field", field, required=True)
            annotation = self.annotation(rule, "annotation", field)
            equals = rule.get("equals", True)
            if isinstance(equals, Decimal) and not equals.is_finite():
                self.check.add(f"{field}.equals", f"{equals} is not a finite number")
                continue
            if not isinstance(equals, bool | int | Decimal | str):
                self.check.add(
                    f"{field}.equals",
                    f"expected a boolean, number or string, got {toml_kind(equals)}",
                )
                continue
            if path is not None and annotation is not None:
                rules.append(AnnotationRule(path, equals, annotation))
        return tuple(rules)

    def status(self, table: Table, where: str) -> tuple[StatusRule, ...]:
        status = self.check.table(table, "status", where, required=False)
        if status is None:
            return ()
        field = join(where, "status")
        self.check.keys(status, _STATUS_KEYS, field)
        path = self.path(status, "field", field, required=True)
        values = self.check.table(status, "values", field, required=True)
        pairs: list[tuple[str, str]] = []
        if values is not None:
            if not values:
                self.check.add(f"{field}.values", "must list at least one status value")
            for key in values:
                annotation = self.annotation(values, key, f"{field}.values")
                if annotation is not None:
                    pairs.append((key, annotation))
        if path is None or values is None:
            return ()
        return (StatusRule(path, tuple(pairs)),)

    def annotation(self, table: Table, key: str, where: str) -> str | None:
        text = self.check.text(table, key, where, required=True, limit=32)
        if text is not None and not _is_annotation(text):
            self.check.add(
                join(where, key), f"{text!r} is not an annotation (1-32 of A-Z a-z 0-9 -)"
            )
            return None
        return text


@dataclass(frozen=True, slots=True)
class _Shared:
    """The keys a record level and a metric level both accept, as read."""

    time_given: bool
    format_given: bool
    time: JsonPath | None
    time_format: TimeFormat | None
    sequence: JsonPath | None
    user_id: JsonPath | None
    annotations: tuple[AnnotationRule, ...]
    status: tuple[StatusRule, ...]
