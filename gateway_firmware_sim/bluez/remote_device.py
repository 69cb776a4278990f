"""One remote device on the simulated adapter: what bluetoothd does for a ``btd_device``
(src/device.c, src/gatt-client.c) — discovery updates, Connect/Disconnect/Pair, service
resolution, GATT operations, notification sessions and the link — in front of a simulated
:class:`~gateway_firmware_sim.bluez.peripheral.Peripheral`.

Rules, as bluetoothd applies them:

* Discovery: the first advertisement creates the object (``InterfacesAdded``); later ones
  update RSSI (only by 8 dBm or more unless a filter asks for proximity), TxPower, Name and
  UUIDs. When discovery stops, RSSI and TxPower are invalidated.
* Connect: a Connect or Pair already pending answers ``InProgress``; a connected device
  answers at once. On success ``Connected`` turns true, Connect returns, then the GATT objects
  are exported (the first time: they stay for later connections, bluetoothd's default cache)
  and ``ServicesResolved`` turns true. Disconnect during a Connect makes that Connect fail
  with ``br-connection-canceled``; without a connection it simply succeeds.
* A link that ends — Disconnect (``org.bluez.Reason.Local``), a fault or going out of range
  (``org.bluez.Reason.Timeout``) — turns ``ServicesResolved`` false, emits
  ``Disconnected(reason, message)``, then turns ``Connected`` false; acquired notification
  sockets close, StartNotify sessions stay for the next connection.
* GATT operations need the link (``Failed: Not connected``); the server's refusals arrive as
  the D-Bus errors of :mod:`~gateway_firmware_sim.bluez.errors`. Writing a control point (the
  RACP) needs its indications enabled (ATT 0xFD) and no procedure running (ATT 0xFE), except
  its abort opcode.
* Pairing is "just works": it connects if needed and the device is then Paired and Bonded.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from dbus_fast.service import ServiceInterface

from gateway_firmware_sim.bluez import errors, paths
from gateway_firmware_sim.bluez.device1 import Device1, DeviceState
from gateway_firmware_sim.bluez.discovery import RSSI_THRESHOLD, Sighting
from gateway_firmware_sim.bluez.errors import DisconnectReason
from gateway_firmware_sim.bluez.gatt1 import (
    GattCharacteristic1,
    GattDescriptor1,
    GattService1,
    WriteKind,
)
from gateway_firmware_sim.bluez.gatt_database import Flag
from gateway_firmware_sim.bluez.host import Host
from gateway_firmware_sim.bluez.link import Link
from gateway_firmware_sim.bluez.peripheral import Peripheral

P = ParamSpec("P")
T = TypeVar("T")


def _answering(
    method: Callable[Concatenate[RemoteDevice, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[RemoteDevice, P], Coroutine[Any, Any, T]]:
    """A D-Bus method's work: counted in flight, so that stopping waits for its answer."""

    @functools.wraps(method)
    async def answer(self: RemoteDevice, /, *args: P.args, **kwargs: P.kwargs) -> T:
        async with self.host.in_flight.call():
            return await method(self, *args, **kwargs)

    return answer


class RemoteDevice:
    def __init__(self, host: Host, peripheral: Peripheral, sighting: Sighting) -> None:
        self.host = host
        self.peripheral = peripheral
        self.path = paths.device_path(host.adapter_path, peripheral.address)
        self.state = DeviceState(
            address=peripheral.address,
            address_type=peripheral.address_type,
            adapter=host.adapter_path,
            name=sighting.name,
            uuids=list(peripheral.advertised_uuids),
            rssi=sighting.rssi,
            tx_power=sighting.tx_power,
        )
        self.iface = Device1(self.state, self)
        self.temporary = True  # until a Connect: bluetoothd forgets it when unheard a while
        self.last_heard = asyncio.get_running_loop().time()
        self._exported: list[tuple[str, ServiceInterface]] = []
        self._characteristics: dict[int, GattCharacteristic1] = {}
        self._by_path: dict[str, GattCharacteristic1] = {}
        self._link: Link | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._resolving: asyncio.Task[None] | None = None
        self._pairing = False
        self._tasks: set[asyncio.Task[None]] = set()
        host.bus.export(self.path, self.iface)

    @property
    def connected(self) -> bool:
        return self.state.connected

    @property
    def forgettable(self) -> bool:
        """Whether bluetoothd would drop it once unheard (temporary, not connected)."""
        state = self.state
        return self.temporary and not (state.connected or state.paired or state.trusted)

    # --- discovery ------------------------------------------------------------------------

    def heard(self, sighting: Sighting, *, proximity: bool) -> None:
        self.last_heard = asyncio.get_running_loop().time()
        state, changed = self.state, []
        if sighting.rssi != state.rssi and (
            state.rssi is None or proximity or abs(sighting.rssi - state.rssi) >= RSSI_THRESHOLD
        ):
            state.rssi = sighting.rssi
            changed.append("RSSI")
        if sighting.tx_power != state.tx_power:
            state.tx_power = sighting.tx_power
            changed.append("TxPower")
        if sighting.name != state.name:
            state.name = sighting.name
            changed += ["Name", "Alias"]
        self._add_uuids(self.peripheral.advertised_uuids, changed)
        self.iface.changed(*changed)

    def discovery_stopped(self) -> None:
        self.state.rssi = None
        self.state.tx_power = None
        self.iface.changed("RSSI", "TxPower")

    def _add_uuids(self, uuids: list[str], changed: list[str]) -> None:
        new = [uuid for uuid in uuids if uuid not in self.state.uuids]
        if new:
            self.state.uuids += new
            changed.append("UUIDs")

    # --- Device1 methods ------------------------------------------------------------------

    @_answering
    async def connect(self) -> None:
        if self._pairing:
            raise errors.in_progress()
        await self._connect()

    @_answering
    async def disconnect(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()  # that Connect answers br-connection-canceled
            return
        await self.drop_link(DisconnectReason.LOCAL)

    @_answering
    async def pair(self) -> None:
        if self.state.paired:
            raise errors.already_exists()
        if self._pairing:
            raise errors.in_progress()
        self._pairing = True
        try:
            await self._connect()
        finally:
            self._pairing = False
        self.state.paired = self.state.bonded = True
        self.iface.changed("Paired", "Bonded")

    async def _connect(self) -> None:
        if self._connecting is not None:
            raise errors.in_progress()
        if self.state.connected:
            return
        if self.peripheral.faults.take_connect_in_progress():
            raise errors.in_progress()
        self.temporary = False
        attempt = asyncio.create_task(self._establish())
        self._connecting = attempt
        try:
            await asyncio.wait({attempt})
        finally:
            self._connecting = None
            attempt.cancel()
        if attempt.cancelled():
            raise errors.failed(errors.CONNECT_CANCELED)
        attempt.result()

    async def _establish(self) -> None:
        faults = self.peripheral.faults
        await self.host.pause(faults.connect_delay_s)
        if faults.out_of_range:
            await self.host.pause(faults.connect_timeout_s)
            raise errors.failed(faults.connect_error.value)
        self.state.connected = True
        self.iface.changed("Connected")
        if faults.take_connect_abort():
            await self.drop_link(DisconnectReason.LOCAL)
            raise errors.failed(errors.LeConnectError.ABORT_BY_LOCAL.value)
        self._link = Link(
            self.host,
            self.peripheral,
            deliver=self._deliver,
            listening=self._listening,
            lost=self._link_lost,
        )
        self._resolving = asyncio.create_task(self._resolve_services())

    async def _resolve_services(self) -> None:
        await asyncio.sleep(0)  # Connect's reply first: bluetoothd browses once connected
        if not self._exported:
            self._export_gatt()
        changed: list[str] = []
        self._add_uuids(self.peripheral.service_uuids, changed)
        self.state.services_resolved = True
        self.iface.changed(*changed, "ServicesResolved")
        self._listeners_changed()  # sessions kept from an earlier connection listen again

    # --- the link -------------------------------------------------------------------------

    async def drop_link(self, reason: DisconnectReason) -> None:
        """End the connection (no-op without one)."""
        if not self.state.connected:
            return
        self.state.connected = False
        link, self._link = self._link, None
        if self._resolving is not None:
            self._resolving.cancel()
            self._resolving = None
        if link is not None:
            left = await link.close()
            if left:
                await self.host.worker.run(self.peripheral.keep_unconfirmed, left)
        for characteristic in self._characteristics.values():
            self._release(characteristic)
        changed = ["ServicesResolved"] if self.state.services_resolved else []
        self.state.services_resolved = False
        self.iface.changed(*changed)
        self.iface.Disconnected(reason.dbus_name, reason.message)
        self.iface.changed("Connected")

    def _link_lost(self) -> None:
        task = asyncio.create_task(self.drop_link(DisconnectReason.TIMEOUT))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _deliver(self, uuid: int, value: bytes) -> bool:
        characteristic = self._characteristics.get(uuid)
        return characteristic is not None and characteristic.deliver(value)

    def _listening(self) -> bool:
        pushed = self.peripheral.gatt.pushed
        return (
            bool(pushed)
            and self.state.services_resolved
            and all(self._characteristics[uuid].sessions.active for uuid in pushed)
        )

    def _require_link(self) -> Link:
        if self._link is None:
            raise errors.not_connected()
        return self._link

    # --- GATT -----------------------------------------------------------------------------

    def _export_gatt(self) -> None:
        mtu = self.peripheral.radio.att_mtu
        for service in self.peripheral.gatt.services:
            service_path = paths.service_path(self.path, service.handle)
            self._export(service_path, GattService1(service.uuid, service.handle, self.path))
            for entry in service.characteristics:
                path = paths.characteristic_path(service_path, entry.handle)
                characteristic = GattCharacteristic1(self, entry, service_path, mtu)
                self._export(path, characteristic)
                self._characteristics[entry.spec.uuid] = characteristic
                self._by_path[path] = characteristic
                if entry.cccd_handle is not None:
                    descriptor = GattDescriptor1(self, characteristic, path, entry.cccd_handle)
                    self._export(paths.descriptor_path(path, entry.cccd_handle), descriptor)

    def _export(self, path: str, interface: ServiceInterface) -> None:
        self.host.bus.export(path, interface)
        self._exported.append((path, interface))

    def characteristic_at(self, path: str) -> GattCharacteristic1 | None:
        return self._by_path.get(path)

    @_answering
    async def read_characteristic(self, uuid: int) -> bytes:
        self._require_link()
        await self.host.pause(self.peripheral.faults.read_delay_s)
        self._require_link()
        try:
            return await self.host.worker.run(self.peripheral.read, uuid, self.host.clock())
        except errors.AttFailure as failure:
            raise errors.att_error(failure) from None

    @_answering
    async def write_characteristic(self, uuid: int, data: bytes, kind: WriteKind) -> None:
        characteristic = self._characteristics[uuid]
        spec = characteristic.entry.spec
        self._require_link()
        if kind is WriteKind.COMMAND and Flag.WRITE_WITHOUT_RESPONSE not in spec.flags:
            return  # a Write Command the characteristic does not take is ignored, unanswered
        await self.host.pause(self.peripheral.faults.write_delay_s)
        link = self._require_link()
        if spec.control_point is not None:
            if not characteristic.sessions.active:
                failure = errors.AttFailure(errors.AttError.CCCD_IMPROPERLY_CONFIGURED)
                raise errors.att_error(failure)
            if link.procedure_running:
                if data[:1] != bytes([spec.control_point.abort_opcode]):
                    failure = errors.AttFailure(errors.AttError.PROCEDURE_ALREADY_IN_PROGRESS)
                    raise errors.att_error(failure)
                link.abort_procedure()
        try:
            notes = await self.host.worker.run(self.peripheral.write, uuid, data, self.host.clock())
        except errors.AttFailure as failure:
            raise errors.att_error(failure) from None
        if self._link is link:
            link.send(notes)

    @_answering
    async def read_descriptor(self, value: Callable[[], bytes]) -> bytes:
        self._require_link()
        await self.host.pause(self.peripheral.faults.read_delay_s)
        self._require_link()
        return value()

    # --- notification sessions (per D-Bus client) -----------------------------------------

    def start_notify(self, characteristic: GattCharacteristic1, client: str) -> None:
        if characteristic.sessions.start(client):
            characteristic.emit_properties_changed({"Notifying": True})
        self._listeners_changed()

    def stop_notify(self, characteristic: GattCharacteristic1, client: str) -> None:
        if not self._release(characteristic) and characteristic.sessions.stop(client):
            characteristic.emit_properties_changed({"Notifying": False})
        self._listeners_changed()

    def acquire_notify(self, characteristic: GattCharacteristic1, client: str) -> socket.socket:
        """The client's end of a new notification socket (to pass over D-Bus and close)."""
        self._require_link()
        client_end = characteristic.sessions.acquire(client, lambda: self._hang_up(characteristic))
        characteristic.emit_properties_changed({"NotifyAcquired": True})
        self._listeners_changed()
        return client_end

    def client_left(self, client: str) -> None:
        for characteristic in self._characteristics.values():
            notifying_changed, released = characteristic.sessions.forget(client)
            if released:
                characteristic.emit_properties_changed({"NotifyAcquired": False})
            if notifying_changed:
                characteristic.emit_properties_changed({"Notifying": False})
        self._listeners_changed()

    def _hang_up(self, characteristic: GattCharacteristic1) -> None:
        """The client closed its AcquireNotify socket."""
        self._release(characteristic)
        self._listeners_changed()

    def _release(self, characteristic: GattCharacteristic1) -> bool:
        if not characteristic.sessions.release():
            return False
        characteristic.emit_properties_changed({"NotifyAcquired": False})
        return True

    def _listeners_changed(self) -> None:
        if self._link is not None:
            self._link.listeners_changed()

    # --- removal --------------------------------------------------------------------------

    async def close(self) -> None:
        """Cancel a pending Connect, drop the link, end the device's tasks."""
        if self._connecting is not None:
            self._connecting.cancel()
        await self.drop_link(DisconnectReason.LOCAL)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def remove(self) -> None:
        """Adapter1.RemoveDevice: disconnect, then the objects go (``InterfacesRemoved``)."""
        await self.close()
        for path, interface in reversed(self._exported):
            self.host.bus.unexport(path, interface)
        self._exported.clear()
        self.host.bus.unexport(self.path, self.iface)
