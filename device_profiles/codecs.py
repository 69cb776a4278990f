"""Characteristic UUID -> codec: the one table the hub and the simulator look codecs up in.

:data:`CODECS` holds every characteristic this package can parse and encode, typed record in,
bytes out and back. The *measurement* characteristics (those whose values are patient
readings) also turn their records into :class:`~device_profiles.measurement.Measurement`;
:func:`decode_characteristic` serves exactly those. Status and control characteristics
(Battery Level, Date Time, RACP, features, glucose context, CGM session start) are parsed with
:func:`parse_characteristic` into their typed values.

UUIDs are normalised at this edge with :func:`device_profiles.uuids.normalize_uuid`, so
``"2A35"``, ``0x2A35`` and the 128-bit form all find the same codec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from device_profiles import (
    battery,
    blood_pressure,
    cgm,
    gatt_time,
    glucose,
    heart_rate,
    pulse_oximeter,
    racp,
    thermometer,
    uuids,
    weight,
)
from device_profiles.errors import DecodeError
from device_profiles.measurement import Measurement

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Codec(Generic[R]):
    """One characteristic: its parser, its encoder and, for readings, its measurement view."""

    uuid: int
    name: str
    parse: Callable[[bytes], R]
    encode: Callable[[R], bytes]
    measurements: Callable[[R, datetime | None], list[Measurement]] | None = None

    @property
    def is_measurement(self) -> bool:
        """Whether the characteristic carries patient readings."""
        return self.measurements is not None

    def decode(self, data: bytes, *, session_start: datetime | None = None) -> list[Measurement]:
        """The measurements in ``data``; ``session_start`` is used by CGM only."""
        return self.measurements_of(self.parse(data), session_start=session_start)

    def measurements_of(
        self, record: R, *, session_start: datetime | None = None
    ) -> list[Measurement]:
        """The measurements of a record :attr:`parse` already gave (not parsed twice)."""
        if self.measurements is None:
            raise DecodeError(
                f"{self.name} is not a measurement characteristic; use parse()", field="uuid"
            )
        return self.measurements(record, session_start)


def _ignoring_session(
    view: Callable[[R], list[Measurement]],
) -> Callable[[R, datetime | None], list[Measurement]]:
    def measurements(record: R, session_start: datetime | None) -> list[Measurement]:
        return view(record)

    return measurements


def _intermediate_temperature(record: thermometer.TemperatureRecord) -> list[Measurement]:
    return thermometer.temperature_measurements(record, intermediate=True)


def _cgm(data: bytes) -> tuple[cgm.CgmRecord, ...]:
    return cgm.parse_cgm_measurement(data)


_TABLE: tuple[Codec[Any], ...] = (
    Codec(
        uuids.GLUCOSE_MEASUREMENT,
        "Glucose Measurement",
        glucose.parse_glucose_measurement,
        glucose.encode_glucose_measurement,
        _ignoring_session(glucose.glucose_measurements),
    ),
    Codec(
        uuids.BLOOD_PRESSURE_MEASUREMENT,
        "Blood Pressure Measurement",
        blood_pressure.parse_blood_pressure,
        blood_pressure.encode_blood_pressure,
        _ignoring_session(blood_pressure.blood_pressure_measurements),
    ),
    Codec(
        uuids.INTERMEDIATE_CUFF_PRESSURE,
        "Intermediate Cuff Pressure",
        blood_pressure.parse_intermediate_cuff_pressure,
        blood_pressure.encode_intermediate_cuff_pressure,
        _ignoring_session(blood_pressure.cuff_pressure_measurements),
    ),
    Codec(
        uuids.HEART_RATE_MEASUREMENT,
        "Heart Rate Measurement",
        heart_rate.parse_heart_rate,
        heart_rate.encode_heart_rate,
        _ignoring_session(heart_rate.heart_rate_measurements),
    ),
    Codec(
        uuids.TEMPERATURE_MEASUREMENT,
        "Temperature Measurement",
        thermometer.parse_temperature,
        thermometer.encode_temperature,
        _ignoring_session(thermometer.temperature_measurements),
    ),
    Codec(
        uuids.INTERMEDIATE_TEMPERATURE,
        "Intermediate Temperature",
        thermometer.parse_temperature,
        thermometer.encode_temperature,
        _ignoring_session(_intermediate_temperature),
    ),
    Codec(
        uuids.PLX_SPOT_CHECK_MEASUREMENT,
        "PLX Spot-Check Measurement",
        pulse_oximeter.parse_spot_check,
        pulse_oximeter.encode_spot_check,
        _ignoring_session(pulse_oximeter.spot_check_measurements),
    ),
    Codec(
        uuids.PLX_CONTINUOUS_MEASUREMENT,
        "PLX Continuous Measurement",
        pulse_oximeter.parse_continuous,
        pulse_oximeter.encode_continuous,
        _ignoring_session(pulse_oximeter.continuous_measurements),
    ),
    Codec(
        uuids.WEIGHT_MEASUREMENT,
        "Weight Measurement",
        weight.parse_weight_measurement,
        weight.encode_weight_measurement,
        _ignoring_session(weight.weight_measurements),
    ),
    Codec(
        uuids.BODY_COMPOSITION_MEASUREMENT,
        "Body Composition Measurement",
        weight.parse_body_composition,
        weight.encode_body_composition,
        _ignoring_session(weight.body_composition_measurements),
    ),
    Codec(
        uuids.CGM_MEASUREMENT,
        "CGM Measurement",
        _cgm,
        cgm.encode_cgm_measurement,
        cgm.cgm_measurements,
    ),
    # Status and control characteristics: typed values, no measurements.
    Codec(
        uuids.GLUCOSE_MEASUREMENT_CONTEXT,
        "Glucose Measurement Context",
        glucose.parse_glucose_context,
        glucose.encode_glucose_context,
    ),
    Codec(
        uuids.WEIGHT_SCALE_FEATURE,
        "Weight Scale Feature",
        weight.parse_weight_scale_feature,
        weight.encode_weight_scale_feature,
    ),
    Codec(
        uuids.CGM_SESSION_START_TIME,
        "CGM Session Start Time",
        cgm.parse_cgm_session_start_time,
        cgm.encode_cgm_session_start_time,
    ),
    Codec(
        uuids.BATTERY_LEVEL,
        "Battery Level",
        battery.parse_battery_level,
        battery.encode_battery_level,
    ),
    Codec(
        uuids.DATE_TIME,
        "Date Time",
        gatt_time.decode_date_time,
        gatt_time.encode_date_time,
    ),
    Codec(
        uuids.CURRENT_TIME,
        "Current Time",
        gatt_time.decode_current_time,
        gatt_time.encode_current_time,
    ),
    Codec(
        uuids.RECORD_ACCESS_CONTROL_POINT,
        "Record Access Control Point",
        racp.parse_racp_response,  # what a collector receives; requests: racp.parse_racp_request
        racp.encode_racp_response,
    ),
)

#: Every codec by 16-bit characteristic UUID.
CODECS: dict[int, Codec[Any]] = {codec.uuid: codec for codec in _TABLE}
#: The codecs whose values are patient measurements.
MEASUREMENT_CODECS: dict[int, Codec[Any]] = {
    uuid: codec for uuid, codec in CODECS.items() if codec.is_measurement
}


def codec_for(uuid: str | int) -> Codec[Any]:
    """The codec of ``uuid``; :class:`DecodeError` for a UUID this package does not know."""
    number = uuids.normalize_uuid(uuid)
    codec = CODECS.get(number)
    if codec is None:
        raise DecodeError(f"no codec for characteristic {uuids.uuid_str(number)}", field="uuid")
    return codec


def decode_characteristic(
    uuid: str | int, data: bytes, *, session_start: datetime | None = None
) -> list[Measurement]:
    """The measurements in a characteristic value.

    Raises :class:`DecodeError` for an unknown UUID, for a characteristic that carries no
    measurements (use :func:`parse_characteristic`), and for any malformed value.
    ``session_start`` (the CGM session's device-local start) turns CGM time offsets into times.
    """
    return codec_for(uuid).decode(data, session_start=session_start)


def parse_characteristic(uuid: str | int, data: bytes) -> object:
    """The typed record (or status value) in a characteristic value."""
    return codec_for(uuid).parse(data)
