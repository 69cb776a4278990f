"""Provider pushes: what a remote-monitoring provider's request becomes, item by item.

Pure: the request body in, :class:`ProviderItem` measurements and per-item errors out. The
whole body is refused (:class:`~hub.core.wire.WireError`) only when it is not a document of the
expected shape at all; every other problem is reported for its item, and the good items go on.

* JSON batch (``application/json``), parsed here::

    {"readings": [{"device_id": "bp-1", "metric": "systolic_bp", "value": 128,
                   "unit": "mm[Hg]", "time": "2026-11-28T08:00:00+01:00", "seq": 3}, ...],
     "clocks": [{"device_id": "bp-1", "device_time": "2015-01-01T00:12:00+01:00",
                 "read_at": "2026-11-28T09:02:11+01:00"}]}

  ``clocks`` (optional) is each device's own clock as the provider read it when it collected
  the records (``device_time``), and the true time of that read (``read_at``, the provider's
  NTP time; default: when the hub received the push) — the JSON form of the HL7 PHD coincident
  time stamp. The offset between the two corrects every reading of that device in the push,
  like a gateway's clock frame does (docs/model.md). A malformed clock refuses the whole
  request (422 naming the field): it would misdate every reading of its device.

* FHIR R4 ``Bundle`` (``application/fhir+json``): :mod:`hub.core.fhir.inbound`.

Every item and every item error carries the item's *own* JSON (``raw``, re-serialised
compactly from the parsed value): a dead letter keeps the item it is about, never the whole
request (a 5,000-item request must not be stored under one item's device).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from device_profiles import strict_json
from device_profiles.errors import DecodeError
from device_profiles.measurement import Measurement
from device_profiles.strict_json import kind_of
from hub.core.identity import check_device_id
from hub.core.wire import ItemError, WireError, parse_json, parse_reading, parse_time

MAX_ITEMS = 5000


@dataclass(frozen=True, slots=True)
class ProviderItem:
    """One measurement of a push: its item index (the bundle entry's, for FHIR), device and
    raw JSON. ``subject_ins`` is the INS the item names as its patient (FHIR
    ``Observation.subject``), ``path`` where its value sits (``entry[3].resource.component[0]``).
    """

    index: int
    device_id: str
    measurement: Measurement
    raw: bytes = b""
    subject_ins: str | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderClock:
    """A device's clock as the provider read it; ``read_at`` None: when the hub received it."""

    device_time: datetime
    device_time_raw: str
    read_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProviderBatch:
    items: list[ProviderItem]
    errors: list[ItemError]
    clocks: dict[str, ProviderClock] = field(default_factory=dict)


def device_id_of(value: Any, field: str) -> str:
    """A hub device id (the wire contract's syntax), or :class:`WireError` naming ``field``."""
    if not isinstance(value, str):
        raise WireError(f"expected a string, got {kind_of(value)}", field=field)
    problem = check_device_id(value)
    if problem:
        raise WireError(f"device id {problem}", field=field)
    return value


class TooManyItems(WireError):
    """A request holding more items than one push may (answered 413, like a body too big)."""


def check_item_count(count: int) -> None:
    if count > MAX_ITEMS:
        raise TooManyItems(f"{count} items exceed the limit of {MAX_ITEMS} per request")


def parse_json_batch(payload: bytes, *, max_bytes: int) -> ProviderBatch:
    document = parse_json(payload, max_bytes=max_bytes)
    if not isinstance(document, dict) or not {"readings"} <= set(document) <= _JSON_BATCH_KEYS:
        raise WireError('expected an object {"readings": [...]} (and optionally "clocks")')
    readings = document["readings"]
    if not isinstance(readings, list) or not readings:
        raise WireError("expected a non-empty array", field="readings")
    check_item_count(len(readings))
    items, errors = [], []
    for index, item in enumerate(readings):
        prefix = f"readings[{index}]."
        raw = strict_json.dumps(item)
        try:
            measurement = parse_reading(item, prefix, extra=frozenset({"device_id"}))
            device_id = device_id_of(item.get("device_id"), f"{prefix}device_id")
            items.append(ProviderItem(index, device_id, measurement, raw))
        except DecodeError as err:
            errors.append(ItemError(index, err, raw))
    return ProviderBatch(items, errors, _clocks(document.get("clocks", [])))


_JSON_BATCH_KEYS = frozenset({"readings", "clocks"})
_CLOCK_KEYS = frozenset({"device_id", "device_time", "read_at"})


def _clocks(value: Any) -> dict[str, ProviderClock]:
    if not isinstance(value, list):
        raise WireError(f"expected an array, got {kind_of(value)}", field="clocks")
    check_item_count(len(value))
    clocks: dict[str, ProviderClock] = {}
    for index, entry in enumerate(value):
        where = f"clocks[{index}]"
        if not isinstance(entry, dict):
            raise WireError(f"expected an object, got {kind_of(entry)}", field=where)
        unknown = sorted(set(entry) - _CLOCK_KEYS)
        if unknown:
            raise WireError(f"unknown field(s) {', '.join(unknown)}", field=f"{where}.{unknown[0]}")
        device_id = device_id_of(entry.get("device_id"), f"{where}.device_id")
        if device_id in clocks:
            raise WireError(f"a second clock for device {device_id}", field=f"{where}.device_id")
        shown = _time_text(entry.get("device_time"), f"{where}.device_time")
        read_at = entry.get("read_at")
        clocks[device_id] = ProviderClock(
            parse_time(shown, f"{where}.device_time"),
            shown,
            None
            if read_at is None
            else parse_time(_time_text(read_at, f"{where}.read_at"), f"{where}.read_at"),
        )
    return clocks


def _time_text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise WireError(f"expected a date-time string, got {kind_of(value)}", field=field)
    return value
