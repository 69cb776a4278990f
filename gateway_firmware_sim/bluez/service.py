"""The simulated BlueZ: ``org.bluez`` on one D-Bus, with adapter ``hci0`` and the simulated
peripherals within its radio range.

:class:`SimulatedBluez` owns the bus connection, the adapter, the discovery sessions, the
remote device objects and the radio tick. Its public methods are the test and demo controls:
:meth:`faults` (the switches of :mod:`~gateway_firmware_sim.bluez.faults`),
:meth:`peripheral`, :meth:`add_peripheral`, :meth:`drop_link`.

Rules:

* The object tree is BlueZ's: ``org.freedesktop.DBus.ObjectManager`` at ``/`` (dbus-fast's,
  with ``InterfacesAdded``/``InterfacesRemoved`` on export and unexport), the adapter at
  ``/org/bluez/hci0``, devices and their GATT objects below it (:mod:`paths`).
* The radio ticks every ``tick_s`` real seconds: while a discovery session runs, each
  peripheral in range and not connected is heard once per advertising interval (and
  reported if a discovery filter matches); a connected peripheral that went out of range
  loses its link; a temporary device unheard for ``temporary_timeout_s`` is removed
  (bluetoothd's TemporaryTimeout, 30 s by default).
* Devices live in simulated time from ``clock`` (default: the real clock); their code runs on
  the device worker thread. Nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from dbus_fast.aio import MessageBus
from dbus_fast.constants import ErrorType, RequestNameReply
from dbus_fast.errors import DBusError
from dbus_fast.message import Message

from gateway_firmware_sim.bluez import errors, paths
from gateway_firmware_sim.bluez.adapter1 import ADAPTER, Adapter1, AdapterState
from gateway_firmware_sim.bluez.bus_writer import patient
from gateway_firmware_sim.bluez.client_methods import ClientMethods, Reply
from gateway_firmware_sim.bluez.discovery import Discovery, Sighting, parse_filter
from gateway_firmware_sim.bluez.errors import DisconnectReason
from gateway_firmware_sim.bluez.faults import Faults
from gateway_firmware_sim.bluez.gatt1 import GATT_CHARACTERISTIC, GattCharacteristic1
from gateway_firmware_sim.bluez.host import DeviceWorker, Host, InFlight
from gateway_firmware_sim.bluez.peripheral import Peripheral
from gateway_firmware_sim.bluez.remote_device import RemoteDevice

log = logging.getLogger(__name__)

BLUEZ_SERVICE = "org.bluez"
_SETTLE_S = 2.0  # how long stopping waits for the calls in flight to be answered


class SimulatedBluez:
    def __init__(
        self,
        peripherals: Iterable[Peripheral],
        *,
        clock: Callable[[], float] = time.time,
        adapter: str = "hci0",
        adapter_address: str = "00:1A:7D:DA:71:13",
        tick_s: float = 0.05,
        temporary_timeout_s: float = 30.0,
    ) -> None:
        self._peripherals: dict[str, Peripheral] = {}
        for peripheral in peripherals:
            self.add_peripheral(peripheral)
        self._clock = clock
        self._adapter_path = paths.adapter_path(adapter)
        self._adapter_state = AdapterState(paths.parse_address(adapter_address), "sim-bluez")
        if not tick_s > 0 or not temporary_timeout_s > 0:
            raise ValueError("tick_s and temporary_timeout_s must be positive")
        self._tick_s = tick_s
        self._temporary_timeout_s = temporary_timeout_s
        self._discovery = Discovery()
        self._devices: dict[str, RemoteDevice] = {}
        self._next_advertisement: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._host: Host | None = None
        self._adapter: Adapter1 | None = None
        self._client_methods: ClientMethods | None = None
        self._radio: asyncio.Task[None] | None = None
        self.bus_address = ""

    # --- controls -------------------------------------------------------------------------

    def add_peripheral(self, peripheral: Peripheral) -> None:
        """A device comes into the world (and, unless out of range, into radio range)."""
        if peripheral.address in self._peripherals:
            raise ValueError(f"two peripherals with address {peripheral.address}")
        self._peripherals[peripheral.address] = peripheral

    def peripheral(self, address: str) -> Peripheral:
        return self._peripherals[paths.parse_address(address)]

    def faults(self, address: str) -> Faults:
        """The fault switches of one peripheral, to flip at run time."""
        return self.peripheral(address).faults

    def device_path(self, address: str) -> str:
        return paths.device_path(self._adapter_path, address)

    async def drop_link(
        self, address: str, reason: DisconnectReason = DisconnectReason.TIMEOUT
    ) -> None:
        """End a peripheral's connection now (no-op without one)."""
        remote = self._devices.get(paths.parse_address(address))
        if remote is not None:
            await remote.drop_link(reason)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, bus_address: str) -> None:
        """Connect to the bus at ``bus_address``, export the adapter, own ``org.bluez``."""
        bus = patient(await MessageBus(bus_address=bus_address, negotiate_unix_fd=True).connect())
        worker = DeviceWorker()
        self._host = Host(
            bus,
            self._adapter_path,
            self._clock,
            worker,
            self._tick_s,
            InFlight(),
            asyncio.Event(),
        )
        self._adapter = Adapter1(self._adapter_state, self._remove_device)
        bus.export(self._adapter_path, self._adapter)
        self._client_methods = methods = ClientMethods(bus, self._client_left)
        methods.route(ADAPTER, "StartDiscovery", "", self._start_discovery)
        methods.route(ADAPTER, "StopDiscovery", "", self._stop_discovery)
        methods.route(ADAPTER, "SetDiscoveryFilter", "a{sv}", self._set_discovery_filter)
        methods.route(GATT_CHARACTERISTIC, "StartNotify", "", self._start_notify)
        methods.route(GATT_CHARACTERISTIC, "StopNotify", "", self._stop_notify)
        methods.route(GATT_CHARACTERISTIC, "AcquireNotify", "a{sv}", self._acquire_notify)
        await methods.start()
        reply = await bus.request_name(BLUEZ_SERVICE)
        if reply is not RequestNameReply.PRIMARY_OWNER:
            raise RuntimeError(f"could not own {BLUEZ_SERVICE} on {bus_address}: {reply}")
        self._radio = asyncio.create_task(self._run_radio(), name="sim-bluez radio")
        self.bus_address = bus_address

    async def stop(self) -> None:
        """Drop every link, answer the calls in flight, leave the bus, stop the worker."""
        host = self._host
        if host is None:
            return
        host.stopping.set()  # fault delays end now
        if self._radio is not None:
            self._radio.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._radio
        for remote in list(self._devices.values()):
            await remote.close()
        await host.in_flight.settled(_SETTLE_S)
        await asyncio.sleep(0)  # dbus-fast sends the last answers
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client_methods is not None:
            await self._client_methods.stop()
        host.bus.disconnect()
        await asyncio.to_thread(host.worker.close)
        self._devices.clear()
        self._next_advertisement.clear()
        self._host = None

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the radio ------------------------------------------------------------------------

    async def _run_radio(self) -> None:
        while True:
            try:
                self._radio_tick()
            except Exception:  # one bad tick must not silence the radio for good
                log.exception("simulated radio tick failed")
            await asyncio.sleep(self._tick_s)

    def _radio_tick(self) -> None:
        now = asyncio.get_running_loop().time()
        for address, peripheral in self._peripherals.items():
            remote = self._devices.get(address)
            if peripheral.faults.out_of_range:
                if remote is not None and remote.connected:
                    self._spawn(remote.drop_link(DisconnectReason.TIMEOUT))
                continue
            if not self._discovery.active or (remote is not None and remote.connected):
                continue
            if now < self._next_advertisement.get(address, 0.0):
                continue
            self._next_advertisement[address] = now + peripheral.radio.advertising_interval_s
            self._hear(peripheral, remote)
        for remote in list(self._devices.values()):
            if remote.forgettable and now - remote.last_heard > self._temporary_timeout_s:
                self._spawn(self._forget(remote))

    def _hear(self, peripheral: Peripheral, remote: RemoteDevice | None) -> None:
        sighting = Sighting(
            address=peripheral.address,
            name=peripheral.radio.name,
            uuids=frozenset(peripheral.advertised_uuids),
            rssi=peripheral.sample_rssi(),
            tx_power=peripheral.radio.tx_power_dbm,
        )
        if not self._discovery.reports(sighting):
            return
        if remote is None:
            self._devices[peripheral.address] = RemoteDevice(
                self._require_host(), peripheral, sighting
            )
        else:
            remote.heard(sighting, proximity=self._discovery.proximity)

    def _forget(self, remote: RemoteDevice) -> Coroutine[Any, Any, None]:
        """Take ``remote`` out of the registry now; the coroutine that removes its objects."""
        del self._devices[remote.peripheral.address]
        return remote.remove()

    def _require_host(self) -> Host:
        if self._host is None:
            raise RuntimeError("the simulated BlueZ is not started")
        return self._host

    # --- adapter methods ------------------------------------------------------------------

    async def _remove_device(self, path: str) -> None:
        remote = next((d for d in self._devices.values() if d.path == path), None)
        if remote is None:
            raise errors.does_not_exist()
        async with self._require_host().in_flight.call():
            await self._forget(remote)

    def _adapter_call(self, msg: Message) -> str:
        """The caller of a method on the adapter object (others do not exist)."""
        if msg.path != self._adapter_path:
            raise DBusError(ErrorType.UNKNOWN_OBJECT, f"no adapter at {msg.path}")
        return msg.sender or ""

    async def _start_discovery(self, msg: Message) -> Reply:
        if self._discovery.start(self._adapter_call(msg)):
            self._require_adapter().set_discovering(True)
        return Reply()

    async def _stop_discovery(self, msg: Message) -> Reply:
        if self._discovery.stop(self._adapter_call(msg)):
            self._discovery_stopped()
        return Reply()

    async def _set_discovery_filter(self, msg: Message) -> Reply:
        client = self._adapter_call(msg)
        self._discovery.set_filter(client, parse_filter(msg.body[0]))
        return Reply()

    def _discovery_stopped(self) -> None:
        self._require_adapter().set_discovering(False)
        self._next_advertisement.clear()
        for remote in self._devices.values():
            remote.discovery_stopped()

    def _require_adapter(self) -> Adapter1:
        if self._adapter is None:
            raise RuntimeError("the simulated BlueZ is not started")
        return self._adapter

    def _client_left(self, client: str) -> None:
        if self._discovery.forget(client):
            self._discovery_stopped()
        for remote in self._devices.values():
            remote.client_left(client)

    # --- characteristic session methods ---------------------------------------------------

    def _characteristic(self, msg: Message) -> tuple[RemoteDevice, GattCharacteristic1]:
        path = msg.path or ""
        for remote in self._devices.values():
            if path.startswith(remote.path + "/"):
                characteristic = remote.characteristic_at(path)
                if characteristic is not None:
                    return remote, characteristic
        raise DBusError(ErrorType.UNKNOWN_OBJECT, f"no characteristic at {path}")

    async def _start_notify(self, msg: Message) -> Reply:
        remote, characteristic = self._characteristic(msg)
        remote.start_notify(characteristic, msg.sender or "")
        return Reply()

    async def _stop_notify(self, msg: Message) -> Reply:
        remote, characteristic = self._characteristic(msg)
        remote.stop_notify(characteristic, msg.sender or "")
        return Reply()

    async def _acquire_notify(self, msg: Message) -> Reply:
        remote, characteristic = self._characteristic(msg)
        client_end = remote.acquire_notify(characteristic, msg.sender or "")
        return Reply("hq", [0, remote.peripheral.radio.att_mtu], [client_end])
