"""One connection to one device: established by bleak-retry-connector, used by 16-bit UUID.

:meth:`GattLink.open` connects with ``establish_connection`` and a
:class:`~bleak_retry_connector.BleakClientWithServiceCache` (BlueZ's GATT cache is reused
when valid, cleared when services changed; its own retries cover the transient errors BlueZ
reports), after taking a connection slot of the adapter from a
:class:`~bleak_retry_connector.BleakSlotManager` (freed when BlueZ reports the device
disconnected). The link then reads, writes (with response) and subscribes by 16-bit
characteristic number; each operation has a timeout, an ATT error becomes
:class:`~hub.adapters.ble.errors.GattFailure` with its code, a dropped link
:class:`~hub.adapters.ble.errors.LinkLost`. The link's end is an event its owner waits on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError, BleakGATTProtocolError
from bleak_retry_connector import (
    BleakClientWithServiceCache,
    BleakOutOfConnectionSlotsError,
    BleakSlotManager,
    establish_connection,
)

from device_profiles import uuids
from device_profiles.errors import DecodeError
from hub.adapters.ble.errors import DeviceTimeout, GattFailure, LinkLost

Listener = Callable[[int, bytes], None]
T = TypeVar("T")


def _number(uuid: str) -> int | None:
    """The 16-bit assigned number of a characteristic UUID (None: a vendor UUID)."""
    try:
        return uuids.normalize_uuid(uuid)
    except DecodeError:
        return None


class GattLink:
    def __init__(self, client: BleakClientWithServiceCache, timeout_s: float) -> None:
        self._client = client
        self.timeout_s = timeout_s
        self.ended = asyncio.Event()
        self._by_number: dict[int, BleakGATTCharacteristic] = {}
        for characteristic in client.services.characteristics.values():
            number = _number(characteristic.uuid)
            if number is not None:
                self._by_number.setdefault(number, characteristic)

    @classmethod
    async def open(
        cls,
        device: BLEDevice,
        name: str,
        *,
        slots: BleakSlotManager,
        attempts: int,
        timeout_s: float,
    ) -> GattLink:
        if not slots.allocate_slot(device):
            raise BleakOutOfConnectionSlotsError(f"{name}: every connection slot is taken")
        holder: list[GattLink] = []

        def on_disconnect(_client: BleakClientWithServiceCache) -> None:
            slots.release_slot(device)
            if holder:
                holder[0].ended.set()

        try:
            client = await establish_connection(
                BleakClientWithServiceCache,
                device,
                name,
                disconnected_callback=on_disconnect,
                max_attempts=attempts,
            )
        except BaseException:
            slots.release_slot(device)
            raise
        link = cls(client, timeout_s)
        holder.append(link)
        if not client.is_connected:
            link.ended.set()
        return link

    def has(self, number: int) -> bool:
        return number in self._by_number

    def _characteristic(self, number: int) -> BleakGATTCharacteristic:
        characteristic = self._by_number.get(number)
        if characteristic is None:
            raise GattFailure(0x0A, f"{uuids.uuid_str(number)} is not offered")  # not found
        return characteristic

    async def _call(self, what: str, number: int, operation: Callable[[], Awaitable[T]]) -> T:
        if self.ended.is_set():
            raise LinkLost(f"{what} {uuids.uuid_str(number)}: not connected")
        try:
            async with asyncio.timeout(self.timeout_s):
                return await operation()
        except TimeoutError as err:
            raise DeviceTimeout(f"{what} {uuids.uuid_str(number)}: no answer") from err
        except BleakGATTProtocolError as err:
            raise GattFailure(int(err.code), f"{what} {uuids.uuid_str(number)}") from err
        except BleakError as err:
            if self.ended.is_set() or not self._client.is_connected:
                raise LinkLost(f"{what} {uuids.uuid_str(number)}: {err}") from err
            raise

    async def read(self, number: int) -> bytes:
        characteristic = self._characteristic(number)
        value = await self._call(
            "read",
            number,
            lambda: self._client.read_gatt_char(characteristic),
        )
        return bytes(value)

    async def write(self, number: int, data: bytes) -> None:
        characteristic = self._characteristic(number)
        await self._call(
            "write",
            number,
            lambda: self._client.write_gatt_char(characteristic, data, response=True),
        )

    async def subscribe(self, number: int, listener: Listener) -> None:
        """Enable notifications or indications (whichever the characteristic has)."""
        characteristic = self._characteristic(number)

        def deliver(_sender: BleakGATTCharacteristic, data: bytearray) -> None:
            listener(number, bytes(data))

        await self._call(
            "subscribe",
            number,
            lambda: self._client.start_notify(characteristic, deliver),
        )

    async def close(self) -> None:
        with contextlib.suppress(BleakError, TimeoutError, EOFError):
            async with asyncio.timeout(self.timeout_s):
                await self._client.disconnect()
        self.ended.set()
