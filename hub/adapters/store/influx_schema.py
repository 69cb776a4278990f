"""How a :class:`Reading` is laid out in InfluxDB (pure: a line out, a row in). docs/storage.md.

One point per reading::

    <measurement>,device=<device_id>,metric=<metric>,patient=<patient_id>[,slot=<n>]
        value=<float>,rid="<reading_id>",meta="<JSON object>"  <effective time, ms>

* measurement = the metric's *family* (glucose, blood_pressure, …), so a patient's CGM scan
  touches one measurement — except for a reading whose device time cannot be trusted
  (``TimeSource.UNTRUSTED``): every such reading, whatever its metric, is in the measurement
  :data:`UNTRUSTED_MEASUREMENT` (``untrusted_time``). Trends, summaries and "latest" aggregate
  server-side (``GROUP BY time``, ``mean``…), where the JSON ``meta`` cannot be filtered on;
  reading only the family measurements leaves untrusted readings out at no cost. What must see
  them reads ``untrusted_time`` too: ``readings(include_untrusted=True)``, ``count``, erasure
  and retention (they address every measurement), the write path's lookup of stored copies,
  ``device_readings``, ``reassign`` and ``delete_readings``;
* tags (indexed, low cardinality): the pseudonymous patient id (never the INS), the metric
  (a fixed vocabulary), the device, and ``slot`` — present only on the rare second, third…
  distinct reading that shares a point key (measurement, patient, metric, device, millisecond)
  with one already stored. The write path assigns it (``hub.adapters.store.influx``), so distinct
  readings never overwrite each other and an identical resend finds its own point;
* fields: ``value`` (float: what InfluxQL aggregates), ``rid`` (the reading identity, which
  orders ties and finds resends) and ``meta``, the reading's provenance as one JSON object —
  ``unit``, ``recv`` (receive time, ms), ``ts`` (time source), ``src`` (the path: mqtt, gateway,
  provider), and when present ``dt`` (device time as sent), ``seq``, ``flags``, ``vs`` (value
  as sent, decimal text), ``us`` (unit as sent), ``uo`` (device UTC offset, min), ``co`` (clock
  correction applied, ms), ``tz`` (IANA zone a local time was read in). One field instead of
  one per key: InfluxDB's ingest cost grows with the number of fields per point (measured
  on 1.6.7: 56k points/s with nine fields, 113k with three — docs/storage.md), and nothing
  queries provenance server-side (hence the untrusted measurement above);
* the path a reading took is not a tag: the identity excludes the path, so a reading heard over
  MQTT and again through a gateway is one reading and must land on one point;
* timestamp = effective time in ms (writes use ``precision=ms``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from device_profiles.vocabulary import METRICS
from hub.adapters.store.line_protocol import (
    decode_tag_value,
    escape_measurement,
    escape_string_field,
    tag,
)
from hub.core.model import Reading, Source, TimeSource, epoch_ms, from_epoch_ms

_FAMILY_MEMBERS: dict[str, tuple[str, ...]] = {
    "glucose": ("glucose", "glucose_isf"),
    "blood_pressure": ("systolic_bp", "diastolic_bp", "mean_arterial_pressure", "cuff_pressure"),
    "heart_rate": ("pulse_rate", "heart_rate"),
    "oximetry": ("spo2", "pulse_amplitude_index"),
    "body_composition": (
        "weight",
        "height",
        "bmi",
        "body_fat",
        "fat_free_mass",
        "soft_lean_mass",
        "body_water_mass",
    ),
    "temperature": ("body_temperature",),
    "respiration": ("respiratory_rate",),
}
_FAMILY = {metric: family for family, members in _FAMILY_MEMBERS.items() for metric in members}

UNTRUSTED_MEASUREMENT = "untrusted_time"
assert UNTRUSTED_MEASUREMENT not in METRICS, "a metric would share the untrusted measurement"


def family_of(metric: str) -> str:
    """The measurement a metric is stored in; a metric added to the vocabulary without a
    family here gets a measurement of its own name."""
    return _FAMILY.get(metric, metric)


def families(metrics: Sequence[str] | None = None) -> list[str]:
    """The measurements holding the trusted readings of ``metrics`` (every metric of the
    vocabulary if None)."""
    names = METRICS if metrics is None else metrics
    return sorted({family_of(m) for m in names})


def measurements(metrics: Sequence[str] | None = None, *, untrusted: bool) -> list[str]:
    """:func:`families`, plus :data:`UNTRUSTED_MEASUREMENT` when ``untrusted``."""
    names = families(metrics)
    return [*names, UNTRUSTED_MEASUREMENT] if untrusted else names


def measurement_of(reading: Reading) -> str:
    """The measurement a reading is stored in."""
    if reading.time_source is TimeSource.UNTRUSTED:
        return UNTRUSTED_MEASUREMENT
    return family_of(reading.metric)


# Columns a full-reading query selects (tags are selectable alongside a field).
READING_COLUMNS = ("value", "rid", "meta", "patient", "metric", "device", "slot")


def point_key(reading: Reading, t_ms: int) -> tuple[str, str, str, str, int]:
    """What InfluxDB identifies a point by, minus ``slot``: (measurement, patient, metric,
    device, effective ms)."""
    return (measurement_of(reading), reading.patient_id, reading.metric, reading.device_id, t_ms)


@lru_cache(maxsize=65_536)
def series_prefix(measurement: str, metric: str, patient_id: str, device_id: str) -> str:
    """``measurement,tags`` of a point (slot aside); cached: a batch repeats a few series."""
    return (
        f"{escape_measurement(measurement)},{tag('device', device_id)},"
        f"{tag('metric', metric)},{tag('patient', patient_id)}"
    )


def _quoted(value: str) -> str:
    """A JSON string (control characters never get here: ``validate_for_store``)."""
    if "\\" in value or '"' in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{value}"'


def meta_json(reading: Reading) -> str:
    """The ``meta`` field's JSON object (built by hand: 5x faster than ``json.dumps``)."""
    meta = (
        f'{{"unit":{_quoted(reading.unit)},"recv":{epoch_ms(reading.receive_time)},'
        f'"ts":"{reading.time_source.value}","src":"{reading.source.value}"'
    )
    if reading.device_time is not None:
        meta += f',"dt":{_quoted(reading.device_time)}'
    if reading.seq is not None:
        meta += f',"seq":{reading.seq}'
    if reading.flags:
        meta += ',"flags":[' + ",".join(_quoted(flag) for flag in reading.flags) + "]"
    if reading.value_sent is not None:
        meta += f',"vs":{_quoted(reading.value_sent)}'
    if reading.unit_sent is not None:
        meta += f',"us":{_quoted(reading.unit_sent)}'
    if reading.utc_offset_min is not None:
        meta += f',"uo":{reading.utc_offset_min}'
    if reading.clock_offset_ms is not None:
        meta += f',"co":{reading.clock_offset_ms}'
    if reading.time_zone is not None:
        meta += f',"tz":{_quoted(reading.time_zone)}'
    return meta + "}"


def point_line(reading: Reading, slot: int = 0, t_ms: int | None = None) -> str:
    """The line-protocol line of one reading (ms precision); ``t_ms`` saves recomputing the
    effective time in ms when the caller has it."""
    if t_ms is None:
        t_ms = epoch_ms(reading.effective_time)
    line = series_prefix(
        measurement_of(reading), reading.metric, reading.patient_id, reading.device_id
    )
    if slot:
        line += f",slot={slot}"
    return (
        f'{line} value={float(reading.value)!r},rid="{escape_string_field(reading.reading_id)}",'
        f'meta="{escape_string_field(meta_json(reading))}" {t_ms}'
    )


def reading_from_row(time_ms: int, row: dict[str, Any]) -> Reading:
    """A reading from a query row (``epoch=ms``) holding :data:`READING_COLUMNS`."""
    meta = json.loads(row["meta"])
    return Reading(
        reading_id=str(row["rid"]),
        patient_id=decode_tag_value(str(row["patient"])),
        device_id=decode_tag_value(str(row["device"])),
        metric=str(row["metric"]),
        value=float(row["value"]),
        unit=str(meta["unit"]),
        effective_time=from_epoch_ms(int(time_ms)),
        receive_time=from_epoch_ms(int(meta["recv"])),
        device_time=_text(meta.get("dt")),
        time_source=TimeSource(meta["ts"]),
        source=Source(meta["src"]),
        seq=_int(meta.get("seq")),
        flags=tuple(str(flag) for flag in meta.get("flags", ())),
        value_sent=_text(meta.get("vs")),
        unit_sent=_text(meta.get("us")),
        utc_offset_min=_int(meta.get("uo")),
        clock_offset_ms=_int(meta.get("co")),
        time_zone=_text(meta.get("tz")),
    )


def seq_of_meta(meta: str) -> int | None:
    """The ``seq`` of a stored ``meta`` field (ordering ties needs nothing else)."""
    return _int(json.loads(meta).get("seq"))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
