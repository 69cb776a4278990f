"""A simulated BLE peripheral: one ``devices`` model behind a GATT server and a radio.

The device model (``BleDevice``) knows measurements, records and its clock; this module adds
what a real peripheral adds around them: the GATT database of its kind
(:mod:`~gateway_firmware_sim.bluez.gatt_database`), the Device Information, Battery and
Current Time services, the GATT server's answers (values, ATT errors), its advertising (name,
service UUIDs, TX power, a received signal strength with seeded noise) and its fault
switches.

Rules:

* Time is data: every operation takes ``now``, simulated UTC epoch seconds from the bus
  service's injected clock, and first lets the device measure up to it.
* Synchronous and not thread-safe: the bus service runs every call of every peripheral on one
  worker thread, one at a time (device models may be slow and share a wearer), so the event
  loop never runs device code.
* A refusal is an :class:`AttFailure` with the code a real server sends; anything the device
  model raises besides (a ``KeyError`` for a characteristic it does not implement) is
  translated here.
* A stored record indicated to a collector whose link dropped before the confirmation is kept
  and indicated again first on the next connection (:meth:`keep_unconfirmed`); notifications
  are fire-and-forget.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from device_profiles import uuids
from device_profiles.battery import BatteryLevel, encode_battery_level
from gateway_firmware_sim.bluez import gatt_database as db
from gateway_firmware_sim.bluez.bt_uuid import uuid128
from gateway_firmware_sim.bluez.clock_service import ClockService
from gateway_firmware_sim.bluez.errors import AttError, AttFailure
from gateway_firmware_sim.bluez.faults import Faults
from gateway_firmware_sim.bluez.paths import parse_address
from gateway_firmware_sim.devices.base import BleDevice, Notification

ATT_MAX_VALUE = 512  # Core Vol 3 Part F §3.2.9: the longest attribute value
_NAME_MAX = 29  # bytes of a Complete Local Name in a scan response (31 - length - type)


@dataclass(frozen=True, slots=True)
class Radio:
    """What a scanner hears from the device, and the connection's ATT MTU."""

    name: str
    rssi_dbm: int = -62
    rssi_spread_db: int = 3
    tx_power_dbm: int = 0
    att_mtu: int = 247
    advertising_interval_s: float = 0.1  # real seconds between two advertisements

    def __post_init__(self) -> None:
        if not 0 < len(self.name.encode()) <= _NAME_MAX:
            raise ValueError(f"local name {self.name!r} must be 1..{_NAME_MAX} UTF-8 bytes")
        low, high = self.rssi_dbm - self.rssi_spread_db, self.rssi_dbm + self.rssi_spread_db
        if not -127 <= low <= high <= 20:
            raise ValueError("RSSI must stay within -127..20 dBm")
        if not -127 <= self.tx_power_dbm <= 20:
            raise ValueError("TX power must be within -127..20 dBm")
        if not 23 <= self.att_mtu <= 517:
            raise ValueError("ATT MTU must be within 23..517")
        if not self.advertising_interval_s > 0:
            raise ValueError("the advertising interval must be positive")


@dataclass(frozen=True, slots=True)
class DeviceInformation:
    """Device Information Service (0x180A) strings."""

    manufacturer: str = "Simulated Health Devices"
    model: str = ""
    serial: str = ""
    firmware: str = "sim-1"


class Peripheral:
    """One simulated peripheral. ``address`` is the device model's, canonical."""

    def __init__(
        self,
        device: BleDevice,
        *,
        radio: Radio | None = None,
        info: DeviceInformation | None = None,
        address_type: str | None = None,
        battery_percent: int = 100,
        seed: int = 0,
    ) -> None:
        self.device = device
        self.address = parse_address(device.address)
        self.radio = radio or Radio(device.device_id)
        self.info = info or DeviceInformation(model=device.profile_id, serial=device.device_id)
        self.address_type = address_type or _address_type(self.address)
        if self.address_type not in ("public", "random"):
            raise ValueError(f"address type {self.address_type!r} is not public or random")
        self.gatt = db.database_for(device.kind)
        self.faults = Faults()
        self.battery_percent = battery_percent
        self._clock = ClockService(device) if db.has_clock(device.kind) else None
        self._noise = random.Random(f"{seed}:{self.address}")
        self._unconfirmed: list[Notification] = []
        self._readers = self._reader_table()
        self._writers = self._writer_table()

    @property
    def battery_percent(self) -> int:
        return self._battery.percent

    @battery_percent.setter
    def battery_percent(self, percent: int) -> None:
        if not 0 <= percent <= 100:
            raise ValueError(f"battery level {percent} is outside 0..100")
        self._battery = BatteryLevel(percent)

    # --- radio ----------------------------------------------------------------------------

    @property
    def advertised_uuids(self) -> list[str]:
        return [uuid128(self.gatt.measurement_service)]

    @property
    def service_uuids(self) -> list[str]:
        return [uuid128(service.uuid) for service in self.gatt.services]

    def sample_rssi(self) -> int:
        spread = self.radio.rssi_spread_db
        return self.radio.rssi_dbm + self._noise.randint(-spread, spread)

    # --- GATT server ----------------------------------------------------------------------

    def read(self, uuid: int, now: float) -> bytes:
        entry = self._entry(uuid)
        if db.Flag.READ not in entry.spec.flags:
            raise AttFailure(AttError.READ_NOT_PERMITTED)
        self.device.advance(now)
        reader = self._readers.get(uuid)
        if reader is not None:
            return reader(now)
        try:
            return self.device.read(uuid, now)
        except KeyError as err:
            raise AttFailure(AttError.READ_NOT_PERMITTED, str(err)) from err

    def write(self, uuid: int, data: bytes, now: float) -> list[Notification]:
        """A write request; the notifications and indications it causes, in order."""
        entry = self._entry(uuid)
        if not entry.spec.flags & {db.Flag.WRITE, db.Flag.WRITE_WITHOUT_RESPONSE}:
            raise AttFailure(AttError.WRITE_NOT_PERMITTED)
        if len(data) > ATT_MAX_VALUE:
            raise AttFailure(AttError.INVALID_ATTRIBUTE_VALUE_LENGTH, f"{len(data)} bytes")
        self.device.advance(now)
        writer = self._writers.get(uuid)
        if writer is not None:
            writer(data, now)
            return []
        try:
            return self.device.write(uuid, data, now)
        except KeyError as err:
            raise AttFailure(AttError.WRITE_NOT_PERMITTED, str(err)) from err

    def drain(self, listening_from: float, now: float) -> list[Notification]:
        """What the device sends by itself to a collector listening since ``listening_from``:
        first the indications a dropped link left unconfirmed."""
        self.device.advance(now)
        out, self._unconfirmed = self._unconfirmed, []
        return out + self.device.drain(listening_from, now)

    def keep_unconfirmed(self, notes: list[Notification]) -> None:
        """The link dropped with ``notes`` (from :meth:`drain`) undelivered: keep the
        indications, in order, for the next connection."""
        indicated = {
            e.spec.uuid for e in self.gatt.characteristics if db.Flag.INDICATE in e.spec.flags
        }
        self._unconfirmed = [n for n in notes if n.uuid in indicated] + self._unconfirmed

    def _entry(self, uuid: int) -> db.CharacteristicEntry:
        entry = self.gatt.characteristic(uuid)
        if entry is None:  # the D-Bus layer only offers what the database has
            raise AttFailure(AttError.REQUEST_NOT_SUPPORTED, f"no characteristic {uuid:04X}")
        return entry

    def _reader_table(self) -> dict[int, Callable[[float], bytes]]:
        info = self.info
        table: dict[int, Callable[[float], bytes]] = {
            uuids.BATTERY_LEVEL: lambda _: encode_battery_level(self._battery),
            db.MANUFACTURER_NAME: lambda _: info.manufacturer.encode(),
            db.MODEL_NUMBER: lambda _: info.model.encode(),
            db.SERIAL_NUMBER: lambda _: info.serial.encode(),
            db.FIRMWARE_REVISION: lambda _: info.firmware.encode(),
        }
        if self._clock is not None:
            table[db.CURRENT_TIME] = self._clock.current_time
            table[uuids.DATE_TIME] = self._clock.date_time
        return table

    def _writer_table(self) -> dict[int, Callable[[bytes, float], None]]:
        if self._clock is None:
            return {}
        return {
            db.CURRENT_TIME: self._clock.write_current_time,
            uuids.DATE_TIME: self._clock.write_date_time,
        }


def _address_type(address: str) -> str:
    """A static random address has its two most significant bits set (Core Vol 6 Part B
    §1.3.2.1); the simulated fleet's addresses (``C0:...``) are such."""
    return "random" if int(address[:2], 16) >> 6 == 0b11 else "public"
