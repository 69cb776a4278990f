"""The ingest benchmark's workload: one deterministic stream of mixed device messages.

``N`` messages from 1,000 devices, interleaved as a broker would deliver them:

* 600 MQTT-native devices publishing canonical JSON (``hs/v1/devices/{id}/readings``): one
  reading each, with a sequence number;
* 200 vendor-JSON devices (``hs/v1/devices/{id}/json/{profile}``) of the three example
  vendor profiles: a Wi-Fi cuff (3 readings a message), a cloud meter (2 readings a message)
  and a scale;
* 200 BLE devices behind 20 gateways (``hs/v1/gateways/{id}/frames``): a Current Time frame
  (the device's clock, read on connecting) then a measurement frame — a blood-pressure cuff,
  a glucose meter or a weight scale — built with the project's own GATT encoders.

Times are relative to ``now`` (passed in): the last day, each device's messages a minute
apart. What the hub must store is counted by decoding the stream with the hub's own decoder
(``expected_readings``), so the integrity check does not trust the generator.
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from device_profiles.blood_pressure import BloodPressureRecord, encode_blood_pressure
from device_profiles.gatt_time import CurrentTime, GattDateTime, encode_current_time
from device_profiles.glucose import (
    GlucoseRecord,
    SampleLocation,
    SampleType,
    encode_glucose_measurement,
)
from device_profiles.weight import WeightRecord, encode_weight_measurement

DEVICES = 1000
CANONICAL, VENDOR, BLE = 600, 200, 200
GATEWAYS = 20
VENDOR_PROFILES = ("acme-bp-wifi", "glucocloud-meter", "nimbus-scale")
BLE_PROFILES = (
    "generic-ble-blood-pressure",
    "generic-ble-glucose-meter",
    "generic-ble-weight-scale",
)
ZONE = "Europe/Paris"


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    kind: str  # canonical | vendor profile id | ble profile id
    gateway_id: str | None = None


def devices() -> list[Device]:
    out = [Device(f"bench-c-{i:04d}", "canonical") for i in range(CANONICAL)]
    out += [
        Device(f"bench-v-{i:04d}", VENDOR_PROFILES[i % len(VENDOR_PROFILES)]) for i in range(VENDOR)
    ]
    out += [
        Device(
            f"bench-b-{i:04d}", BLE_PROFILES[i % len(BLE_PROFILES)], f"bench-gw-{i % GATEWAYS:02d}"
        )
        for i in range(BLE)
    ]
    return out


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _canonical(device: Device, k: int, at: datetime) -> Message:
    body = {
        "metric": "glucose",
        "value": 90 + (k * 7) % 80,
        "unit": "mg/dL",
        "time": _iso(at),
        "seq": k,
    }
    return Message(f"hs/v1/devices/{device.device_id}/readings", json.dumps(body).encode())


def _vendor(device: Device, k: int, at: datetime) -> Message:
    topic = f"hs/v1/devices/{device.device_id}/json/{device.kind}"
    if device.kind == "acme-bp-wifi":
        body: dict[str, object] = {
            "ts": int(at.timestamp()),
            "sys": 110 + k % 30,
            "dia": 70 + k % 15,
            "pulse": 60 + k % 20,
            "unit": "mmHg",
            "irregular": False,
            "cuff_ok": True,
        }
    elif device.kind == "glucocloud-meter":
        body = {
            "device": device.device_id,
            "readings": [
                {
                    "t": _iso(at),
                    "glucose_mmol": float(Decimal(5) + Decimal(k % 30) / 10),
                    "seq": 2 * k,
                },
                {"t": _iso(at + timedelta(seconds=30)), "glucose_mmol": 6.1, "seq": 2 * k + 1},
            ],
        }
    else:
        body = {
            "data": {
                "body": {
                    "weight": {"value": 70 + (k % 50) / 10, "unit": "kg"},
                    "fat_permille": 210,
                },
                "user": 1,
                "measured_at": _iso(at),
            }
        }
    return Message(topic, json.dumps(body).encode())


def _ble_frame(device: Device, k: int, at: datetime, local: datetime) -> bytes:
    stamp = GattDateTime.from_datetime(local.replace(microsecond=0))
    if device.kind == "generic-ble-blood-pressure":
        return encode_blood_pressure(
            BloodPressureRecord(
                systolic=Decimal(110 + k % 30),
                diastolic=Decimal(70 + k % 15),
                mean_arterial=Decimal(90),
                timestamp=stamp,
            )
        )
    if device.kind == "generic-ble-glucose-meter":
        return encode_glucose_measurement(
            GlucoseRecord(
                sequence=k % 65536,
                base_time=stamp,
                concentration=Decimal(90 + k % 60),
                sample_type=SampleType.CAPILLARY_WHOLE_BLOOD,
                location=SampleLocation.FINGER,
            )
        )
    return encode_weight_measurement(
        WeightRecord(weight=Decimal(70) + Decimal(k % 50) / 10, timestamp=stamp)
    )


def _ble(device: Device, k: int, at: datetime, frame_seq: int) -> Message:
    local = at.replace(tzinfo=None) + timedelta(hours=1)  # the device's local wall clock
    clock_local = local + timedelta(seconds=5)
    clock = encode_current_time(CurrentTime.from_datetime(clock_local.replace(microsecond=0)))
    read_at = at + timedelta(seconds=5)
    gateway_time = read_at.astimezone().isoformat()
    body = {
        "gateway_time": gateway_time,
        "zone": ZONE,
        "device": {"id": device.device_id, "profile": device.kind},
        "frames": [
            {"seq": frame_seq, "uuid": "2A2B", "data": clock.hex(), "time": _iso(read_at)},
            {
                "seq": frame_seq + 1,
                "uuid": {
                    "generic-ble-blood-pressure": "2A35",
                    "generic-ble-glucose-meter": "2A18",
                }.get(device.kind, "2A9D"),
                "data": _ble_frame(device, k, at, local).hex(),
                "time": _iso(read_at),
            },
        ],
    }
    return Message(f"hs/v1/gateways/{device.gateway_id}/frames", json.dumps(body).encode())


def messages(count: int, now: datetime, seed: int = 20261130) -> Iterator[Message]:
    """``count`` messages, devices taking turns in a seeded shuffled order."""
    rng = random.Random(seed)
    fleet = devices()
    sent = [0] * len(fleet)
    order = list(range(len(fleet)))
    produced = 0
    while produced < count:
        rng.shuffle(order)
        for index in order:
            if produced >= count:
                return
            device = fleet[index]
            k = sent[index]
            sent[index] += 1
            at = now - timedelta(hours=23) + timedelta(minutes=k, seconds=index % 60)
            if device.kind == "canonical":
                yield _canonical(device, k, at)
            elif device.gateway_id is None:
                yield _vendor(device, k, at)
            else:
                yield _ble(device, k, at, 2 * k + 1)
            produced += 1


_RECORD = struct.Struct("<HI")


def write(path: Path, stream: Iterator[Message]) -> int:
    """Store the stream as length-prefixed records; how many messages."""
    count = 0
    with path.open("wb") as out:
        for message in stream:
            topic = message.topic.encode()
            out.write(_RECORD.pack(len(topic), len(message.payload)))
            out.write(topic)
            out.write(message.payload)
            count += 1
    return count


def read(path: Path) -> Iterator[Message]:
    with path.open("rb") as source:
        while header := source.read(_RECORD.size):
            topic_size, payload_size = _RECORD.unpack(header)
            topic = source.read(topic_size).decode()
            yield Message(topic, source.read(payload_size))
