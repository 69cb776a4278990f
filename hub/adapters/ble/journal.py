"""Where a device session puts what it captures: the gateway's durable outbox, per device.

A session hands every value to its :class:`DeviceJournal` and waits for the commit before
it moves on (a checkpoint never runs ahead of the records it counts). The gateway's
implementation (``hub.services.ble_gateway.journal``) writes to the frame outbox on its
worker thread; the session only knows this protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Captured:
    """A characteristic value as received: its 16-bit UUID, its bytes, and the gateway's
    time when it arrived (aware, in the gateway's zone)."""

    number: int
    data: bytes
    at: datetime


class DeviceJournal(Protocol):
    device_id: str

    def now(self) -> datetime:
        """The gateway's clock: aware, in its IANA zone."""
        ...

    @property
    def nearly_full(self) -> bool:
        """The outbox fetches nothing more (``hub.adapters.frame_outbox``)."""
        ...

    def checkpoint(self) -> int | None:
        """The control point number of the newest record stored (None: none yet)."""
        ...

    def feature_known(self, number: int) -> bool:
        """Whether a feature characteristic was forwarded since pairing."""
        ...

    async def add_context(self, captured: Captured) -> int:
        """Store a device clock frame; its seq, for the records it dates."""
        ...

    async def add_session(self, captured: Captured) -> int:
        """Store a CGM Session Start Time unless it is the one held already; its seq. A new
        session forgets the checkpoint (its time offsets start again)."""
        ...

    async def add_feature(self, captured: Captured) -> None: ...

    async def add_records(
        self,
        frames: Sequence[Captured],
        context_seq: int | None,
        checkpoint: int | None,
        *,
        refetchable: bool,
    ) -> bool:
        """Store one record's frames (a measurement, with its context) and the checkpoint
        they make, atomically. ``refetchable``: the device keeps the record until asked again
        (control point transfers) — with the outbox nearly full it is left there and False
        is returned; otherwise it is stored (or, outbox full, refused and counted)."""
        ...

    def heard(
        self,
        *,
        connected: bool | None = None,
        battery: int | None = None,
        clock_offset_s: Decimal | None = None,
    ) -> None:
        """What the gateway learnt of the device (its status); the time is now."""
        ...
