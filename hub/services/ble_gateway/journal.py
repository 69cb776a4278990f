"""Each device's journal: what its sessions capture, committed to the gateway's outbox, and
what the gateway knows of it for its status.

Stream = the hub's device id; kind = the characteristic's 16-bit UUID (``"2A18"``); time =
the gateway's time when the value arrived, RFC 3339 with its offset. The device's own state
is committed with the frames it explains, under keys named for it:

* ``checkpoint:<device>`` — control point number (sequence number, CGM time offset) of the
  newest record stored; empty after a new CGM session;
* ``feature:<device>:<uuid>`` — a feature characteristic was forwarded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from device_profiles import uuids
from hub.adapters.ble.journal import Captured
from hub.adapters.outbox_worker import NewItem, OutboxWorker
from hub.core.wire import DeviceHealth


def frame_time(moment: datetime) -> str:
    """RFC 3339 with the gateway's offset, to the millisecond."""
    return moment.isoformat(timespec="milliseconds")


@dataclass(slots=True)
class Health:
    """What the status says of one device."""

    connected: bool = False
    last_seen: datetime | None = None
    battery: int | None = None
    clock_offset_s: Decimal | None = None


class OutboxJournal:
    """The :class:`~hub.adapters.ble.journal.DeviceJournal` of one device."""

    def __init__(
        self,
        device_id: str,
        worker: OutboxWorker,
        states: Mapping[str, str],
        clock: Callable[[], datetime],
        changed: Callable[[], None],
    ) -> None:
        self.device_id = device_id
        self.worker = worker
        self._clock = clock
        self._changed = changed
        self._checkpoint_key = f"checkpoint:{device_id}"
        self._checkpoint = _number(states.get(self._checkpoint_key))
        self._features = {
            key.rsplit(":", 1)[1] for key in states if key.startswith(f"feature:{device_id}:")
        }
        self.health = Health()

    def now(self) -> datetime:
        return self._clock()

    @property
    def nearly_full(self) -> bool:
        return self.worker.outbox.nearly_full

    def checkpoint(self) -> int | None:
        return self._checkpoint

    def feature_known(self, number: int) -> bool:
        return uuids.uuid_str(number) in self._features

    async def _append(
        self, frames: Sequence[Captured], context_seq: int | None, state: Mapping[str, str]
    ) -> tuple[list[int], int]:
        items = [
            NewItem(uuids.uuid_str(c.number), c.data, frame_time(c.at), context_seq) for c in frames
        ]
        appended = await self.worker.append(self.device_id, items, state)
        self.heard()
        return [item.seq for item in appended.accepted], len(appended.refused)

    async def add_context(self, captured: Captured) -> int:
        seqs, _ = await self._append([captured], None, {})
        return seqs[0]  # a context is never refused

    async def add_session(self, captured: Captured) -> int:
        held = self.worker.outbox.latest(self.device_id, uuids.uuid_str(captured.number))
        if held is not None and held.data == captured.data:
            return held.seq
        seqs, _ = await self._append([captured], None, {self._checkpoint_key: ""})
        self._checkpoint = None  # a new session: its time offsets start again
        return seqs[0]

    async def add_feature(self, captured: Captured) -> None:
        name = uuids.uuid_str(captured.number)
        await self._append([captured], None, {f"feature:{self.device_id}:{name}": "1"})
        self._features.add(name)

    async def add_records(
        self,
        frames: Sequence[Captured],
        context_seq: int | None,
        checkpoint: int | None,
        *,
        refetchable: bool,
    ) -> bool:
        if refetchable and self.nearly_full:
            return False
        state = {}
        if checkpoint is not None and checkpoint != self._checkpoint:
            state[self._checkpoint_key] = str(checkpoint)
        _, refused = await self._append(frames, context_seq, state)
        if refused:
            return False  # counted by the outbox, logged, in the status
        self._checkpoint = checkpoint
        return True

    def heard(
        self,
        *,
        connected: bool | None = None,
        battery: int | None = None,
        clock_offset_s: Decimal | None = None,
    ) -> None:
        health = self.health
        health.last_seen = self.now()
        if connected is not None:
            health.connected = connected
        if battery is not None:
            health.battery = battery
        if clock_offset_s is not None:
            health.clock_offset_s = clock_offset_s
        self._changed()

    def status(self, address: str, profile_id: str) -> DeviceHealth:
        health = self.health
        return DeviceHealth(
            self.device_id,
            address,
            profile_id,
            health.connected,
            health.last_seen,
            health.battery,
            health.clock_offset_s,
        )


def _number(text: str | None) -> int | None:
    return int(text) if text else None
