"""The Current Time Service (0x1805) of a simulated device, on the device's own clock.

Current Time (0x2A2B; GATT Specification Supplement "Current Time", Current Time Service
1.1 §3.1) reads the device clock — which may be wrong: the error and drift of its
``DeviceClock`` — to 1/256 s, with the day of week and the reason of its last adjustment.
Date Time (0x2A08; "Date Time") reads the same clock to the second. Writing either sets the
clock, fractions included, and records why: the Adjust Reason written with a Current Time, a
manual time update for a Date Time. A device whose clock cannot be set accepts the write and
keeps its time, as the firmware of such devices does. A value that is not a possible time is
refused with the service's error "Data field ignored" (0x80); a value of the wrong length with
"Invalid Attribute Value Length" (0x0D).
"""

from __future__ import annotations

from device_profiles.errors import DecodeError
from device_profiles.gatt_time import (
    CURRENT_TIME_SIZE,
    DATE_TIME_SIZE,
    NOT_ADJUSTED,
    AdjustReason,
    decode_current_time,
    decode_date_time,
    encode_date_time,
)
from gateway_firmware_sim.bluez.errors import AttError, AttFailure
from gateway_firmware_sim.devices.base import BleDevice


class ClockService:
    """The Current Time Service state of one device: the reason of its last adjustment."""

    def __init__(self, device: BleDevice) -> None:
        self._device = device
        self.adjust_reason = NOT_ADJUSTED

    def current_time(self, now: float) -> bytes:
        return self._device.current_time(now, self.adjust_reason)

    def date_time(self, now: float) -> bytes:
        return encode_date_time(self._device.clock.gatt(now))

    def write_current_time(self, data: bytes, now: float) -> None:
        _check_length(data, CURRENT_TIME_SIZE)
        try:
            value = decode_current_time(data)
        except DecodeError as err:
            raise AttFailure(AttError.DATA_FIELD_IGNORED, str(err)) from err
        shown = value.to_datetime()
        if shown is None:
            raise AttFailure(AttError.DATA_FIELD_IGNORED, "the date is not known")
        if self._device.set_clock_to(shown, now):
            self.adjust_reason = value.adjust_reason

    def write_date_time(self, data: bytes, now: float) -> None:
        _check_length(data, DATE_TIME_SIZE)
        try:
            shown = decode_date_time(data).to_datetime()
        except DecodeError as err:
            raise AttFailure(AttError.DATA_FIELD_IGNORED, str(err)) from err
        if shown is None:
            raise AttFailure(AttError.DATA_FIELD_IGNORED, "the date is not known")
        if self._device.set_clock_to(shown, now):
            self.adjust_reason = AdjustReason.MANUAL_TIME_UPDATE


def _check_length(data: bytes, size: int) -> None:
    if len(data) != size:
        raise AttFailure(
            AttError.INVALID_ATTRIBUTE_VALUE_LENGTH, f"{len(data)} bytes, expected {size}"
        )
