"""What the firmware of a BLE→MQTT gateway in a remote-monitoring kit does (pure logic).

A gateway holds several paired devices. For each step of simulated time it listens to them
(if it has power), runs each device's procedure, and commits what it received to its durable
outbox *before* anything is published:

* on pairing: set the device clock (Date Time write), read its features (scale);
* once a day: set the device clocks again (devices whose clock cannot be set keep drifting);
* glucose meter: when the meter advertises new records, write an RACP request "report
  records with sequence number >= last + 1"; forward the Glucose Measurement and Context
  notifications and the RACP response;
* CGM: read the CGM Session Start Time when a session is new (it dates the records after it:
  a *context* frame, see :mod:`hub.core.frame_messages`); after being away (power cut,
  first pairing after a reboot), back-fill with an RACP request "time offset >= last + 1";
  then forward the live notifications;
* other devices: forward what they send (stored records on connection, live notifications).

The uplink publishes the outbox's items as frames messages (``hub.core.frame_messages``,
docs/wire.md). The outbox is the product gateway's (``hub.adapters.frame_outbox``); the
per-device firmware state (RACP cursors, session, clock sync) is in its state table,
committed with the frames it explains.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from device_profiles import uuids
from device_profiles.codecs import parse_characteristic
from device_profiles.errors import DecodeError
from device_profiles.gatt_time import GattDateTime, encode_date_time
from device_profiles.racp import (
    RacpFilter,
    RacpOpCode,
    RacpOperator,
    RacpRequest,
    encode_racp_request,
)
from gateway_firmware_sim.devices.base import CLOCKLESS_KINDS, BleDevice, Notification
from gateway_firmware_sim.devices.cgm import ContinuousGlucoseMonitor
from gateway_firmware_sim.devices.glucose_meter import GlucoseMeter
from gateway_firmware_sim.physiology._random import generator
from gateway_firmware_sim.timebase import DAY, Zone, iso_local, naive_local
from hub.adapters.frame_outbox import FrameOutbox
from hub.core.frame_messages import DeviceInfo, OutboxItem

CLOCK_SYNC_EVERY_S = DAY


def uuid_text(number: int) -> str:
    return f"{number:04X}"


@dataclass(slots=True)
class StepReport:
    frames: int = 0
    malformed: int = 0
    heard: dict[str, list[Notification]] | None = None  # device id -> what it sent


def corrupt(uuid: int, data: bytes, rng: np.random.Generator) -> bytes:
    """A damaged copy of a characteristic value that no codec accepts (checked here)."""
    candidates = [data + bytes([int(rng.integers(0, 256))]), data[: max(1, len(data) // 2)]]
    if data:
        candidates.append(bytes([data[0] | 0xE0]) + data[1:])  # reserved flag bits
    for candidate in candidates:
        try:
            parse_characteristic(uuid, candidate)
        except DecodeError:
            return candidate
    return b""  # an empty value never decodes


class GatewayFirmware:
    def __init__(
        self,
        gateway_id: str,
        zone: Zone,
        outbox: FrameOutbox,
        *,
        seed: int = 0,
        malformed_rate: float = 0.0,
    ) -> None:
        self.gateway_id = gateway_id
        self.zone = zone
        self.outbox = outbox
        self.malformed_rate = malformed_rate
        self.devices: dict[str, BleDevice] = {}
        self.overheard: dict[str, BleDevice] = {}
        self.listening_since: dict[str, float] = {}
        self.reconnected: set[str] = set()
        self._state = outbox.states()
        self._rng = generator(seed, gateway_id, "firmware", len(self._state))
        self.info: dict[str, DeviceInfo] = {}
        for key, value in self._state.items():
            if key.startswith("info:"):
                self.info[key[5:]] = DeviceInfo(**json.loads(value))

    # --- pairing ------------------------------------------------------------------------

    def pair(self, device: BleDevice, now: float) -> None:
        self.devices[device.device_id] = device
        self._know(device)
        self.listening_since[device.device_id] = now
        self.reconnected.add(device.device_id)

    def listen_to(self, device: BleDevice, now: float) -> None:
        """A second gateway in range: it forwards what ``device`` sends, without pairing."""
        self.overheard[device.device_id] = device
        self._know(device)
        self.listening_since[device.device_id] = now

    def unpair(self, device_id: str) -> None:
        self.devices.pop(device_id, None)
        self.overheard.pop(device_id, None)
        self.listening_since.pop(device_id, None)

    def _know(self, device: BleDevice) -> None:
        self.info[device.device_id] = DeviceInfo(
            device.device_id, device.address, device.profile_id
        )

    # --- one step of listening ----------------------------------------------------------

    def step(self, t0: float, t1: float) -> StepReport:
        """Listen to every paired device over ``[t0, t1)``; commit the frames received."""
        report = StepReport(heard={})
        batch = self._batch()
        state: dict[str, str] = {}
        for device_id, device in self.devices.items():
            notifications = self._exchange(device, t0, t1, batch, state)
            assert report.heard is not None
            report.heard[device_id] = notifications
        self._commit(batch, state, report)
        return report

    def overhear(self, device_id: str, notifications: Sequence[Notification]) -> StepReport:
        """Forward what another gateway's device sent (this one was in range too)."""
        report = StepReport()
        device = self.overheard.get(device_id)
        if device is None or not notifications:
            return report
        batch = self._batch()
        state: dict[str, str] = {}
        context = self._context(device, min(n.time for n in notifications), batch, state)
        if context is None and device.kind not in CLOCKLESS_KINDS:
            # It reads the device's clock too: its frames are dated like the other gateway's.
            last = max(n.time for n in notifications)
            clock = Notification(uuids.CURRENT_TIME, device.current_time(last), last)
            context = batch.add(device_id, clock, None, 0.3)
            for notification in notifications:
                batch.add(device_id, notification, context, 0.3)
        else:
            for notification in notifications:
                batch.add(
                    device_id,
                    notification,
                    context if notification.uuid == uuids.CGM_MEASUREMENT else None,
                    0.3,
                )
        self._commit(batch, state, report)
        return report

    def _batch(self) -> _Batch:
        return _Batch(self.outbox, self.zone, self._rng, self.malformed_rate)

    def _commit(self, batch: _Batch, state: dict[str, str], report: StepReport) -> None:
        report.malformed = batch.damaged
        for device_id, info in self.info.items():
            key = f"info:{device_id}"
            text = json.dumps(
                {
                    "device_id": info.device_id,
                    "address": info.address,
                    "profile_id": info.profile_id,
                }
            )
            if self._state.get(key) != text:
                state[key] = text
        self.outbox.append(batch.items, state)
        self._state.update(state)
        report.frames = len(batch.items)

    def _exchange(
        self, device: BleDevice, t0: float, t1: float, batch: _Batch, state: dict[str, str]
    ) -> list[Notification]:
        device_id = device.device_id
        if not self._state.get(f"paired:{device_id}") and not state.get(f"paired:{device_id}"):
            for uuid in device.read_on_pairing:
                batch.add(device_id, Notification(uuid, device.read(uuid, t0), t0 + 1.0))
            state[f"paired:{device_id}"] = "1"
        device.advance(t1)
        # Where the device is, for a later run on the same data directory to resume from.
        state[f"measured:{device_id}"] = repr(device.measured_upto)
        if isinstance(device, GlucoseMeter):
            state[f"meter-seq:{device_id}"] = str(device.next_seq)
        since = self.listening_since.get(device_id, t0)
        received: list[Notification] = []
        # On connecting: read the device's clock first — it dated the records about to be
        # fetched — then fetch them, and only then set the clock (docs/wire.md).
        if isinstance(device, ContinuousGlucoseMonitor):
            received = self._read_cgm(device, since, t0, t1, batch, state)
        else:
            clock = Notification(uuids.CURRENT_TIME, device.current_time(t1), t1)
            if isinstance(device, GlucoseMeter):
                received = self._read_meter(device, t1, state)
            else:
                received = device.drain(since, t1)
            if received and device.kind not in CLOCKLESS_KINDS:
                clock_seq = batch.add(device_id, clock)
                for notification in received:
                    batch.add(device_id, notification, clock_seq)
            else:
                batch.extend(device_id, received)
        self._sync_clock(device, t1, state)
        self.reconnected.discard(device_id)
        return received

    def _sync_clock(self, device: BleDevice, now: float, state: dict[str, str]) -> None:
        key = f"clock-set:{device.device_id}"
        last = float(state.get(key) or self._state.get(key) or "-inf")
        if now - last < CLOCK_SYNC_EVERY_S:
            return
        local = GattDateTime.from_datetime(naive_local(now, self.zone))
        device.write(uuids.DATE_TIME, encode_date_time(local), now)
        state[key] = repr(now)

    def _cursor(self, key: str, state: dict[str, str]) -> int | None:
        text = state.get(key) or self._state.get(key)
        return None if text is None or text == "" else int(text)

    def _read_meter(
        self, meter: GlucoseMeter, now: float, state: dict[str, str]
    ) -> list[Notification]:
        key = f"racp:{meter.device_id}"
        cursor = self._cursor(key, state)
        if not meter.has_records_after(cursor):
            return []
        if cursor is None:
            request = RacpRequest(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.ALL_RECORDS)
        else:
            request = RacpRequest(
                RacpOpCode.REPORT_STORED_RECORDS,
                RacpOperator.GREATER_THAN_OR_EQUAL,
                RacpFilter.SEQUENCE_NUMBER,
                ((cursor + 1) % 0x10000,),
            )
        received = meter.write(uuids.RECORD_ACCESS_CONTROL_POINT, encode_racp_request(request), now)
        seqs = [
            int.from_bytes(n.data[1:3], "little")
            for n in received
            if n.uuid == uuids.GLUCOSE_MEASUREMENT
        ]
        if seqs:
            state[key] = str(max(seqs))
        return received

    def _context(
        self, device: BleDevice, now: float, batch: _Batch, state: dict[str, str]
    ) -> int | None:
        """The seq of the frame holding the CGM session's start time (read it if needed)."""
        if not isinstance(device, ContinuousGlucoseMonitor):
            return None
        device_id = device.device_id
        session = str(device.session_number)
        context_text = state.get(f"context:{device_id}") or self._state.get(f"context:{device_id}")
        session_text = state.get(f"session:{device_id}") or self._state.get(f"session:{device_id}")
        if context_text and session_text == session:
            seq = int(context_text)
            if batch.has(device_id, seq) or self.outbox.get(device_id, seq) is not None:
                return seq
        data = device.read(uuids.CGM_SESSION_START_TIME, now)
        seq = batch.add(device_id, Notification(uuids.CGM_SESSION_START_TIME, data, now))
        state[f"context:{device_id}"] = str(seq)
        state[f"session:{device_id}"] = str(device.session_number)
        return seq

    def _read_cgm(
        self,
        cgm: ContinuousGlucoseMonitor,
        since: float,
        t0: float,
        t1: float,
        batch: _Batch,
        state: dict[str, str],
    ) -> list[Notification]:
        device_id = cgm.device_id
        key = f"racp:{device_id}"
        received: list[Notification] = []
        session_key = f"session:{device_id}"
        known_session = state.get(session_key) or self._state.get(session_key)
        cursor = self._cursor(key, state)
        if known_session != str(cgm.session_number):
            cursor = None  # a new sensor: offsets start again
        if device_id in self.reconnected and cursor is not None:
            request = RacpRequest(
                RacpOpCode.REPORT_STORED_RECORDS,
                RacpOperator.GREATER_THAN_OR_EQUAL,
                RacpFilter.SEQUENCE_NUMBER,  # the CGM service's time offset filter
                (cursor + 1,),
            )
            received += cgm.write(
                uuids.RECORD_ACCESS_CONTROL_POINT, encode_racp_request(request), t0
            )
        received += cgm.drain(since, t1)
        records = [n for n in received if n.uuid == uuids.CGM_MEASUREMENT]
        context = None
        if records or known_session != str(cgm.session_number):
            context = self._context(cgm, min((n.time for n in received), default=t0), batch, state)
        for notification in received:
            batch.add(
                device_id,
                notification,
                context if notification.uuid == uuids.CGM_MEASUREMENT else None,
            )
        if records:
            offsets = [int.from_bytes(n.data[4:6], "little") for n in records]
            state[key] = str(max(offsets))
        return received

    def power_on(self, now: float) -> None:
        """Power is back: listen again; devices with memory are asked for what was missed."""
        for device_id in list(self.devices) + list(self.overheard):
            self.listening_since[device_id] = now
        self.reconnected.update(self.devices)


_NOT_READINGS = frozenset({"2A52", "2AAA", "2A2B", "2A34", "2A9E"})


class _Batch:
    """Frames of one step, numbered with the outbox's next seqs, committed together.

    With ``malformed_rate`` (a firmware fault), some measurement frames are followed by a
    damaged copy of themselves — the hub dead-letters it and still acks its seq.
    """

    def __init__(
        self,
        outbox: FrameOutbox,
        zone: Zone,
        rng: np.random.Generator | None = None,
        malformed_rate: float = 0.0,
    ) -> None:
        self.outbox = outbox
        self.zone = zone
        self.rng = rng
        self.malformed_rate = malformed_rate
        self.items: list[OutboxItem] = []
        self.damaged = 0
        self._next: dict[str, int] = {}
        self._seqs: set[tuple[str, int]] = set()

    def _push(self, stream: str, kind: str, data: bytes, time: str, context: int | None) -> int:
        seq = self._next.get(stream) or self.outbox.next_seq(stream)
        self._next[stream] = seq + 1
        self.items.append(OutboxItem(stream, seq, kind, data, time, context))
        self._seqs.add((stream, seq))
        return seq

    def add(
        self,
        stream: str,
        notification: Notification,
        context_seq: int | None = None,
        delay_s: float = 0.0,
    ) -> int:
        kind = uuid_text(notification.uuid)
        time = iso_local(notification.time + delay_s, self.zone)
        seq = self._push(stream, kind, notification.data, time, context_seq)
        if (
            self.rng is not None
            and kind not in _NOT_READINGS
            and self.rng.random() < self.malformed_rate
        ):
            bad = corrupt(notification.uuid, notification.data, self.rng)
            self._push(stream, kind, bad, time, context_seq)
            self.damaged += 1
        return seq

    def extend(self, stream: str, notifications: Iterable[Notification]) -> None:
        for notification in notifications:
            self.add(stream, notification)

    def has(self, stream: str, seq: int) -> bool:
        return (stream, seq) in self._seqs
