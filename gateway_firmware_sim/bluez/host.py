"""What every object of the simulated BlueZ shares: the bus, the adapter's path, the injected
clock, the device worker and the radio tick.

Rules: the clock gives simulated UTC epoch seconds and is the only time devices see; real
time (``asyncio`` sleeps) paces the radio and the fault delays only. Device model code runs
on the :class:`DeviceWorker` — one thread, one call at a time — never on the event loop.
Methods that take time to answer run inside :meth:`InFlight.call` and wait with
:meth:`Host.pause`, so that stopping ends their waits and lets them answer before the bus goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from dbus_fast.aio import MessageBus

P = ParamSpec("P")
T = TypeVar("T")


class DeviceWorker:
    """Runs device model calls on one worker thread, in submission order."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sim-bluez-devices")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class InFlight:
    """Method calls being answered."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if not self._count:
                self._idle.set()

    async def settled(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) until no call is being answered."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()


@dataclass(frozen=True, slots=True)
class Host:
    bus: MessageBus
    adapter_path: str
    clock: Callable[[], float]
    worker: DeviceWorker
    tick_s: float
    in_flight: InFlight
    stopping: asyncio.Event

    async def pause(self, seconds: float) -> None:
        """A fault delay of ``seconds`` real seconds, cut short when the service stops."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(seconds, 0.0)):
                await self.stopping.wait()
