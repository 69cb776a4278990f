"""The GATT database of each simulated device kind: services, characteristics, descriptors,
their properties and attribute handles (Core Vol 3 Part G §3; services as the Bluetooth SIG
service specifications define them).

Every device has the Device Information Service (0x180A: manufacturer, model, serial number,
firmware revision strings) and the Battery Service (0x180F: Battery Level, read). A device
with a clock (all but the heart-rate strap) has the Current Time Service (0x1805) with Current
Time (0x2A2B, read/write/notify) and also Date Time (0x2A08, read/write), which the gateway
firmware writes to set clocks (its place in this service is the simulator's choice: the SIG
assigns the characteristic but no service to it). Then the service it measures with:

======================  =========================================================================
kind                    service and characteristics
======================  =========================================================================
``glucose-meter``       Glucose 0x1808: 2A18 notify, 2A34 notify, RACP 2A52 write/indicate
``cgm``                 CGM 0x181F: 2AA7 notify (pushed), 2AAA read, RACP 2A52 write/indicate
``bp-cuff``             Blood Pressure 0x1810: 2A35 indicate (pushed), 2A36 notify
``scale``               Weight Scale 0x181D: 2A9E read, 2A9D indicate (pushed)
``thermometer``         Health Thermometer 0x1809: 2A1C indicate (pushed)
``oximeter``            Pulse Oximeter 0x1822: 2A5E indicate (pushed), 2A5F notify (pushed)
``hr-strap``            Heart Rate 0x180D: 2A37 notify (pushed)
======================  =========================================================================

Rules: a characteristic with "notify" or "indicate" has a Client Characteristic Configuration
descriptor (0x2902) right after its value. A *pushed* characteristic is one the device sends
by itself: the device starts sending once the collector has enabled every pushed
characteristic of it (as a cuff sends its stored readings once its CCCD is written). A
*control point* (the RACP) starts a procedure answered by an indication on itself: writing it
needs that indication enabled and is refused while a procedure runs, except its abort opcode.
Mandatory feature characteristics the device models do not implement (Glucose Feature, CGM
Feature/Status/SOCP, Blood Pressure Feature, PLX Features) are absent. Handles start at
0x0010: bluetoothd keeps the GAP and GATT services below for itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from device_profiles import uuids
from gateway_firmware_sim.devices.base import CLOCKLESS_KINDS

DEVICE_INFORMATION_SERVICE = 0x180A
CURRENT_TIME_SERVICE = 0x1805
MANUFACTURER_NAME = 0x2A29
MODEL_NUMBER = 0x2A24
SERIAL_NUMBER = 0x2A25
FIRMWARE_REVISION = 0x2A26
CURRENT_TIME = 0x2A2B
CLIENT_CHARACTERISTIC_CONFIGURATION = 0x2902
FIRST_HANDLE = 0x0010
_RACP_ABORT_OPERATION = 0x03  # Record Access Control Point op code "Abort Operation"


class Flag(enum.StrEnum):
    """Characteristic properties, in the order BlueZ lists them (``chrc_props``)."""

    READ = "read"
    WRITE_WITHOUT_RESPONSE = "write-without-response"
    WRITE = "write"
    NOTIFY = "notify"
    INDICATE = "indicate"


@dataclass(frozen=True, slots=True)
class ControlPoint:
    abort_opcode: int


@dataclass(frozen=True, slots=True)
class CharacteristicSpec:
    uuid: int
    flags: frozenset[Flag]
    pushed: bool = False
    control_point: ControlPoint | None = None

    @property
    def subscribable(self) -> bool:
        return bool(self.flags & {Flag.NOTIFY, Flag.INDICATE})

    @property
    def flag_names(self) -> list[str]:
        return [flag.value for flag in Flag if flag in self.flags]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    uuid: int
    characteristics: tuple[CharacteristicSpec, ...]


def _char(
    uuid: int, *flags: Flag, pushed: bool = False, control_point: ControlPoint | None = None
) -> CharacteristicSpec:
    return CharacteristicSpec(uuid, frozenset(flags), pushed, control_point)


_R, _W, _N, _I = Flag.READ, Flag.WRITE, Flag.NOTIFY, Flag.INDICATE
_RACP = _char(
    uuids.RECORD_ACCESS_CONTROL_POINT, _W, _I, control_point=ControlPoint(_RACP_ABORT_OPERATION)
)

DEVICE_INFORMATION = ServiceSpec(
    DEVICE_INFORMATION_SERVICE,
    tuple(
        _char(u, _R) for u in (MANUFACTURER_NAME, MODEL_NUMBER, SERIAL_NUMBER, FIRMWARE_REVISION)
    ),
)
BATTERY = ServiceSpec(uuids.BATTERY_SERVICE, (_char(uuids.BATTERY_LEVEL, _R),))
CURRENT_TIME_SERVICE_SPEC = ServiceSpec(
    CURRENT_TIME_SERVICE, (_char(CURRENT_TIME, _R, _W, _N), _char(uuids.DATE_TIME, _R, _W))
)

MEASUREMENT_SERVICES: dict[str, ServiceSpec] = {
    "glucose-meter": ServiceSpec(
        uuids.GLUCOSE_SERVICE,
        (_char(uuids.GLUCOSE_MEASUREMENT, _N), _char(uuids.GLUCOSE_MEASUREMENT_CONTEXT, _N), _RACP),
    ),
    "cgm": ServiceSpec(
        uuids.CONTINUOUS_GLUCOSE_MONITORING_SERVICE,
        (
            _char(uuids.CGM_MEASUREMENT, _N, pushed=True),
            _char(uuids.CGM_SESSION_START_TIME, _R),
            _RACP,
        ),
    ),
    "bp-cuff": ServiceSpec(
        uuids.BLOOD_PRESSURE_SERVICE,
        (
            _char(uuids.BLOOD_PRESSURE_MEASUREMENT, _I, pushed=True),
            _char(uuids.INTERMEDIATE_CUFF_PRESSURE, _N),
        ),
    ),
    "scale": ServiceSpec(
        uuids.WEIGHT_SCALE_SERVICE,
        (
            _char(uuids.WEIGHT_SCALE_FEATURE, _R),
            _char(uuids.WEIGHT_MEASUREMENT, _I, pushed=True),
        ),
    ),
    "thermometer": ServiceSpec(
        uuids.HEALTH_THERMOMETER_SERVICE, (_char(uuids.TEMPERATURE_MEASUREMENT, _I, pushed=True),)
    ),
    "oximeter": ServiceSpec(
        uuids.PULSE_OXIMETER_SERVICE,
        (
            _char(uuids.PLX_SPOT_CHECK_MEASUREMENT, _I, pushed=True),
            _char(uuids.PLX_CONTINUOUS_MEASUREMENT, _N, pushed=True),
        ),
    ),
    "hr-strap": ServiceSpec(
        uuids.HEART_RATE_SERVICE, (_char(uuids.HEART_RATE_MEASUREMENT, _N, pushed=True),)
    ),
}


@dataclass(frozen=True, slots=True)
class CharacteristicEntry:
    spec: CharacteristicSpec
    handle: int  # the characteristic declaration
    value_handle: int
    cccd_handle: int | None


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    uuid: int
    handle: int
    characteristics: tuple[CharacteristicEntry, ...]


@dataclass(frozen=True, slots=True)
class GattDatabase:
    services: tuple[ServiceEntry, ...]
    measurement_service: int

    def characteristic(self, uuid: int) -> CharacteristicEntry | None:
        for service in self.services:
            for entry in service.characteristics:
                if entry.spec.uuid == uuid:
                    return entry
        return None

    @property
    def characteristics(self) -> tuple[CharacteristicEntry, ...]:
        return tuple(entry for service in self.services for entry in service.characteristics)

    @property
    def pushed(self) -> frozenset[int]:
        return frozenset(e.spec.uuid for e in self.characteristics if e.spec.pushed)


def lay_out(services: tuple[ServiceSpec, ...], measurement_service: int) -> GattDatabase:
    """Allocate handles: service declaration, then per characteristic its declaration, value
    and (if notify/indicate) CCCD, in order."""
    handle = FIRST_HANDLE
    entries = []
    for service in services:
        service_handle = handle
        handle += 1
        characteristics = []
        for spec in service.characteristics:
            cccd = handle + 2 if spec.subscribable else None
            characteristics.append(CharacteristicEntry(spec, handle, handle + 1, cccd))
            handle += 3 if spec.subscribable else 2
        entries.append(ServiceEntry(service.uuid, service_handle, tuple(characteristics)))
    if handle > 0xFFFF:
        raise ValueError("the GATT database does not fit 16-bit handles")
    return GattDatabase(tuple(entries), measurement_service)


def database_for(kind: str) -> GattDatabase:
    """The GATT database of a device of ``kind`` (``BleDevice.kind``)."""
    try:
        measurement = MEASUREMENT_SERVICES[kind]
    except KeyError:
        raise ValueError(f"no GATT database for device kind {kind!r}") from None
    clock = () if kind in CLOCKLESS_KINDS else (CURRENT_TIME_SERVICE_SPEC,)
    return lay_out((DEVICE_INFORMATION, BATTERY, *clock, measurement), measurement.uuid)


def has_clock(kind: str) -> bool:
    return kind not in CLOCKLESS_KINDS
