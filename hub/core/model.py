"""The hub's domain model: a stored reading, with its codes and its time provenance.

A :class:`Reading` is what the time-series store keeps. It is derived from a device's
:class:`device_profiles.Measurement` by the pipeline (``hub.core.pipeline``): value converted to the
metric's canonical UCUM unit, attributed to a patient (pseudonymous internal id, never the INS),
and given an *effective time* — the time used for trends — next to the device's raw time and the
hub's receive time. How the effective time was chosen is recorded in ``time_source``; a device
time is never silently replaced.

Flags are short stable strings (documented in ``docs/model.md``): device annotations
(``LO``, ``HI``, ``irregular-pulse``...) and the hub's own (``clock-skew``, ``time-corrected``,
``time-zone-assumed``, ``critical-low``, ``critical-high``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from device_profiles.vocabulary import METRICS, MetricDef


class TimeSource(enum.StrEnum):
    """Where a reading's effective time comes from (docs/model.md, "Time provenance")."""

    DEVICE = "device"  # the device's own timestamp, with its stated UTC offset
    DEVICE_ZONE_ASSUMED = "device-zone-assumed"  # device local time read in a named IANA zone
    DEVICE_CORRECTED = "device-corrected"  # device time + the clock offset measured at upload
    RECEIVE = "receive"  # the device sent no time: when the gateway or the hub received it
    UNTRUSTED = "device-untrusted"  # a device time that cannot be right, with no offset to fix
    # it: kept as sent, flagged ``time-unknown``, left out of time-based views


class Source(enum.StrEnum):
    """The path a reading took into the hub."""

    MQTT = "mqtt"  # a device publishing its own readings
    GATEWAY = "gateway"  # raw GATT frames forwarded by a BLE gateway
    PROVIDER = "provider"  # HTTPS push by a remote-monitoring provider


@dataclass(frozen=True, slots=True)
class Reading:
    """One stored measurement. Times are timezone-aware UTC datetimes."""

    reading_id: str
    patient_id: str
    device_id: str
    metric: str
    value: float
    unit: str
    effective_time: datetime
    receive_time: datetime
    device_time: str | None
    time_source: TimeSource
    source: Source
    seq: int | None = None
    flags: tuple[str, ...] = ()
    # Provenance (None when unknown or not applicable):
    value_sent: str | None = None  # the number as the device sent it ("10.0")
    unit_sent: str | None = None  # its unit as sent, UCUM ("mmol/L")
    utc_offset_min: int | None = None  # the device's local UTC offset at the effective time
    clock_offset_ms: int | None = None  # correction applied to the device's clock (ms)
    time_zone: str | None = None  # the IANA zone a local device time was read in

    @property
    def time_unknown(self) -> bool:
        """A time that cannot be trusted: kept, but out of trends, summaries and "latest"."""
        return self.time_source is TimeSource.UNTRUSTED

    @property
    def definition(self) -> MetricDef:
        return METRICS[self.metric]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)  # built once: the stores call epoch_ms per reading


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime (the stores' time unit)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the hub only handles aware times")
    return (moment - EPOCH) // _ONE_MS


def from_epoch_ms(ms: int) -> datetime:
    return EPOCH + ms * _ONE_MS


def reading_to_json(reading: Reading) -> dict[str, object]:
    """The reading as JSON-ready data (times in ISO-8601 UTC); inverse of reading_from_json."""
    return {
        "reading_id": reading.reading_id,
        "patient_id": reading.patient_id,
        "device_id": reading.device_id,
        "metric": reading.metric,
        "value": reading.value,
        "unit": reading.unit,
        "effective_time": reading.effective_time.isoformat(),
        "receive_time": reading.receive_time.isoformat(),
        "device_time": reading.device_time,
        "time_source": reading.time_source.value,
        "source": reading.source.value,
        "seq": reading.seq,
        "flags": list(reading.flags),
        "value_sent": reading.value_sent,
        "unit_sent": reading.unit_sent,
        "utc_offset_min": reading.utc_offset_min,
        "clock_offset_ms": reading.clock_offset_ms,
        "time_zone": reading.time_zone,
    }


def reading_from_json(data: dict[str, Any]) -> Reading:
    return Reading(
        reading_id=data["reading_id"],
        patient_id=data["patient_id"],
        device_id=data["device_id"],
        metric=data["metric"],
        value=float(data["value"]),
        unit=data["unit"],
        effective_time=datetime.fromisoformat(data["effective_time"]),
        receive_time=datetime.fromisoformat(data["receive_time"]),
        device_time=data["device_time"],
        time_source=TimeSource(data["time_source"]),
        source=Source(data["source"]),
        seq=data["seq"],
        flags=tuple(data["flags"]),
        value_sent=data.get("value_sent"),
        unit_sent=data.get("unit_sent"),
        utc_offset_min=data.get("utc_offset_min"),
        clock_offset_ms=data.get("clock_offset_ms"),
        time_zone=data.get("time_zone"),
    )
