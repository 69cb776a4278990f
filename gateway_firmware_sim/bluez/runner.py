"""Running a simulated BlueZ: a private system bus with ``org.bluez`` on it, for tests and
demos.

* ``async with simulated_bluez(devices, clock=...) as bluez:`` — in the caller's event loop.
* ``with simulated_bluez_thread(devices, clock=...) as bluez:`` — in a thread with its own
  event loop, for synchronous callers (a demo, ``make run``) and for clients that run their
  own loops (a test that calls ``asyncio.run``): their loop can end before the bus goes.

Both start a private ``dbus-daemon`` (:mod:`~gateway_firmware_sim.bluez.daemon`), serve the
simulated BlueZ on it with the given devices and yield the :class:`SimulatedBluez`: its
``bus_address`` is what a client puts in ``DBUS_SYSTEM_BUS_ADDRESS``; ``faults(address)`` are
the switches (plain attributes: flipping them from another thread is safe, the radio reads
them each tick). On exit every link is dropped, the service leaves the bus, the daemon is
stopped and its directory removed, even if the body raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator

from gateway_firmware_sim.bluez.daemon import private_system_bus
from gateway_firmware_sim.bluez.peripheral import Peripheral
from gateway_firmware_sim.bluez.service import SimulatedBluez
from gateway_firmware_sim.devices.base import BleDevice

_START_TIMEOUT_S = 30.0


@contextlib.asynccontextmanager
async def simulated_bluez(
    devices: Iterable[Peripheral | BleDevice],
    *,
    clock: Callable[[], float] = time.time,
    seed: int = 0,
    tick_s: float = 0.05,
    temporary_timeout_s: float = 30.0,
) -> AsyncIterator[SimulatedBluez]:
    """A simulated BlueZ on a private bus. A bare ``BleDevice`` becomes a peripheral with
    default radio settings and RSSI noise seeded from ``seed``."""
    peripherals = [
        item if isinstance(item, Peripheral) else Peripheral(item, seed=seed) for item in devices
    ]
    bluez = SimulatedBluez(
        peripherals, clock=clock, tick_s=tick_s, temporary_timeout_s=temporary_timeout_s
    )
    async with private_system_bus() as address:
        await bluez.start(address)
        try:
            yield bluez
        finally:
            await bluez.stop()


@contextlib.contextmanager
def simulated_bluez_thread(
    devices: Iterable[Peripheral | BleDevice],
    *,
    clock: Callable[[], float] = time.time,
    seed: int = 0,
    tick_s: float = 0.05,
    temporary_timeout_s: float = 30.0,
) -> Iterator[SimulatedBluez]:
    """:func:`simulated_bluez`, served from a thread of its own until the context ends."""
    started: queue.Queue[tuple[SimulatedBluez, asyncio.AbstractEventLoop, asyncio.Event]] = (
        queue.Queue()
    )
    failure: list[BaseException] = []
    items = list(devices)

    async def serve() -> None:
        stop = asyncio.Event()
        async with simulated_bluez(
            items, clock=clock, seed=seed, tick_s=tick_s, temporary_timeout_s=temporary_timeout_s
        ) as bluez:
            started.put((bluez, asyncio.get_running_loop(), stop))
            await stop.wait()

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as err:  # handed to the caller's thread
            failure.append(err)

    # A daemon thread: if it never starts (the timeout below), it must not hold the process.
    thread = threading.Thread(target=run, name="sim-bluez", daemon=True)
    thread.start()
    bluez, loop, stop = _wait_started(started, thread, failure)
    try:
        yield bluez
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join()
    if failure:
        raise failure[0]


def _wait_started(
    started: queue.Queue[tuple[SimulatedBluez, asyncio.AbstractEventLoop, asyncio.Event]],
    thread: threading.Thread,
    failure: list[BaseException],
) -> tuple[SimulatedBluez, asyncio.AbstractEventLoop, asyncio.Event]:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            return started.get(timeout=0.05)
        if not thread.is_alive():
            raise RuntimeError("the simulated BlueZ did not start") from (
                failure[0] if failure else None
            )
    raise TimeoutError(f"the simulated BlueZ did not start within {_START_TIMEOUT_S} s")
