"""Real time, injected: the one place the fleet reads a clock or waits.

The simulation's pure parts take time as data (``timebase.py``). The fleet, which runs against
a real broker and hub, needs the wall clock (simulated time never runs ahead of it), a
monotonic clock (its pace, throttles and ack timeouts) and two ways of waiting: a pause, and a
wait for an event with a timeout. All four go through one :class:`Clock` that the fleet is
given, so a test can drive it on a clock of its own; :data:`SYSTEM_CLOCK` is the machine's.

:class:`Inbox` carries the MQTT links' events from their network thread to the fleet's
thread, and waits for them through the clock. (The links' network thread itself waits on
their sockets in real time: that is the links' loop, not the fleet's.)
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Final, Generic, Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    def time(self) -> float:
        """The wall clock: UTC epoch seconds."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for durations)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Pause the calling thread."""
        ...

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """Wait until ``event`` is set or ``timeout`` seconds pass; whether it is set."""
        ...


class SystemClock:
    """The machine's clocks and the thread's own waits."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def wait(self, event: threading.Event, timeout: float) -> bool:
        return event.wait(timeout)


SYSTEM_CLOCK: Final = SystemClock()


class Inbox(Generic[T]):
    """Items put from any thread, taken on one: waiting for the first goes through a clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._items: queue.SimpleQueue[T] = queue.SimpleQueue()
        self._arrived = threading.Event()

    def put(self, item: T) -> None:
        self._items.put(item)
        self._arrived.set()

    def take(self, timeout: float) -> list[T]:
        """Every item waiting; when there is none, wait up to ``timeout`` for some."""
        items = self._drain()
        if items or timeout <= 0:
            return items
        self._arrived.clear()
        items = self._drain()  # what was put between the drain and the clear
        if not items:
            self._clock.wait(self._arrived, timeout)
            items = self._drain()
        return items

    def _drain(self) -> list[T]:
        items: list[T] = []
        while True:
            try:
                items.append(self._items.get_nowait())
            except queue.Empty:
                return items
