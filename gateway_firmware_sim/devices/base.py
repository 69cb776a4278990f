"""What every simulated BLE device shares: a wall clock, a record memory, a GATT surface.

A simulated device is a GATT server without the radio. Time goes in as data (``now``, UTC
epoch seconds of simulated time); bytes come out, made by the ``device_profiles`` encoders,
exactly as a real device would notify or indicate them. The gateway firmware drives it:

* :meth:`BleDevice.advance` — the wearer measures; records go into the device's memory,
  stamped with the device's own clock (local time, no zone, possibly wrong);
* :meth:`BleDevice.drain` — what the device sends by itself while a collector listens:
  stored records on reconnection (store-and-forward devices), or live notifications (heart
  rate, continuous oximetry: lost when nobody listens);
* :meth:`BleDevice.write` / :meth:`BleDevice.read` — GATT writes and reads: Date Time (the
  gateway sets the clock), the Record Access Control Point (glucose meter, CGM), the CGM
  session start time, features.

Accounting, used to prove the hub stores every reading exactly once: a record's readings are
counted as *delivered* the first time the device transmits the record, and as *lost* when the
device drops a record nobody received (memory full, live notification unheard).
"""

from __future__ import annotations

import abc
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from device_profiles import uuids
from device_profiles.codecs import decode_characteristic
from device_profiles.gatt_time import (
    AdjustReason,
    CurrentTime,
    GattDateTime,
    decode_date_time,
    encode_current_time,
)
from gateway_firmware_sim.physiology.person import Person
from gateway_firmware_sim.timebase import Zone, naive_local

LATENCY_S = 2.0  # from the end of a measurement to the value reaching the gateway
NOT_ADJUSTED = AdjustReason(0)
# Device kinds without a wall clock (no Current Time Service): their records take the
# collector's receive time.
CLOCKLESS_KINDS = frozenset({"hr-strap"})
SPACING_S = 0.2  # between consecutive notifications of a transfer


@dataclass(slots=True)
class DeviceClock:
    """A device's wall clock: the wall time of its zone (daylight saving included) plus an
    error that drifts.

    ``settable=False`` is a device whose clock the gateway cannot set (no Current Time
    Service, or firmware that ignores the write).
    """

    zone: Zone
    error_s: float = 0.0
    drift_ppm: float = 0.0
    set_at: float = 0.0
    settable: bool = True

    def error(self, t: float) -> float:
        return self.error_s + self.drift_ppm * 1e-6 * (t - self.set_at)

    def local(self, t: float) -> datetime:
        """The naive local time the device shows at ``t`` (whole seconds)."""
        return naive_local(t + self.error(t), self.zone)

    def gatt(self, t: float) -> GattDateTime:
        return GattDateTime.from_datetime(self.local(t))

    def set_to(self, t: float, shown: datetime) -> None:
        """Make the clock show ``shown`` (naive local) at ``t``; the drift continues."""
        self.error_s = (shown - naive_local(t, self.zone)).total_seconds() - (t % 1.0)
        self.set_at = t

    def reset_to(self, t: float, shown: datetime) -> None:
        """A reset (battery change...): the clock restarts from ``shown``, whoever asks."""
        self.set_to(t, shown)


@dataclass(frozen=True, slots=True)
class Notification:
    """One characteristic value the device sent (notified or indicated)."""

    uuid: int
    data: bytes
    time: float  # when the collector received it (simulated UTC)


@dataclass(slots=True)
class StoredRecord:
    """A measurement in the device's memory: the value(s) it will send, and their readings."""

    time: float  # when it was measured (true UTC)
    values: tuple[tuple[int, bytes], ...]  # (characteristic, bytes), in sending order
    readings: int  # patient readings the hub will store from it
    seq: int | None = None  # the device's own record number, where it has one
    key: int = 0  # a device-specific index (CGM: time offset)
    live: bool = False  # a live notification: not stored, lost if nobody listens
    transmitted: bool = False
    # Values sent before ``values`` only to a collector that listened while the record was
    # measured (Intermediate Cuff Pressure during the measurement); no readings of their own.
    prelude: tuple[tuple[int, bytes], ...] = ()


def readings_in(uuid: int, data: bytes) -> int:
    """How many patient readings the hub gets from one measurement value (decoded here with
    the very codecs the hub uses, so the count and the bytes cannot disagree)."""
    return sum(1 for m in decode_characteristic(uuid, data) if m.value is not None)


@dataclass(slots=True)
class DeviceStats:
    readings_delivered: int = 0
    readings_lost: int = 0
    records: int = 0
    seqs: list[int] = field(default_factory=list)  # record numbers delivered, in order


class BleDevice(abc.ABC):
    """A device of one catalog ``ble-gatt`` profile. Subclasses implement :meth:`_measure`."""

    profile_id: str = ""
    kind: str = ""
    #: Records the device keeps (the oldest untransmitted one is dropped when full).
    capacity: int = 200
    #: Characteristics the gateway reads once when it pairs (features); forwarded.
    read_on_pairing: tuple[int, ...] = ()

    def __init__(
        self, device_id: str, address: str, wearer: Person, clock: DeviceClock, start: float
    ) -> None:
        self.device_id = device_id
        self.address = address
        self.wearer = wearer
        self.clock = clock
        self.measured_upto = start
        self.memory: deque[StoredRecord] = deque()
        self.stats = DeviceStats()
        self.duplicate_next = False  # fault: send the last record again on next drain
        self._last_sent: StoredRecord | None = None

    # --- measuring ----------------------------------------------------------------------

    @abc.abstractmethod
    def _measure(self, t0: float, t1: float) -> list[StoredRecord]:
        """Records of the measurements taken in ``[t0, t1)``, in time order."""

    def advance(self, until: float) -> None:
        """Let the wearer measure up to ``until``; the records go into memory."""
        if until <= self.measured_upto:
            return
        for record in self._measure(self.measured_upto, until):
            self.stats.records += 1
            self.memory.append(record)
            if len(self.memory) > self.capacity:
                self._forget(self.memory.popleft())
        self.measured_upto = until

    def _forget(self, record: StoredRecord) -> None:
        if not record.transmitted:
            self.stats.readings_lost += record.readings

    def _transmitted(self, record: StoredRecord) -> None:
        if not record.transmitted:
            record.transmitted = True
            self.stats.readings_delivered += record.readings
            if record.seq is not None:
                self.stats.seqs.append(record.seq)
        self._last_sent = record

    def move_to(self, wearer: Person) -> None:
        """The device changes hands: from now on it measures ``wearer``."""
        self.wearer = wearer

    # --- what the device sends by itself ------------------------------------------------

    def drain(self, listening_from: float | None, now: float) -> list[Notification]:
        """Values sent up to ``now``. ``listening_from`` is when the collector started to
        listen (``None``: nobody listens). Stored records: every untransmitted one, then
        removed from memory. Live notifications: those measured while listened to; the
        others are lost."""
        out: list[Notification] = []
        if listening_from is None:
            kept = [r for r in self.memory if not r.live]
            for record in self.memory:
                if record.live:
                    self._forget(record)
            self.memory = deque(kept)
            return out
        last = self._last_sent
        if self.duplicate_next and last is not None and not last.live:
            # A stored record indicated again (say its confirmation was lost): same bytes.
            # Never a live value: without a time of its own it would be a new reading.
            out += self._notify(last, max(last.time, listening_from))
        self.duplicate_next = False
        cursor = listening_from
        while self.memory:
            record = self.memory.popleft()
            if record.live and record.time < listening_from:
                self._forget(record)
                continue
            when = max(record.time + LATENCY_S, cursor)
            sent = self._notify(record, when, fresh=record.time >= listening_from)
            out += sent
            cursor = when + SPACING_S * len(sent)
            self._transmitted(record)
        return out

    def _notify(
        self, record: StoredRecord, when: float, *, fresh: bool = False
    ) -> list[Notification]:
        """The notifications of ``record`` from ``when``; ``fresh``: the collector listened
        while it was measured, so its prelude goes first."""
        values = (*record.prelude, *record.values) if fresh else record.values
        return [
            Notification(uuid, data, when + i * SPACING_S) for i, (uuid, data) in enumerate(values)
        ]

    # --- GATT reads and writes ----------------------------------------------------------

    def read(self, uuid: int, now: float) -> bytes:
        raise KeyError(f"{self.kind}: characteristic {uuid:04X} is not readable")

    def current_time(self, now: float, adjust_reason: AdjustReason = NOT_ADJUSTED) -> bytes:
        """Current Time (0x2A2B) as the device's own clock shows it at ``now`` — right or
        wrong: what a gateway reads on connecting to learn the clock's offset."""
        shown = now + self.clock.error(now)
        date_time = self.clock.gatt(now)
        fractions = int((shown % 1.0) * 256)
        day = date_time.to_datetime()
        weekday = day.isoweekday() if day is not None else 0
        return encode_current_time(CurrentTime(date_time, weekday, fractions, adjust_reason))

    def write(self, uuid: int, data: bytes, now: float) -> list[Notification]:
        """A GATT write; returns the notifications/indications it causes."""
        if uuid == uuids.DATE_TIME:
            self.set_clock(data, now)
            return []
        raise KeyError(f"{self.kind}: characteristic {uuid:04X} is not writable")

    def set_clock(self, data: bytes, now: float) -> bool:
        """The collector writes a Date Time: the clock takes it unless it cannot be set."""
        if not self.clock.settable:
            return False
        shown = decode_date_time(data).to_datetime()
        if shown is None:
            return False
        return self.set_clock_to(shown, now)

    def set_clock_to(self, shown: datetime, now: float) -> bool:
        """Make the clock show ``shown`` (naive local, fractions kept) at ``now`` — a Current
        Time write — unless it cannot be set."""
        if not self.clock.settable:
            return False
        self.clock.set_to(now, shown)
        return True


def whole_seconds(t: float) -> float:
    """Device clocks and wire times have whole seconds: measurement times are floored."""
    return float(int(t // 1))


def minutes_between(later: datetime, earlier: datetime) -> int:
    return round((later - earlier) / timedelta(minutes=1))
