"""PLX Spot-Check Measurement (0x2A5E) and PLX Continuous Measurement (0x2A5F).

GATT Specification Supplement, characteristics "PLX Spot-Check Measurement" and "PLX
Continuous Measurement" (``org.bluetooth.characteristic.plx_spot_check_measurement``,
``...plx_continuous_measurement``).

Spot-check::

    flags u8      bit 0 Timestamp present, bit 1 Measurement Status present,
                  bit 2 Device and Sensor Status present, bit 3 Pulse Amplitude Index present,
                  bit 4 Device Clock is Not Set, bits 5-7 reserved
    SpO2 SFLOAT %, PR SFLOAT /min
    [timestamp Date Time, 7 bytes] [measurement status u16] [device and sensor status u24]
    [pulse amplitude index SFLOAT %]

Continuous::

    flags u8      bit 0 SpO2PR-Fast present, bit 1 SpO2PR-Slow present,
                  bit 2 Measurement Status present, bit 3 Device and Sensor Status present,
                  bit 4 Pulse Amplitude Index present, bits 5-7 reserved
    SpO2PR-Normal (SpO2, PR) [SpO2PR-Fast] [SpO2PR-Slow]   each two SFLOATs
    [measurement status u16] [device and sensor status u24] [pulse amplitude index SFLOAT]

Measurement Status: bits 0-4 reserved; 5 measurement ongoing, 6 early estimated data,
7 validated data, 8 fully qualified data, 9 data from measurement storage, 10 data for
demonstration, 11 data for testing, 12 calibration ongoing, 13 measurement unavailable,
14 questionable measurement detected, 15 invalid measurement detected.
Device and Sensor Status: bits 0-15 (below), 16-23 reserved.

Every status bit becomes an annotation on every measurement of the value. Continuous values
are annotated with their averaging (``"averaging:normal"``, ``"averaging:fast"``,
``"averaging:slow"``). A spot-check whose device clock is not set has no time (its raw
timestamp is kept in ``time_raw``) and the annotation ``"device-clock-not-set"``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from device_profiles._bytes import (
    Reader,
    Writer,
    bit_annotations,
    numeric_measurement,
    reject_reserved,
)
from device_profiles.errors import EncodeError
from device_profiles.gatt_time import NO_TIME, GattDateTime, MeasurementTime, measurement_time
from device_profiles.ieee11073 import Numeric
from device_profiles.measurement import Measurement


class PlxMeasurementStatus(enum.IntFlag):
    MEASUREMENT_ONGOING = 1 << 5
    EARLY_ESTIMATED_DATA = 1 << 6
    VALIDATED_DATA = 1 << 7
    FULLY_QUALIFIED_DATA = 1 << 8
    DATA_FROM_STORAGE = 1 << 9
    DATA_FOR_DEMONSTRATION = 1 << 10
    DATA_FOR_TESTING = 1 << 11
    CALIBRATION_ONGOING = 1 << 12
    MEASUREMENT_UNAVAILABLE = 1 << 13
    QUESTIONABLE_MEASUREMENT = 1 << 14
    INVALID_MEASUREMENT = 1 << 15


class PlxDeviceStatus(enum.IntFlag):
    EXTENDED_DISPLAY_UPDATE_ONGOING = 1 << 0
    EQUIPMENT_MALFUNCTION = 1 << 1
    SIGNAL_PROCESSING_IRREGULARITY = 1 << 2
    INADEQUATE_SIGNAL = 1 << 3
    POOR_SIGNAL = 1 << 4
    LOW_PERFUSION = 1 << 5
    ERRATIC_SIGNAL = 1 << 6
    NONPULSATILE_SIGNAL = 1 << 7
    QUESTIONABLE_PULSE = 1 << 8
    SIGNAL_ANALYSIS_ONGOING = 1 << 9
    SENSOR_INTERFERENCE = 1 << 10
    SENSOR_UNCONNECTED_TO_USER = 1 << 11
    UNKNOWN_SENSOR_CONNECTED = 1 << 12
    SENSOR_DISPLACED = 1 << 13
    SENSOR_MALFUNCTIONING = 1 << 14
    SENSOR_DISCONNECTED = 1 << 15


_MEASUREMENT_STATUS_DEFINED = 0xFFE0
_DEVICE_STATUS_DEFINED = 0x00FFFF
_MEASUREMENT_STATUS_NOTES: dict[int, str] = {
    PlxMeasurementStatus.MEASUREMENT_ONGOING: "measurement-ongoing",
    PlxMeasurementStatus.EARLY_ESTIMATED_DATA: "early-estimate",
    PlxMeasurementStatus.VALIDATED_DATA: "validated",
    PlxMeasurementStatus.FULLY_QUALIFIED_DATA: "fully-qualified",
    PlxMeasurementStatus.DATA_FROM_STORAGE: "from-storage",
    PlxMeasurementStatus.DATA_FOR_DEMONSTRATION: "demonstration-data",
    PlxMeasurementStatus.DATA_FOR_TESTING: "test-data",
    PlxMeasurementStatus.CALIBRATION_ONGOING: "calibration-ongoing",
    PlxMeasurementStatus.MEASUREMENT_UNAVAILABLE: "measurement-unavailable",
    PlxMeasurementStatus.QUESTIONABLE_MEASUREMENT: "questionable-measurement",
    PlxMeasurementStatus.INVALID_MEASUREMENT: "invalid-measurement",
}
_DEVICE_STATUS_NOTES: dict[int, str] = {
    PlxDeviceStatus.EXTENDED_DISPLAY_UPDATE_ONGOING: "extended-display-update",
    PlxDeviceStatus.EQUIPMENT_MALFUNCTION: "equipment-malfunction",
    PlxDeviceStatus.SIGNAL_PROCESSING_IRREGULARITY: "signal-processing-irregularity",
    PlxDeviceStatus.INADEQUATE_SIGNAL: "inadequate-signal",
    PlxDeviceStatus.POOR_SIGNAL: "poor-signal",
    PlxDeviceStatus.LOW_PERFUSION: "low-perfusion",
    PlxDeviceStatus.ERRATIC_SIGNAL: "erratic-signal",
    PlxDeviceStatus.NONPULSATILE_SIGNAL: "nonpulsatile-signal",
    PlxDeviceStatus.QUESTIONABLE_PULSE: "questionable-pulse",
    PlxDeviceStatus.SIGNAL_ANALYSIS_ONGOING: "signal-analysis-ongoing",
    PlxDeviceStatus.SENSOR_INTERFERENCE: "sensor-interference",
    PlxDeviceStatus.SENSOR_UNCONNECTED_TO_USER: "sensor-unconnected",
    PlxDeviceStatus.UNKNOWN_SENSOR_CONNECTED: "unknown-sensor",
    PlxDeviceStatus.SENSOR_DISPLACED: "sensor-displaced",
    PlxDeviceStatus.SENSOR_MALFUNCTIONING: "sensor-malfunction",
    PlxDeviceStatus.SENSOR_DISCONNECTED: "sensor-disconnected",
}


@dataclass(frozen=True, slots=True)
class SpO2PR:
    """One SpO2 (%) and pulse rate (/min) pair."""

    spo2: Numeric
    pulse_rate: Numeric


@dataclass(frozen=True, slots=True)
class _Status:
    measurement_status: PlxMeasurementStatus | None
    device_status: PlxDeviceStatus | None
    pulse_amplitude_index: Numeric | None


def _read_status(reader: Reader, measurement: bool, device: bool, pai: bool) -> _Status:
    measurement_status = device_status = None
    if measurement:
        raw = reader.u16("measurement_status")
        reject_reserved(raw, _MEASUREMENT_STATUS_DEFINED, "measurement_status")
        measurement_status = PlxMeasurementStatus(raw)
    if device:
        raw = reader.u24("device_and_sensor_status")
        reject_reserved(raw, _DEVICE_STATUS_DEFINED, "device_and_sensor_status")
        device_status = PlxDeviceStatus(raw)
    index = reader.sfloat("pulse_amplitude_index") if pai else None
    return _Status(measurement_status, device_status, index)


def _write_status(
    out: Writer,
    measurement_status: PlxMeasurementStatus | None,
    device_status: PlxDeviceStatus | None,
    pai: Numeric | None,
) -> None:
    if measurement_status is not None:
        if int(measurement_status) & ~_MEASUREMENT_STATUS_DEFINED:
            raise EncodeError("reserved bits", field="measurement_status")
        out.u16(int(measurement_status), "measurement_status")
    if device_status is not None:
        if int(device_status) & ~_DEVICE_STATUS_DEFINED:
            raise EncodeError("reserved bits", field="device_and_sensor_status")
        out.u24(int(device_status), "device_and_sensor_status")
    if pai is not None:
        out.sfloat(pai, "pulse_amplitude_index")


def _status_notes(
    measurement_status: PlxMeasurementStatus | None, device_status: PlxDeviceStatus | None
) -> list[str]:
    notes: list[str] = []
    if measurement_status is not None:
        notes += bit_annotations(int(measurement_status), _MEASUREMENT_STATUS_NOTES)
    if device_status is not None:
        notes += bit_annotations(int(device_status), _DEVICE_STATUS_NOTES)
    return notes


def _pair_measurements(pair: SpO2PR, when: MeasurementTime, notes: list[str]) -> list[Measurement]:
    return [
        numeric_measurement("spo2", pair.spo2, "%", when, annotations=notes),
        numeric_measurement("pulse_rate", pair.pulse_rate, "/min", when, annotations=notes),
    ]


# --------------------------------------------------------------------- Spot-check (0x2A5E)

_SC_TIMESTAMP = 0x01
_SC_MEASUREMENT_STATUS = 0x02
_SC_DEVICE_STATUS = 0x04
_SC_PAI = 0x08
_SC_CLOCK_NOT_SET = 0x10
_SC_DEFINED = 0x1F


@dataclass(frozen=True, slots=True)
class SpotCheckRecord:
    """One PLX Spot-Check Measurement, field for field."""

    reading: SpO2PR
    timestamp: GattDateTime | None = None
    measurement_status: PlxMeasurementStatus | None = None
    device_status: PlxDeviceStatus | None = None
    pulse_amplitude_index: Numeric | None = None
    device_clock_not_set: bool = False


def parse_spot_check(data: bytes) -> SpotCheckRecord:
    """Decode a PLX Spot-Check Measurement (0x2A5E) value into its typed record."""
    reader = Reader(data)
    flags = reader.u8("flags")
    reject_reserved(flags, _SC_DEFINED, "flags")
    reading = SpO2PR(reader.sfloat("spo2"), reader.sfloat("pulse_rate"))
    timestamp = reader.date_time("timestamp") if flags & _SC_TIMESTAMP else None
    status = _read_status(
        reader,
        bool(flags & _SC_MEASUREMENT_STATUS),
        bool(flags & _SC_DEVICE_STATUS),
        bool(flags & _SC_PAI),
    )
    reader.finish()
    return SpotCheckRecord(
        reading,
        timestamp,
        status.measurement_status,
        status.device_status,
        status.pulse_amplitude_index,
        bool(flags & _SC_CLOCK_NOT_SET),
    )


def encode_spot_check(record: SpotCheckRecord) -> bytes:
    """The exact inverse of :func:`parse_spot_check`."""
    flags = (
        (_SC_TIMESTAMP if record.timestamp is not None else 0)
        | (_SC_MEASUREMENT_STATUS if record.measurement_status is not None else 0)
        | (_SC_DEVICE_STATUS if record.device_status is not None else 0)
        | (_SC_PAI if record.pulse_amplitude_index is not None else 0)
        | (_SC_CLOCK_NOT_SET if record.device_clock_not_set else 0)
    )
    out = Writer().u8(flags, "flags")
    out.sfloat(record.reading.spo2, "spo2").sfloat(record.reading.pulse_rate, "pulse_rate")
    if record.timestamp is not None:
        out.date_time(record.timestamp)
    _write_status(
        out, record.measurement_status, record.device_status, record.pulse_amplitude_index
    )
    return out.getvalue()


def spot_check_measurements(record: SpotCheckRecord) -> list[Measurement]:
    """spo2 and pulse_rate, plus pulse_amplitude_index when present."""
    notes = _status_notes(record.measurement_status, record.device_status)
    when = measurement_time(record.timestamp)
    if record.device_clock_not_set:
        notes.append("device-clock-not-set")
        raw = record.timestamp.iso() if record.timestamp is not None else None
        when = MeasurementTime(None, raw, ("time-unknown",) if raw else ())
    out = _pair_measurements(record.reading, when, notes)
    if record.pulse_amplitude_index is not None:
        out.append(
            numeric_measurement(
                "pulse_amplitude_index", record.pulse_amplitude_index, "%", when, annotations=notes
            )
        )
    return out


def decode_spot_check(data: bytes) -> list[Measurement]:
    """Decode a PLX Spot-Check Measurement (0x2A5E) value into measurements."""
    return spot_check_measurements(parse_spot_check(data))


# --------------------------------------------------------------------- Continuous (0x2A5F)

_CM_FAST = 0x01
_CM_SLOW = 0x02
_CM_MEASUREMENT_STATUS = 0x04
_CM_DEVICE_STATUS = 0x08
_CM_PAI = 0x10
_CM_DEFINED = 0x1F


@dataclass(frozen=True, slots=True)
class ContinuousRecord:
    """One PLX Continuous Measurement, field for field."""

    normal: SpO2PR
    fast: SpO2PR | None = None
    slow: SpO2PR | None = None
    measurement_status: PlxMeasurementStatus | None = None
    device_status: PlxDeviceStatus | None = None
    pulse_amplitude_index: Numeric | None = None


def parse_continuous(data: bytes) -> ContinuousRecord:
    """Decode a PLX Continuous Measurement (0x2A5F) value into its typed record."""
    reader = Reader(data)
    flags = reader.u8("flags")
    reject_reserved(flags, _CM_DEFINED, "flags")
    normal = SpO2PR(reader.sfloat("spo2_normal"), reader.sfloat("pulse_rate_normal"))
    fast = slow = None
    if flags & _CM_FAST:
        fast = SpO2PR(reader.sfloat("spo2_fast"), reader.sfloat("pulse_rate_fast"))
    if flags & _CM_SLOW:
        slow = SpO2PR(reader.sfloat("spo2_slow"), reader.sfloat("pulse_rate_slow"))
    status = _read_status(
        reader,
        bool(flags & _CM_MEASUREMENT_STATUS),
        bool(flags & _CM_DEVICE_STATUS),
        bool(flags & _CM_PAI),
    )
    reader.finish()
    return ContinuousRecord(
        normal,
        fast,
        slow,
        status.measurement_status,
        status.device_status,
        status.pulse_amplitude_index,
    )


def encode_continuous(record: ContinuousRecord) -> bytes:
    """The exact inverse of :func:`parse_continuous`."""
    flags = (
        (_CM_FAST if record.fast is not None else 0)
        | (_CM_SLOW if record.slow is not None else 0)
        | (_CM_MEASUREMENT_STATUS if record.measurement_status is not None else 0)
        | (_CM_DEVICE_STATUS if record.device_status is not None else 0)
        | (_CM_PAI if record.pulse_amplitude_index is not None else 0)
    )
    out = Writer().u8(flags, "flags")
    for name, pair in (("normal", record.normal), ("fast", record.fast), ("slow", record.slow)):
        if pair is not None:
            out.sfloat(pair.spo2, f"spo2_{name}").sfloat(pair.pulse_rate, f"pulse_rate_{name}")
    _write_status(
        out, record.measurement_status, record.device_status, record.pulse_amplitude_index
    )
    return out.getvalue()


def continuous_measurements(record: ContinuousRecord) -> list[Measurement]:
    """spo2 and pulse_rate per averaging (normal, fast, slow), plus pulse_amplitude_index."""
    notes = _status_notes(record.measurement_status, record.device_status)
    out: list[Measurement] = []
    for name, pair in (("normal", record.normal), ("fast", record.fast), ("slow", record.slow)):
        if pair is not None:
            out += _pair_measurements(pair, NO_TIME, [f"averaging:{name}", *notes])
    if record.pulse_amplitude_index is not None:
        out.append(
            numeric_measurement(
                "pulse_amplitude_index", record.pulse_amplitude_index, "%", annotations=notes
            )
        )
    return out


def decode_continuous(data: bytes) -> list[Measurement]:
    """Decode a PLX Continuous Measurement (0x2A5F) value into measurements."""
    return continuous_measurements(parse_continuous(data))
