"""Bluetooth SIG assigned numbers used by the health profiles (Assigned Numbers §3.8, §3.4).

16-bit UUIDs; :func:`normalize_uuid` accepts ``"2A35"``, ``"0x2a35"``, ``0x2A35`` or the full
128-bit form ``"00002a35-0000-1000-8000-00805f9b34fb"`` (the SIG base UUID).
"""

from __future__ import annotations

from device_profiles.errors import DecodeError

# Services
GLUCOSE_SERVICE = 0x1808
HEALTH_THERMOMETER_SERVICE = 0x1809
HEART_RATE_SERVICE = 0x180D
BATTERY_SERVICE = 0x180F
BLOOD_PRESSURE_SERVICE = 0x1810
BODY_COMPOSITION_SERVICE = 0x181B
WEIGHT_SCALE_SERVICE = 0x181D
CONTINUOUS_GLUCOSE_MONITORING_SERVICE = 0x181F
PULSE_OXIMETER_SERVICE = 0x1822

# Characteristics
DATE_TIME = 0x2A08
CURRENT_TIME = 0x2A2B
BATTERY_LEVEL = 0x2A19
TEMPERATURE_MEASUREMENT = 0x2A1C
INTERMEDIATE_TEMPERATURE = 0x2A1E
GLUCOSE_MEASUREMENT = 0x2A18
GLUCOSE_MEASUREMENT_CONTEXT = 0x2A34
BLOOD_PRESSURE_MEASUREMENT = 0x2A35
INTERMEDIATE_CUFF_PRESSURE = 0x2A36
HEART_RATE_MEASUREMENT = 0x2A37
RECORD_ACCESS_CONTROL_POINT = 0x2A52
PLX_SPOT_CHECK_MEASUREMENT = 0x2A5E
PLX_CONTINUOUS_MEASUREMENT = 0x2A5F
BODY_COMPOSITION_MEASUREMENT = 0x2A9C
WEIGHT_MEASUREMENT = 0x2A9D
WEIGHT_SCALE_FEATURE = 0x2A9E
CGM_MEASUREMENT = 0x2AA7
CGM_SESSION_START_TIME = 0x2AAA

SERVICES: dict[int, str] = {
    GLUCOSE_SERVICE: "Glucose",
    HEALTH_THERMOMETER_SERVICE: "Health Thermometer",
    HEART_RATE_SERVICE: "Heart Rate",
    BATTERY_SERVICE: "Battery",
    BLOOD_PRESSURE_SERVICE: "Blood Pressure",
    BODY_COMPOSITION_SERVICE: "Body Composition",
    WEIGHT_SCALE_SERVICE: "Weight Scale",
    CONTINUOUS_GLUCOSE_MONITORING_SERVICE: "Continuous Glucose Monitoring",
    PULSE_OXIMETER_SERVICE: "Pulse Oximeter",
}

CHARACTERISTICS: dict[int, str] = {
    DATE_TIME: "Date Time",
    CURRENT_TIME: "Current Time",
    BATTERY_LEVEL: "Battery Level",
    TEMPERATURE_MEASUREMENT: "Temperature Measurement",
    INTERMEDIATE_TEMPERATURE: "Intermediate Temperature",
    GLUCOSE_MEASUREMENT: "Glucose Measurement",
    GLUCOSE_MEASUREMENT_CONTEXT: "Glucose Measurement Context",
    BLOOD_PRESSURE_MEASUREMENT: "Blood Pressure Measurement",
    INTERMEDIATE_CUFF_PRESSURE: "Intermediate Cuff Pressure",
    HEART_RATE_MEASUREMENT: "Heart Rate Measurement",
    RECORD_ACCESS_CONTROL_POINT: "Record Access Control Point",
    PLX_SPOT_CHECK_MEASUREMENT: "PLX Spot-Check Measurement",
    PLX_CONTINUOUS_MEASUREMENT: "PLX Continuous Measurement",
    BODY_COMPOSITION_MEASUREMENT: "Body Composition Measurement",
    WEIGHT_MEASUREMENT: "Weight Measurement",
    WEIGHT_SCALE_FEATURE: "Weight Scale Feature",
    CGM_MEASUREMENT: "CGM Measurement",
    CGM_SESSION_START_TIME: "CGM Session Start Time",
}

_BASE_SUFFIX = "-0000-1000-8000-00805f9b34fb"


def normalize_uuid(uuid: str | int) -> int:
    """The 16-bit assigned number of ``uuid``; :class:`DecodeError` if it is not one."""
    if isinstance(uuid, int):
        number = uuid
    else:
        text = uuid.strip().lower()
        if len(text) == 36:
            if not (text.startswith("0000") and text.endswith(_BASE_SUFFIX)):
                raise DecodeError(f"{uuid!r} is not a Bluetooth SIG base UUID", field="uuid")
            text = text[4:8]
        text = text.removeprefix("0x")
        if not 1 <= len(text) <= 4 or any(c not in "0123456789abcdef" for c in text):
            raise DecodeError(f"{uuid!r} is not a 16-bit UUID", field="uuid")
        number = int(text, 16)
    if not 0 <= number <= 0xFFFF:
        raise DecodeError(f"{uuid!r} is out of the 16-bit range", field="uuid")
    return number


def uuid_str(number: int) -> str:
    """The canonical text form ``"2A35"`` used in the wire contract and catalog files."""
    return f"{number:04X}"
