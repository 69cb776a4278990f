"""The remote GATT objects a device exports once its services are resolved: ``GattService1``,
``GattCharacteristic1`` and ``GattDescriptor1`` (BlueZ doc/org.bluez.GattService.rst,
GattCharacteristic.rst, GattDescriptor.rst, client side; src/gatt-client.c).

Rules, as bluetoothd applies them:

* Properties: a service has UUID, Primary, Device, Includes, Handle; a characteristic UUID,
  Service, Flags, MTU, Handle, and the optional ``Value`` (after a read or a notification),
  ``Notifying`` (with "notify" or "indicate") and ``NotifyAcquired`` (with "notify"); a
  descriptor UUID, Characteristic, Handle and ``Value`` after a read.
* ``ReadValue`` returns the value and updates ``Value`` (a ``PropertiesChanged`` each time,
  even unchanged: with a notify session the reader also sees it as a notification, as with a
  real BlueZ). Option ``offset`` (``q``) reads from there; other options are ignored, a
  wrongly typed one is ``InvalidArguments``.
* ``WriteValue`` option ``type``: ``request`` (and ``reliable``) is a Write Request, answered
  once the device has handled it; ``command`` a Write Command, answered at once and ignored by
  a characteristic without "write-without-response"; without ``type``, the flags choose.
  Another write still pending answers ``InProgress``.
* The Client Characteristic Configuration descriptor reads back what the sessions enabled
  (``0x0001`` notifications, ``0x0002`` indications) and refuses writes (``NotPermitted: Write
  not permitted``): clients use StartNotify/StopNotify. Session methods (StartNotify,
  StopNotify, AcquireNotify) depend on the caller and are served by
  :mod:`~gateway_firmware_sim.bluez.client_methods`.
* Not implemented: AcquireWrite and ``WriteAcquired`` (no simulated characteristic has
  "write-without-response"), long writes (a non-zero write offset is refused).
"""

# No ``from __future__ import annotations``: dbus-fast reads the D-Bus signatures from the
# annotations, and a postponed ``-> None`` would read as the signature ``None``.

import enum
from collections.abc import Callable
from typing import Annotated, Any, Protocol

from dbus_fast.annotations import (
    DBusBool,
    DBusBytes,
    DBusDict,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
    DBusUInt16,
)
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property
from dbus_fast.signature import Variant

from gateway_firmware_sim.bluez import errors
from gateway_firmware_sim.bluez.bt_uuid import uuid128
from gateway_firmware_sim.bluez.gatt_database import (
    CLIENT_CHARACTERISTIC_CONFIGURATION,
    CharacteristicEntry,
    Flag,
)
from gateway_firmware_sim.bluez.notify_sessions import NotifySessions
from gateway_firmware_sim.bluez.optional_properties import OptionalProperties

GATT_SERVICE = "org.bluez.GattService1"
GATT_CHARACTERISTIC = "org.bluez.GattCharacteristic1"
GATT_DESCRIPTOR = "org.bluez.GattDescriptor1"

DBusStrings = Annotated[list[str], DBusSignature("as")]
DBusObjectPaths = Annotated[list[str], DBusSignature("ao")]
_READ = PropertyAccess.READ
_CCCD_NOTIFY = b"\x01\x00"
_CCCD_INDICATE = b"\x02\x00"
_CCCD_OFF = b"\x00\x00"


class WriteKind(enum.Enum):
    REQUEST = "request"
    COMMAND = "command"


class GattBackend(Protocol):
    """What the GATT objects ask of their device (connection state, fault delays, the
    simulated GATT server)."""

    async def read_characteristic(self, uuid: int) -> bytes: ...

    async def write_characteristic(self, uuid: int, data: bytes, kind: WriteKind) -> None: ...

    async def read_descriptor(self, value: Callable[[], bytes]) -> bytes: ...


def _option(options: dict[str, Any], key: str, signature: str, default: Any) -> Any:
    variant = options.get(key)
    if variant is None:
        return default
    if not isinstance(variant, Variant) or variant.signature != signature:
        raise errors.invalid_arguments()
    return variant.value


def _offset(options: dict[str, Any]) -> int:
    offset: int = _option(options, "offset", "q", 0)
    return offset


def _from(value: bytes, offset: int) -> bytes:
    """A Read Blob from ``offset``: past the end is "Invalid Offset"."""
    if offset > len(value):
        raise errors.att_error(errors.AttFailure(errors.AttError.INVALID_OFFSET))
    return value[offset:]


class GattService1(ServiceInterface):
    def __init__(self, uuid: int, handle: int, device_path: str) -> None:
        super().__init__(GATT_SERVICE)
        self._uuid = uuid128(uuid)
        self._handle = handle
        self._device = device_path

    @dbus_property(access=_READ)
    def UUID(self) -> DBusStr:
        return self._uuid

    @dbus_property(access=_READ)
    def Primary(self) -> DBusBool:
        return True

    @dbus_property(access=_READ)
    def Device(self) -> DBusObjectPath:
        return self._device

    @dbus_property(access=_READ)
    def Includes(self) -> DBusObjectPaths:
        return []

    @dbus_property(access=_READ)
    def Handle(self) -> DBusUInt16:
        return self._handle


class GattCharacteristic1(ServiceInterface):
    def __init__(
        self, backend: GattBackend, entry: CharacteristicEntry, service_path: str, mtu: int
    ) -> None:
        super().__init__(GATT_CHARACTERISTIC)
        self.entry = entry
        self.sessions = NotifySessions(entry.spec.subscribable)
        self._backend = backend
        self._service = service_path
        self._mtu = mtu
        self._value = b""
        self._writing = False
        flags = entry.spec.flags
        present = ["Notifying"] if entry.spec.subscribable else []
        present += ["NotifyAcquired"] if Flag.NOTIFY in flags else []
        self._optional = OptionalProperties(self, ("Value", "Notifying", "NotifyAcquired"), present)

    @dbus_property(access=_READ)
    def UUID(self) -> DBusStr:
        return uuid128(self.entry.spec.uuid)

    @dbus_property(access=_READ)
    def Service(self) -> DBusObjectPath:
        return self._service

    @dbus_property(access=_READ)
    def Value(self) -> DBusBytes:
        return self._value

    @dbus_property(access=_READ)
    def Notifying(self) -> DBusBool:
        return self.sessions.notifying

    @dbus_property(access=_READ)
    def NotifyAcquired(self) -> DBusBool:
        return self.sessions.acquired is not None

    @dbus_property(access=_READ)
    def Flags(self) -> DBusStrings:
        return self.entry.spec.flag_names

    @dbus_property(access=_READ)
    def MTU(self) -> DBusUInt16:
        return self._mtu

    @dbus_property(access=_READ)
    def Handle(self) -> DBusUInt16:
        return self.entry.handle

    @dbus_method()
    async def ReadValue(self, options: DBusDict) -> DBusBytes:
        offset = _offset(options)
        value = await self._backend.read_characteristic(self.entry.spec.uuid)
        result = _from(value, offset)
        self.set_value(value)
        return result

    @dbus_method()
    async def WriteValue(self, value: DBusBytes, options: DBusDict) -> None:
        kind = self._write_kind(_option(options, "type", "s", None))
        if _offset(options):
            if kind is WriteKind.COMMAND:
                raise errors.not_supported()
            raise errors.att_error(errors.AttFailure(errors.AttError.INVALID_OFFSET))
        if self._writing:
            raise errors.in_progress()
        self._writing = True
        try:
            await self._backend.write_characteristic(self.entry.spec.uuid, bytes(value), kind)
        finally:
            self._writing = False

    def _write_kind(self, requested: str | None) -> WriteKind:
        flags = self.entry.spec.flags
        if requested in ("request", "reliable") or (requested is None and Flag.WRITE in flags):
            return WriteKind.REQUEST
        if requested == "command" or (requested is None and Flag.WRITE_WITHOUT_RESPONSE in flags):
            return WriteKind.COMMAND
        raise errors.not_supported()

    def set_value(self, value: bytes) -> None:
        """The cached value changed (read or notified): ``PropertiesChanged`` with ``Value``."""
        self._value = value
        self._optional.show("Value")
        self.emit_properties_changed({"Value": value})

    def deliver(self, value: bytes) -> bool:
        """A notification or indication from the device; whether a client got it."""
        if self.sessions.acquired is not None:
            return self.sessions.acquired.send(value)
        if self.sessions.notifying:
            self.set_value(value)
            return True
        return False

    def cccd(self) -> bytes:
        if not self.sessions.active:
            return _CCCD_OFF
        return _CCCD_NOTIFY if Flag.NOTIFY in self.entry.spec.flags else _CCCD_INDICATE


class GattDescriptor1(ServiceInterface):
    """The Client Characteristic Configuration descriptor (0x2902) of a characteristic."""

    def __init__(
        self, backend: GattBackend, characteristic: GattCharacteristic1, path: str, handle: int
    ) -> None:
        super().__init__(GATT_DESCRIPTOR)
        self._backend = backend
        self._characteristic = characteristic
        self._characteristic_path = path
        self._handle = handle
        self._value = b""
        self._optional = OptionalProperties(self, ("Value",))

    @dbus_property(access=_READ)
    def UUID(self) -> DBusStr:
        return uuid128(CLIENT_CHARACTERISTIC_CONFIGURATION)

    @dbus_property(access=_READ)
    def Characteristic(self) -> DBusObjectPath:
        return self._characteristic_path

    @dbus_property(access=_READ)
    def Value(self) -> DBusBytes:
        return self._value

    @dbus_property(access=_READ)
    def Handle(self) -> DBusUInt16:
        return self._handle

    @dbus_method()
    async def ReadValue(self, options: DBusDict) -> DBusBytes:
        offset = _offset(options)
        value = await self._backend.read_descriptor(self._characteristic.cccd)
        result = _from(value, offset)
        self._value = value
        self._optional.show("Value")
        self.emit_properties_changed({"Value": value})
        return result

    @dbus_method()
    async def WriteValue(self, value: DBusBytes, options: DBusDict) -> None:
        raise errors.not_permitted("Write not permitted")
