"""A pulse oximeter with the Pulse Oximeter Service.

* spot checks: PLX Spot-Check Measurement (0x2A5E) indications with the oximeter's time stamp
  — stored, sent when a gateway connects;
* overnight recordings: PLX Continuous Measurement (0x2A5F) notifications, one a minute,
  with no time stamp — live: the gateway's receive time becomes the reading's time, and what
  no gateway hears is lost. Pair an oximeter with one gateway only (docs/wire.md).
"""

from __future__ import annotations

from decimal import Decimal

from device_profiles import uuids
from device_profiles.pulse_oximeter import (
    ContinuousRecord,
    SpO2PR,
    SpotCheckRecord,
    encode_continuous,
    encode_spot_check,
)
from gateway_firmware_sim.devices.base import BleDevice, StoredRecord, readings_in, whole_seconds


class PulseOximeter(BleDevice):
    profile_id = "generic-ble-pulse-oximeter"
    kind = "oximeter"
    capacity = 5000  # the overnight notifications wait here until the step's drain

    def _measure(self, t0: float, t1: float) -> list[StoredRecord]:
        model = self.wearer.oximetry
        out = []
        for reading in model.spot_checks(t0, t1):
            when = whole_seconds(reading.time)
            pair = SpO2PR(Decimal(reading.spo2), Decimal(reading.pulse))
            data = encode_spot_check(SpotCheckRecord(pair, timestamp=self.clock.gatt(when)))
            uuid = uuids.PLX_SPOT_CHECK_MEASUREMENT
            out.append(StoredRecord(when, ((uuid, data),), readings_in(uuid, data)))
        for reading in model.overnight(t0, t1):
            pair = SpO2PR(Decimal(reading.spo2), Decimal(reading.pulse))
            data = encode_continuous(ContinuousRecord(pair))
            uuid = uuids.PLX_CONTINUOUS_MEASUREMENT
            out.append(
                StoredRecord(reading.time, ((uuid, data),), readings_in(uuid, data), live=True)
            )
        return sorted(out, key=lambda r: r.time)
