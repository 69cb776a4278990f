"""MQTT-native devices: connected devices that publish JSON themselves (no gateway).

Each keeps its unsent readings in its own outbox (its memory) until the broker confirms the
publish (PUBACK); its record number is the outbox seq, so it is never reused.

* the hub's canonical JSON on ``hs/v1/devices/{id}/readings`` (docs/wire.md), times in UTC
  (``Z``) and ``seq``: a CGM (``glucose_isf`` every 5 minutes), a blood-pressure cuff
  (systolic, diastolic, pulse), a scale (weight) and an oximeter (SpO2 and pulse); a backlog
  goes out as arrays;
* vendor JSON on ``hs/v1/devices/{id}/json/{profile}``, in the shape of the catalog's example
  profiles: ``acme-bp-wifi`` (one flat object, epoch seconds), ``glucocloud-meter`` (its
  memory uploaded as a batch, mmol/L, sequence numbers) and ``nimbus-scale`` (nested object,
  local time with offset, body fat in per mille).
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from device_profiles.vocabulary import METRICS
from gateway_firmware_sim.devices.base import DeviceStats, whole_seconds
from gateway_firmware_sim.physiology._random import generator
from gateway_firmware_sim.physiology.glucose import meter_reading
from gateway_firmware_sim.physiology.person import Person
from gateway_firmware_sim.timebase import HOUR, iso_local, iso_utc, local_days
from hub.core.frame_messages import OutboxItem
from hub.core.wire import device_json_topic, device_readings_topic

# The vocabulary's exact factor (glucose 180.156 g/mol): a simulated meter that sends mmol/L
# converts the way a real one does, so the hub's mg/dL comes back to the physiology's value.
MMOL_PER_MG_DL = 1 / float(METRICS["glucose"].units["mmol/L"][0])


@dataclass(frozen=True, slots=True)
class Measured:
    """One measurement event: its time, its record (JSON-ready) and how many readings."""

    time: float
    record: dict[str, object]
    readings: int


def _dumps(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


class NativeDevice(abc.ABC):
    kind: str = ""
    profile_id: str | None = None  # None: the canonical readings topic
    batch_limit: int = 1  # records per message

    def __init__(self, device_id: str, wearer: Person, start: float) -> None:
        self.device_id = device_id
        self.wearer = wearer
        self.measured_upto = start
        self.stats = DeviceStats()

    @property
    def topic(self) -> str:
        if self.profile_id is None:
            return device_readings_topic(self.device_id)
        return device_json_topic(self.device_id, self.profile_id)

    @abc.abstractmethod
    def _measure(self, t0: float, t1: float) -> list[Measured]: ...

    def measure(self, until: float, first_seq: int) -> list[OutboxItem]:
        """Measurements up to ``until`` as outbox items numbered from ``first_seq``."""
        if until <= self.measured_upto:
            return []
        items = []
        seq = first_seq
        for measured in self._measure(self.measured_upto, until):
            record = self.numbered(measured.record, seq)
            items.append(OutboxItem(self.device_id, seq, self.kind, _dumps(record)))
            self.stats.records += 1
            self.stats.readings_delivered += measured.readings
            if self.numbers_records:
                self.stats.seqs.append(seq)
            seq += 1
        self.measured_upto = until
        return items

    numbers_records = False

    def numbered(self, record: dict[str, object], seq: int) -> dict[str, object]:
        return record

    def compose(self, items: Sequence[OutboxItem]) -> list[tuple[bytes, list[OutboxItem]]]:
        """Messages for due items: one per record, or batches of ``batch_limit``."""
        out = []
        for start in range(0, len(items), self.batch_limit):
            chunk = list(items[start : start + self.batch_limit])
            out.append((self.envelope([json.loads(i.data) for i in chunk]), chunk))
        return out

    def envelope(self, records: list[object]) -> bytes:
        return _dumps(records[0])


# --- the hub's canonical JSON -------------------------------------------------------------


class CanonicalDevice(NativeDevice):
    """A device speaking the canonical reading format; one record = its readings, one seq."""

    batch_limit = 100
    numbers_records = True

    def numbered(self, record: dict[str, object], seq: int) -> dict[str, object]:
        readings = record["readings"]
        assert isinstance(readings, list)
        return {"readings": [{**r, "seq": seq} for r in readings]}

    def envelope(self, records: list[object]) -> bytes:
        readings: list[object] = []
        for record in records:
            assert isinstance(record, dict)
            readings += record["readings"]
        return _dumps(readings if len(readings) > 1 else readings[0])


def _reading(metric: str, value: object, unit: str, at: float) -> dict[str, object]:
    return {"metric": metric, "value": value, "unit": unit, "time": iso_utc(at)}


class CanonicalCgm(CanonicalDevice):
    kind = "canonical-cgm"

    def _measure(self, t0: float, t1: float) -> list[Measured]:
        person = self.wearer
        trace = person.cgm_sensor.trace(person.glucose, t0, t1)
        return [
            Measured(
                float(t), {"readings": [_reading("glucose_isf", int(v), "mg/dL", float(t))]}, 1
            )
            for t, v in zip(trace.times, trace.values, strict=True)
        ]


class CanonicalCuff(CanonicalDevice):
    kind = "canonical-bp"

    def _measure(self, t0: float, t1: float) -> list[Measured]:
        out = []
        for reading in self.wearer.pressure.readings(t0, t1):
            at = whole_seconds(reading.time)
            readings = [
                _reading("systolic_bp", reading.systolic, "mm[Hg]", at),
                _reading("diastolic_bp", reading.diastolic, "mm[Hg]", at),
                _reading("pulse_rate", reading.pulse, "/min", at),
            ]
            out.append(Measured(at, {"readings": readings}, 3))
        return out


class CanonicalScale(CanonicalDevice):
    kind = "canonical-scale"

    def _measure(self, t0: float, t1: float) -> list[Measured]:
        return [
            Measured(
                whole_seconds(r.time),
                {"readings": [_reading("weight", r.kg, "kg", whole_seconds(r.time))]},
                1,
            )
            for r in self.wearer.weight.readings(t0, t1)
        ]


class CanonicalOximeter(CanonicalDevice):
    kind = "canonical-oximeter"

    def _measure(self, t0: float, t1: float) -> list[Measured]:
        out = []
        for reading in self.wearer.oximetry.spot_checks(t0, t1):
            at = whole_seconds(reading.time)
            readings = [
                _reading("spo2", reading.spo2, "%", at),
                _reading("pulse_rate", reading.pulse, "/min", at),
            ]
            out.append(Measured(at, {"readings": readings}, 2))
        return out


# --- vendor JSON (catalog example profiles) -----------------------------------------------


class AcmeCuff(NativeDevice):
    """``acme-bp-wifi``: ``{"ts", "sys", "dia", "pulse", "unit", "irregular", "cuff_ok"}``."""

    kind = "acme-bp"
    profile_id = "acme-bp-wifi"

    def _measure(self, t0: float, t1: float) -> list[Measured]:
        out = []
        for reading in self.wearer.pressure.readings(t0, t1):
            at = whole_seconds(reading.time)
            rng = generator(self.wearer.seed, self.device_id, "acme", int(at))
            record: dict[str, object] = {
                "ts": int(at),
                "sys": reading.systolic,
                "dia": reading.diastolic,
                "unit": "mmHg",
                "irregular": reading.irregular,
                "cuff_ok": bool(rng.random() > 0.03),
            }
            readings = 2
            if rng.random() > 0.05:  # the cuff omits the pulse when it could not measure it
                record["pulse"] = reading.pulse
                readings = 3
            out.append(Measured(at, record, readings))
        return out


class GlucoCloudMeter(NativeDevice):
    """``glucocloud-meter``: the meter's memory uploaded every few hours as a batch:
    ``{"device": id, "readings": [{"t", "glucose_mmol", "seq"}...]}``."""

    kind = "glucocloud"
    profile_id = "glucocloud-meter"
    batch_limit = 50
    numbers_records = True

    def _measure(self, t0: float, t1: float) -> list[Measured]:
        person = self.wearer
        out = []
        for day in local_days(t0, t1, person.zone):
            rng = generator(person.seed, self.device_id, "glucocloud-tests", day)
            meals = person.glucose.meals(day)
            times = [m.time - 600 for m in meals if m.kind in ("breakfast", "dinner")]
            times += [m.time + 2 * HOUR for m in meals if m.kind == "lunch"]
            for at in sorted(times):
                if rng.random() < 0.85 and t0 <= at < t1:
                    at = whole_seconds(at)
                    mg = meter_reading(person.seed, self.device_id, person.glucose, at)
                    mmol = Decimal(f"{mg * MMOL_PER_MG_DL:.1f}")
                    out.append(Measured(at, {"t": iso_utc(at), "glucose_mmol": float(mmol)}, 1))
        return out

    def numbered(self, record: dict[str, object], seq: int) -> dict[str, object]:
        return {**record, "seq": seq}

    def envelope(self, records: list[object]) -> bytes:
        return _dumps({"device": self.device_id, "readings": records})


class NimbusScale(NativeDevice):
    """``nimbus-scale``: ``{"data": {"body": {"weight": {"value", "unit"}, "fat_permille"},
    "user", "measured_at"}}`` with the local time and its offset."""

    kind = "nimbus-scale"
    profile_id = "nimbus-scale"

    def _measure(self, t0: float, t1: float) -> list[Measured]:
        person = self.wearer
        out = []
        for reading in person.weight.readings(t0, t1):
            at = whole_seconds(reading.time)
            bmi = person.weight.bmi(reading.kg)
            fat_permille = round(10 * (1.2 * bmi + 0.23 * person.age - 5.4 - 10.8 * 0.5))
            record: dict[str, object] = {
                "data": {
                    "body": {
                        "weight": {"value": reading.kg, "unit": "kg"},
                        "fat_permille": fat_permille,
                    },
                    "user": 1,
                    "measured_at": iso_local(at, person.zone),
                }
            }
            out.append(Measured(at, record, 2))
        return out
