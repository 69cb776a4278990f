"""A home blood-pressure cuff with the Blood Pressure Service (store and forward).

Each reading becomes one Blood Pressure Measurement (0x2A35) indication: systolic, diastolic
and mean arterial pressure in mm[Hg], the cuff's time stamp (its local clock), the pulse,
user 1 and the measurement status (irregular pulse when the wearer's rhythm is irregular).
The cuff keeps its last 100 readings and sends those not yet sent when a gateway connects.

With ``intermediate_cuff_pressure`` on, a collector already listening while the cuff measures
first gets Intermediate Cuff Pressure (0x2A36) notifications: the cuff pressure as it deflates,
6 mm[Hg] a step from 30 above the systolic to 10 below the diastolic. They carry no reading
and are never stored (off by default: the gateway firmware does not listen to them).
"""

from __future__ import annotations

from decimal import Decimal

from device_profiles import uuids
from device_profiles.blood_pressure import (
    BloodPressureRecord,
    BpStatus,
    CuffPressureRecord,
    PressureUnit,
    encode_blood_pressure,
    encode_intermediate_cuff_pressure,
)
from gateway_firmware_sim.devices.base import BleDevice, StoredRecord, readings_in, whole_seconds

_DEFLATION_STEP = 6  # mm[Hg] between two Intermediate Cuff Pressure values


def deflation(systolic: int, diastolic: int) -> tuple[tuple[int, bytes], ...]:
    """The Intermediate Cuff Pressure values of one measurement, highest first."""
    uuid = uuids.INTERMEDIATE_CUFF_PRESSURE
    pressures = range(systolic + 30, diastolic - 10, -_DEFLATION_STEP)
    return tuple(
        (uuid, encode_intermediate_cuff_pressure(CuffPressureRecord(Decimal(p)))) for p in pressures
    )


class BloodPressureCuff(BleDevice):
    profile_id = "generic-ble-blood-pressure"
    kind = "bp-cuff"
    capacity = 100
    intermediate_cuff_pressure = False

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
            prelude = (
                deflation(reading.systolic, reading.diastolic)
                if self.intermediate_cuff_pressure
                else ()
            )
            out.append(
                StoredRecord(when, ((uuid, data),), readings_in(uuid, data), prelude=prelude)
            )
        return out
