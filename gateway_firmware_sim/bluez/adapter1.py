"""``org.bluez.Adapter1``: the simulated controller ``hci0`` (BlueZ doc/org.bluez.Adapter.rst;
src/adapter.c).

Properties: Address, AddressType, Name, Alias (read/write), Class, Powered, PowerState,
Discoverable and Pairable (read/write, remembered only), Discovering, UUIDs, Roles
(``central``, ``peripheral``: bleak picks an adapter with the central role). Methods:
RemoveDevice and GetDiscoveryFilters here; StartDiscovery, StopDiscovery and
SetDiscoveryFilter depend on the caller and are served by
:mod:`~gateway_firmware_sim.bluez.client_methods`. Not implemented: setting Powered (the
simulated adapter is always on), ConnectDevice, the timeouts, Modalias, the
AdvertisementMonitorManager1 interface (passive scanning).
"""

# No ``from __future__ import annotations``: dbus-fast reads the D-Bus signatures from the
# annotations, and a postponed ``-> None`` would read as the signature ``None``.

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from dbus_fast.annotations import (
    DBusBool,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
    DBusUInt32,
)
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

from gateway_firmware_sim.bluez.discovery import FILTER_KEYS

ADAPTER = "org.bluez.Adapter1"
DBusStrings = Annotated[list[str], DBusSignature("as")]
_READ = PropertyAccess.READ


@dataclass(slots=True)
class AdapterState:
    address: str
    name: str
    alias: str | None = None
    discoverable: bool = False
    pairable: bool = True
    discovering: bool = False


class Adapter1(ServiceInterface):
    def __init__(
        self, state: AdapterState, remove_device: Callable[[str], Awaitable[None]]
    ) -> None:
        super().__init__(ADAPTER)
        self._state = state
        self._remove_device = remove_device

    def set_discovering(self, discovering: bool) -> None:
        self._state.discovering = discovering
        self.emit_properties_changed({"Discovering": discovering})

    @dbus_property(access=_READ)
    def Address(self) -> DBusStr:
        return self._state.address

    @dbus_property(access=_READ)
    def AddressType(self) -> DBusStr:
        return "public"

    @dbus_property(access=_READ)
    def Name(self) -> DBusStr:
        return self._state.name

    @dbus_property()
    def Alias(self) -> DBusStr:
        return self._state.alias or self._state.name

    @Alias.setter  # type: ignore[no-redef]  # dbus-fast: the setter takes the name
    def Alias(self, value: DBusStr) -> None:
        self._state.alias = value or None  # empty: back to the system name
        self.emit_properties_changed({"Alias": self._state.alias or self._state.name})

    @dbus_property(access=_READ)
    def Class(self) -> DBusUInt32:
        return 0

    @dbus_property(access=_READ)
    def Powered(self) -> DBusBool:
        return True

    @dbus_property(access=_READ)
    def PowerState(self) -> DBusStr:
        return "on"

    @dbus_property()
    def Discoverable(self) -> DBusBool:
        return self._state.discoverable

    @Discoverable.setter  # type: ignore[no-redef]  # dbus-fast: the setter takes the name
    def Discoverable(self, value: DBusBool) -> None:
        self._state.discoverable = value
        self.emit_properties_changed({"Discoverable": value})

    @dbus_property()
    def Pairable(self) -> DBusBool:
        return self._state.pairable

    @Pairable.setter  # type: ignore[no-redef]  # dbus-fast: the setter takes the name
    def Pairable(self, value: DBusBool) -> None:
        self._state.pairable = value
        self.emit_properties_changed({"Pairable": value})

    @dbus_property(access=_READ)
    def Discovering(self) -> DBusBool:
        return self._state.discovering

    @dbus_property(access=_READ)
    def UUIDs(self) -> DBusStrings:
        return []

    @dbus_property(access=_READ)
    def Roles(self) -> DBusStrings:
        return ["central", "peripheral"]

    @dbus_method()
    async def RemoveDevice(self, device: DBusObjectPath) -> None:
        await self._remove_device(device)

    @dbus_method()
    def GetDiscoveryFilters(self) -> DBusStrings:
        return list(FILTER_KEYS)
