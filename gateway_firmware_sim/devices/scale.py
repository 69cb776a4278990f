"""A bathroom scale with the Weight Scale Service (store and forward).

Each weighing becomes one Weight Measurement (0x2A9D) indication: the weight (resolution
0.005 kg; the scale shows 0.1 kg), the scale's time stamp, user 1, BMI and height. The
gateway reads the Weight Scale Feature (0x2A9E) when it pairs. The scale keeps 30 weighings.
"""

from __future__ import annotations

from decimal import Decimal

from device_profiles import uuids
from device_profiles.weight import (
    HEIGHT_RESOLUTIONS,
    WEIGHT_RESOLUTIONS,
    MeasurementSystem,
    WeightRecord,
    WeightScaleFeature,
    encode_weight_measurement,
    encode_weight_scale_feature,
)
from gateway_firmware_sim.devices.base import BleDevice, StoredRecord, readings_in, whole_seconds

FEATURE = WeightScaleFeature(
    timestamp_supported=True,
    multiple_users_supported=True,
    bmi_supported=True,
    weight_resolution=WEIGHT_RESOLUTIONS[3],  # 0.1 kg
    height_resolution=HEIGHT_RESOLUTIONS[3],  # 0.001 m
)


class WeightScale(BleDevice):
    profile_id = "generic-ble-weight-scale"
    kind = "scale"
    capacity = 30
    read_on_pairing = (uuids.WEIGHT_SCALE_FEATURE,)

    def read(self, uuid: int, now: float) -> bytes:
        if uuid == uuids.WEIGHT_SCALE_FEATURE:
            return encode_weight_scale_feature(FEATURE)
        return super().read(uuid, now)

    def _measure(self, t0: float, t1: float) -> list[StoredRecord]:
        model = self.wearer.weight
        out = []
        for reading in model.readings(t0, t1):
            when = whole_seconds(reading.time)
            record = WeightRecord(
                weight=Decimal(f"{reading.kg:.1f}"),
                system=MeasurementSystem.SI,
                timestamp=self.clock.gatt(when),
                user_id=1,
                bmi=Decimal(f"{model.bmi(reading.kg):.1f}"),
                height=Decimal(f"{model.height_m:.3f}"),
            )
            data = encode_weight_measurement(record)
            uuid = uuids.WEIGHT_MEASUREMENT
            out.append(StoredRecord(when, ((uuid, data),), readings_in(uuid, data)))
        return out
