"""A thermometer with the Health Thermometer Service (store and forward).

Each reading becomes one Temperature Measurement (0x2A1C) indication: the temperature in Cel
(IEEE 11073 FLOAT, 0.1 resolution), the thermometer's time stamp and the site (ear: tympanum,
or armpit). It keeps 30 readings.
"""

from __future__ import annotations

from decimal import Decimal

from device_profiles import uuids
from device_profiles.thermometer import (
    TemperatureRecord,
    TemperatureType,
    TemperatureUnit,
    encode_temperature,
)
from gateway_firmware_sim.devices.base import BleDevice, StoredRecord, readings_in, whole_seconds

SITES = {"ear": TemperatureType.TYMPANUM, "armpit": TemperatureType.ARMPIT}


class Thermometer(BleDevice):
    profile_id = "generic-ble-thermometer"
    kind = "thermometer"
    capacity = 30

    def _measure(self, t0: float, t1: float) -> list[StoredRecord]:
        out = []
        for reading in self.wearer.temperature.readings(t0, t1):
            when = whole_seconds(reading.time)
            record = TemperatureRecord(
                temperature=Decimal(f"{reading.celsius:.1f}"),
                unit=TemperatureUnit.CELSIUS,
                timestamp=self.clock.gatt(when),
                temperature_type=SITES.get(reading.site, TemperatureType.BODY),
            )
            data = encode_temperature(record)
            uuid = uuids.TEMPERATURE_MEASUREMENT
            out.append(StoredRecord(when, ((uuid, data),), readings_in(uuid, data)))
        return out
