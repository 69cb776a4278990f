"""One LE connection to a simulated peripheral: what the device sends, delivered in order.

Two sources feed the link: *procedures* — the notifications and indications a write causes
(an RACP request's records, then its response) — and *stored or live records* the device
sends by itself (:meth:`Peripheral.drain`) while every characteristic it pushes has a
listener — from the moment the last of them was enabled (:meth:`listeners_changed`). A
delivery task polls the device each radio tick (or at once when woken) and delivers one value
at a time, as ATT does (an indication waits for its confirmation before the next).

Rules: values go to the clients through ``deliver`` (``False``: nobody listened, the value is
dropped). The ``link_loss_after`` fault counts delivered values; when it fires the task stops
and calls ``lost`` — never tearing itself down. :meth:`close` returns the records' values not
yet delivered so the peripheral can indicate them again; undelivered procedure values are
dropped (the collector repeats the request).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from gateway_firmware_sim.bluez.host import Host
from gateway_firmware_sim.bluez.peripheral import Peripheral
from gateway_firmware_sim.devices.base import Notification

log = logging.getLogger(__name__)


class Link:
    def __init__(
        self,
        host: Host,
        peripheral: Peripheral,
        *,
        deliver: Callable[[int, bytes], bool],
        listening: Callable[[], bool],
        lost: Callable[[], None],
    ) -> None:
        self._host = host
        self._peripheral = peripheral
        self._deliver = deliver
        self._listening = listening
        self._lost = lost
        self._queue: deque[tuple[Notification, bool]] = deque()  # (value, from a record)
        self._wake = asyncio.Event()
        self._listening_from: float | None = None
        self._task = asyncio.create_task(self._run(), name=f"link {peripheral.address}")

    @property
    def procedure_running(self) -> bool:
        return any(not stored for _, stored in self._queue)

    def send(self, notes: list[Notification]) -> None:
        """The values a procedure (a write) causes, after those already queued."""
        self._queue.extend((note, False) for note in notes)
        self._wake.set()

    def abort_procedure(self) -> None:
        """Drop the procedure values not yet sent (an RACP Abort Operation)."""
        self._queue = deque(item for item in self._queue if item[1])

    def listeners_changed(self) -> None:
        """A session started or ended: the device starts listening now — the moment its CCCD
        is written, before the client hears back — or stops; then it is polled at once."""
        if not self._listening():
            self._listening_from = None
        elif self._listening_from is None:
            self._listening_from = self._host.clock()
        self._wake.set()

    async def close(self) -> list[Notification]:
        """Stop; the records' values not delivered."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        left = [note for note, stored in self._queue if stored]
        self._queue.clear()
        return left

    async def _run(self) -> None:
        faults = self._peripheral.faults
        while True:
            try:
                await self._poll()
            except Exception:  # a device model bug: log it, keep the link
                log.exception("device %s failed to send", self._peripheral.address)
            while self._queue:
                note, _ = self._queue.popleft()
                if self._deliver(note.uuid, note.data) and faults.count_delivered():
                    asyncio.get_running_loop().call_soon(self._lost)
                    return
                await self._host.pause(faults.notify_interval_s)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel
            # that comes as the wake-up does (CPython gh-86296), and close() would hang.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._host.tick_s):
                    await self._wake.wait()
            self._wake.clear()

    async def _poll(self) -> None:
        since = self._listening_from
        if since is None:
            return
        notes = await self._host.worker.run(self._peripheral.drain, since, self._host.clock())
        self._queue.extend((note, True) for note in notes)
