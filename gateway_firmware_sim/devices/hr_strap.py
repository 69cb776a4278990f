"""A chest strap with the Heart Rate Service: live Heart Rate Measurement (0x2A37).

Worn for rehabilitation sessions (rest, effort, recovery); one notification every 10 s with
the heart rate, sensor contact, cumulative energy expended and the RR interval. There is no
time stamp: the gateway's receive time becomes the reading's time, and what no gateway hears
is lost. Pair a strap with one gateway only (docs/wire.md).
"""

from __future__ import annotations

from device_profiles import uuids
from device_profiles.heart_rate import HeartRateRecord, SensorContact, encode_heart_rate
from gateway_firmware_sim.devices.base import BleDevice, StoredRecord


class HeartRateStrap(BleDevice):
    profile_id = "generic-ble-heart-rate"
    kind = "hr-strap"
    capacity = 100_000

    def _measure(self, t0: float, t1: float) -> list[StoredRecord]:
        out = []
        for sample in self.wearer.heart.samples(t0, t1):
            record = HeartRateRecord(
                heart_rate=sample.bpm,
                contact=SensorContact.DETECTED,
                energy_expended_kj=min(sample.energy_kj, 0xFFFF),
                rr_intervals=sample.rr_1024,
            )
            data = encode_heart_rate(record)
            out.append(
                StoredRecord(sample.time, ((uuids.HEART_RATE_MEASUREMENT, data),), 1, live=True)
            )
        return out
