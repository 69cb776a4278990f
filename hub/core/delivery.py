"""Which outbox items to publish now (pure): a gateway uplink's memory of what is in flight.

Shared by the product gateway (``hub ble-gateway``) and the simulated gateway firmware.

An item is *due* when it was never published on the current connection, or when it was
published on an older connection and the broker never confirmed it (PUBACK), or when it has
waited longer than ``ack_timeout_s`` for its release (the hub's end-to-end ack, or a PUBACK
lost with its connection). Publishing marks it in flight; a release forgets it.
Time is passed in (monotonic seconds); nothing here touches a socket.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.core.frame_messages import OutboxItem

Key = tuple[str, int]


@dataclass(slots=True)
class _Flight:
    generation: int
    sent_at: float
    pubacked: bool = False


@dataclass(slots=True)
class DeliveryTracker:
    ack_timeout_s: float = 30.0
    _flights: dict[Key, _Flight] = field(default_factory=dict)
    _by_mid: dict[tuple[int, int], tuple[Key, ...]] = field(default_factory=dict)
    resent: int = 0

    def due(self, items: Iterable[OutboxItem], generation: int, now: float) -> list[OutboxItem]:
        out = []
        for item in items:
            flight = self._flights.get(item.key)
            if (
                flight is None
                or (flight.generation != generation and not flight.pubacked)
                or now - flight.sent_at >= self.ack_timeout_s
            ):
                out.append(item)
        return out

    def sent(self, keys: Iterable[Key], mid: int, generation: int, now: float) -> None:
        keys = tuple(keys)
        for key in keys:
            flight = self._flights.get(key)
            if flight is not None and (
                flight.generation != generation or now - flight.sent_at >= self.ack_timeout_s
            ):
                self.resent += 1  # (a context frame leading several messages is not a resend)
            self._flights[key] = _Flight(generation, now)
        self._by_mid[(generation, mid)] = keys

    def pubacked(self, generation: int, mid: int) -> tuple[Key, ...]:
        """The broker confirmed message ``mid``: its keys (to release, for PUBACK release)."""
        keys = self._by_mid.pop((generation, mid), ())
        for key in keys:
            flight = self._flights.get(key)
            if flight is not None and flight.generation == generation:
                flight.pubacked = True
        return keys

    def released(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self._flights.pop(key, None)

    def connection_lost(self, generation: int) -> None:
        """Messages of ``generation`` without PUBACK will never get one."""
        for mid_key in [k for k in self._by_mid if k[0] == generation]:
            del self._by_mid[mid_key]

    def in_flight(self) -> int:
        return len(self._flights)
