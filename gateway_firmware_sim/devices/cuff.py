"""A home blood-pressure cuff with the Blood Pressure Service (store and forward).

Each reading becomes one Blood Pressure Measurement (0x2A35) indication: systolic, diastolic
and mean arterial pressure in mm[Hg], the cuff's time stamp (its local clock), the pulse,
user 1 and the measurement status (irregular pulse when the wearer's rhythm is irregular).
The cuff keeps its last 100 readings and sends those not yet sent when a gateway connects.
"""

from __future__ import annotations

from decimal import Decimal

from device_profiles import uuids
from device_profiles.blood_pressure import (
    BloodPressureRecord,
    BpStatus,
    PressureUnit,
    encode_blood_pressure,
)
from gateway_firmware_sim.devices.base import BleDevice, StoredRecord, readings_in, whole_seconds


class BloodPressureCuff(BleDevice):
    profile_id = "generic-ble-blood-pressure"
    kind = "bp-cuff"
    capacity = 100

    def _measure(self, t0: float, t1: float) -> list[StoredRecord]:
        out = []
        for reading in self.wearer.pressure.readings(t0, t1):
            when = whole_seconds(reading.time)
            record = BloodPressureRecord(
                systolic=Decimal(reading.systolic),
                diastolic=Decimal(reading.diastolic),
                mean_arterial=Decimal(reading.mean_arterial),
                unit=PressureUnit.MMHG,
                timestamp=self.clock.gatt(when),
                pulse_rate=Decimal(reading.pulse),
                user_id=1,
                status=BpStatus.IRREGULAR_PULSE if reading.irregular else BpStatus(0),
            )
            data = encode_blood_pressure(record)
            uuid = uuids.BLOOD_PRESSURE_MEASUREMENT
            out.append(StoredRecord(when, ((uuid, data),), readings_in(uuid, data)))
        return out
