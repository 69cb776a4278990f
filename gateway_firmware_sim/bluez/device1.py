"""``org.bluez.Device1``: one remote device as BlueZ presents it (BlueZ
doc/org.bluez.Device.rst; src/device.c).

Properties: Address, AddressType, Name (optional: once advertised), Alias (read/write; the
name, or the address with dashes, until set), Paired, Bonded, Trusted (read/write), Blocked
(read/write), LegacyPairing, Connected, UUIDs, Adapter, ServicesResolved, and the optional
RSSI and TxPower (present while discovery hears the device). Methods Connect, Disconnect and
Pair are the :class:`DeviceBackend`'s; the Disconnected(reason, message) signal is emitted
before ``Connected`` turns false. Not implemented: ConnectProfile, DisconnectProfile,
CancelPairing, GetServiceRecords (BR/EDR), ManufacturerData, ServiceData, AdvertisingData and
AdvertisingFlags (the simulated devices advertise none), Appearance, Icon, Class.

Rule: the backend changes :class:`DeviceState` then calls :meth:`Device1.changed` with the
D-Bus names of what changed; an optional property that becomes ``None`` is invalidated.
"""

# No ``from __future__ import annotations``: dbus-fast reads the D-Bus signatures from the
# annotations, and a postponed ``-> None`` would read as the signature ``None``.

from dataclasses import dataclass, field
from typing import Annotated, Protocol

from dbus_fast.annotations import (
    DBusBool,
    DBusInt16,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
)
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

from gateway_firmware_sim.bluez.optional_properties import OptionalProperties

DEVICE = "org.bluez.Device1"
DBusStrings = Annotated[list[str], DBusSignature("as")]
DBusStringPair = Annotated[list[str], DBusSignature("ss")]
_READ = PropertyAccess.READ
# optional property -> the DeviceState field that holds it (None: absent)
_OPTIONAL = {"Name": "name", "RSSI": "rssi", "TxPower": "tx_power"}


@dataclass(slots=True)
class DeviceState:
    address: str
    address_type: str
    adapter: str
    name: str | None = None
    alias: str | None = None  # set by a client
    paired: bool = False
    bonded: bool = False
    trusted: bool = False
    blocked: bool = False
    connected: bool = False
    services_resolved: bool = False
    uuids: list[str] = field(default_factory=list)
    rssi: int | None = None
    tx_power: int | None = None


class DeviceBackend(Protocol):
    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def pair(self) -> None: ...


class Device1(ServiceInterface):
    def __init__(self, state: DeviceState, backend: DeviceBackend) -> None:
        super().__init__(DEVICE)
        self._state = state
        self._backend = backend
        present = [name for name in _OPTIONAL if self._optional_value(name) is not None]
        self._optional = OptionalProperties(self, _OPTIONAL, present)

    def _optional_value(self, name: str) -> object:
        return getattr(self._state, _OPTIONAL[name])

    def changed(self, *names: str) -> None:
        """Tell clients that the properties ``names`` changed."""
        values: dict[str, object] = {}
        invalidated: list[str] = []
        for name in names:
            if name in _OPTIONAL and self._optional_value(name) is None:
                if self._optional.hide(name):
                    invalidated.append(name)
                continue
            if name in _OPTIONAL:
                self._optional.show(name)
            values[name] = getattr(self, name)
        if values or invalidated:
            self.emit_properties_changed(values, invalidated)

    @dbus_property(access=_READ)
    def Address(self) -> DBusStr:
        return self._state.address

    @dbus_property(access=_READ)
    def AddressType(self) -> DBusStr:
        return self._state.address_type

    @dbus_property(access=_READ)
    def Name(self) -> DBusStr:
        return self._state.name or ""

    @dbus_property()
    def Alias(self) -> DBusStr:
        state = self._state
        return state.alias or state.name or state.address.replace(":", "-")

    @Alias.setter  # type: ignore[no-redef]  # dbus-fast: the setter takes the name
    def Alias(self, value: DBusStr) -> None:
        self._state.alias = value or None  # an empty alias goes back to the name
        self.changed("Alias")

    @dbus_property(access=_READ)
    def Paired(self) -> DBusBool:
        return self._state.paired

    @dbus_property(access=_READ)
    def Bonded(self) -> DBusBool:
        return self._state.bonded

    @dbus_property()
    def Trusted(self) -> DBusBool:
        return self._state.trusted

    @Trusted.setter  # type: ignore[no-redef]  # dbus-fast: the setter takes the name
    def Trusted(self, value: DBusBool) -> None:
        self._state.trusted = value
        self.changed("Trusted")

    @dbus_property()
    def Blocked(self) -> DBusBool:
        return self._state.blocked

    @Blocked.setter  # type: ignore[no-redef]  # dbus-fast: the setter takes the name
    def Blocked(self, value: DBusBool) -> None:
        self._state.blocked = value
        self.changed("Blocked")

    @dbus_property(access=_READ)
    def LegacyPairing(self) -> DBusBool:
        return False

    @dbus_property(access=_READ)
    def Connected(self) -> DBusBool:
        return self._state.connected

    @dbus_property(access=_READ)
    def UUIDs(self) -> DBusStrings:
        return list(self._state.uuids)

    @dbus_property(access=_READ)
    def Adapter(self) -> DBusObjectPath:
        return self._state.adapter

    @dbus_property(access=_READ)
    def ServicesResolved(self) -> DBusBool:
        return self._state.services_resolved

    @dbus_property(access=_READ)
    def RSSI(self) -> DBusInt16:
        return self._state.rssi or 0

    @dbus_property(access=_READ)
    def TxPower(self) -> DBusInt16:
        return self._state.tx_power or 0

    @dbus_method()
    async def Connect(self) -> None:
        await self._backend.connect()

    @dbus_method()
    async def Disconnect(self) -> None:
        await self._backend.disconnect()

    @dbus_method()
    async def Pair(self) -> None:
        await self._backend.pair()

    @dbus_signal()
    def Disconnected(self, reason: str, message: str) -> DBusStringPair:
        return [reason, message]
