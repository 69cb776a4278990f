"""BlueZ object paths and device addresses (BlueZ doc/org.bluez.Adapter.rst, Device.rst,
GattService.rst, GattCharacteristic.rst, GattDescriptor.rst: "Object path").

Shapes, as bluetoothd builds them (src/adapter.c, src/device.c, src/gatt-client.c)::

    /org/bluez/hci0                                   adapter
    /org/bluez/hci0/dev_C0_26_DA_00_00_01             device (address, ``:`` -> ``_``)
    .../dev_C0_26_DA_00_00_01/service0010             GATT service (its handle, 4 hex digits)
    .../service0010/char0011                          characteristic (declaration handle)
    .../char0011/desc0013                             descriptor (its handle)

Clients depend on these shapes: bleak reads the handle from the last four characters and
finds a characteristic's device by cutting 21 characters off its path.
"""

from __future__ import annotations

import re

ROOT = "/org/bluez"
_ADDRESS = re.compile(r"[0-9A-F]{2}(?::[0-9A-F]{2}){5}")
_ADAPTER_NAME = re.compile(r"hci[0-9]{1,3}")


def parse_address(text: str) -> str:
    """A Bluetooth device address in canonical form (``C0:26:DA:00:00:01``), or ValueError."""
    address = text.strip().upper()
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"{text!r} is not a Bluetooth device address")
    return address


def adapter_path(name: str) -> str:
    if not _ADAPTER_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not an adapter name like hci0")
    return f"{ROOT}/{name}"


def device_path(adapter: str, address: str) -> str:
    return f"{adapter}/dev_{parse_address(address).replace(':', '_')}"


def _handle(handle: int) -> str:
    if not 0x0001 <= handle <= 0xFFFF:
        raise ValueError(f"attribute handle {handle:#x} is outside 0x0001..0xFFFF")
    return f"{handle:04x}"


def service_path(device: str, handle: int) -> str:
    return f"{device}/service{_handle(handle)}"


def characteristic_path(service: str, handle: int) -> str:
    return f"{service}/char{_handle(handle)}"


def descriptor_path(characteristic: str, handle: int) -> str:
    return f"{characteristic}/desc{_handle(handle)}"
