"""From the outbox to the hub: frames messages out, end-to-end acks in, the status retained.

Everything here runs on the event loop; the MQTT link's thread only hands events over, and
releases (SQLite deletes) go to the outbox worker thread.

* **Publishing** — what is due (never sent on this connection, sent on a lost one without
  PUBACK, or waiting longer than ``ack_timeout_s`` for its ack: ``hub.core.delivery``) goes
  out as frames messages, one device at a time, chunked by ``hub.core.frame_messages`` (a
  context frame at the head of every message whose records it dates), QoS 1, at most
  ``max_messages_in_flight`` unacknowledged by the broker.
* **Acks** — ``hs/v1/gateways/{id}/acks`` (strictly parsed) release their seqs: only the hub's
  ack after its durable commit deletes a frame.
* **Status** — retained on ``hs/v1/gateways/{id}/status`` at each connection, every
  ``status_interval_s`` and (at most once a second) when a device's health changes:
  online, the gateway's time and zone, the outbox's size and refusals, each device's
  connection, last-seen time, battery and clock offset. The last will says offline.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from hub import __version__
from hub.adapters.frame_outbox import FrameOutbox
from hub.adapters.gateway_mqtt import (
    Connected,
    Delivered,
    Disconnected,
    GatewayMqtt,
    MqttEvent,
    Received,
)
from hub.adapters.outbox_worker import OutboxWorker
from hub.core.delivery import DeliveryTracker
from hub.core.frame_messages import DeviceInfo, OutboxItem, chunk_frames, frames_message
from hub.core.wire import (
    DeviceHealth,
    GatewayStatus,
    OutboxHealth,
    WireError,
    encode_gateway_status,
    gateway_acks_topic,
    gateway_frames_topic,
    gateway_status_topic,
    parse_gateway_acks,
)
from hub.services.ble_gateway.journal import frame_time

log = logging.getLogger(__name__)

SOFTWARE = f"hub-ble-gateway/{__version__}"
OFFLINE = GatewayStatus("offline")


class Uplink:
    def __init__(
        self,
        gateway_id: str,
        zone: str,
        worker: OutboxWorker,
        mqtt: GatewayMqtt,
        devices: Sequence[DeviceInfo],
        health: Callable[[], list[DeviceHealth]],
        clock: Callable[[], datetime],
        *,
        ack_timeout_s: float,
        status_interval_s: float,
        max_frames_per_message: int,
        max_messages_in_flight: int,
    ) -> None:
        self.gateway_id = gateway_id
        self.zone = zone
        self.worker = worker
        self.mqtt = mqtt
        self.devices = {d.device_id: d for d in devices}
        self.health = health
        self.clock = clock
        self.tracker = DeliveryTracker(ack_timeout_s)
        self.status_interval_s = status_interval_s
        self.max_frames = max_frames_per_message
        self.max_in_flight = max_messages_in_flight
        self.frames_topic = gateway_frames_topic(gateway_id)
        self.acks_topic = gateway_acks_topic(gateway_id)
        self.status_topic = gateway_status_topic(gateway_id)
        self.generation = 0
        self._unconfirmed: set[tuple[int, int]] = set()  # (generation, mid) without PUBACK
        self._wake = asyncio.Event()
        self._status_due = asyncio.Event()
        self._releases: set[asyncio.Future[int]] = set()

    @property
    def outbox(self) -> FrameOutbox:
        return self.worker.outbox

    # --- events from the link (on the loop) -------------------------------------------------

    def on_event(self, event: MqttEvent) -> None:
        if isinstance(event, Connected):
            self.generation = event.generation
            self._unconfirmed.clear()
            self._status_due.set()
            self._wake.set()
        elif isinstance(event, Disconnected):
            self.tracker.connection_lost(event.generation)
        elif isinstance(event, Delivered):
            self._unconfirmed.discard((event.generation, event.mid))
            self.tracker.pubacked(event.generation, event.mid)
            self._wake.set()
        elif isinstance(event, Received) and event.topic == self.acks_topic:
            self._on_acks(event.payload)

    def _on_acks(self, payload: bytes) -> None:
        try:
            acks = parse_gateway_acks(payload)
        except WireError as err:
            log.warning("an unreadable ack message was ignored: %s", err)
            return
        for device_id, seqs in acks.items():
            keys = [(device_id, seq) for seq in seqs]
            release = self.worker.release(device_id, seqs)
            self._releases.add(release)
            # Forgotten in flight only once gone from the outbox: until then they stay
            # pending there, and would look due again.
            release.add_done_callback(functools.partial(self._released, keys))
        self._status_due.set()

    def _released(self, keys: list[tuple[str, int]], done: asyncio.Future[int]) -> None:
        self._releases.discard(done)
        if not done.cancelled() and done.exception() is None:
            self.tracker.released(keys)

    def wake(self) -> None:
        """New frames are in the outbox: publish soon."""
        self._wake.set()

    def health_changed(self) -> None:
        self._status_due.set()

    # --- publishing ---------------------------------------------------------------------------

    def flush(self) -> int:
        """Publish what is due; the number of messages published."""
        if not self.mqtt.connected:
            return 0
        due = self.tracker.due(self.outbox.pending(), self.generation, time.monotonic())
        by_device: dict[str, list[OutboxItem]] = {}
        for item in due:
            by_device.setdefault(item.stream, []).append(item)
        published = 0
        gateway_time = frame_time(self.clock())
        for device_id, items in by_device.items():
            info = self.devices.get(device_id)
            if info is None:
                continue  # a device no longer on the allow-list: its frames wait for it
            contexts = {
                i.context_seq: context
                for i in items
                if i.context_seq is not None
                and (context := self.outbox.get(device_id, i.context_seq)) is not None
            }
            for chunk in chunk_frames(items, contexts, self.max_frames):
                if len(self._unconfirmed) >= self.max_in_flight:
                    return published
                payload = frames_message(gateway_time, info, chunk, zone=self.zone)
                mid = self.mqtt.publish(self.frames_topic, payload)
                if mid is None:
                    return published
                self._unconfirmed.add((self.generation, mid))
                self.tracker.sent([i.key for i in chunk], mid, self.generation, time.monotonic())
                published += 1
        return published

    def status(self, *, online: bool = True) -> GatewayStatus:
        outbox = self.outbox
        return GatewayStatus(
            "online" if online else "offline",
            self.clock(),
            self.zone,
            SOFTWARE,
            OutboxHealth(len(outbox), outbox.held_bytes, outbox.refused),
            tuple(self.health()),
        )

    def publish_status(self) -> None:
        self.mqtt.publish(self.status_topic, encode_gateway_status(self.status()), retain=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish and report until ``stop``."""
        await asyncio.gather(self._publishing(stop), self._reporting(stop))

    async def _publishing(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            self.flush()
            # Acks and PUBACKs wake it; a timeout re-checks what waits for its ack.
            await _first(self._wake, stop, timeout=1.0)

    async def _reporting(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await _first(self._status_due, stop, timeout=self.status_interval_s)
            self._status_due.clear()
            if self.mqtt.connected:
                self.publish_status()
            await _first(stop, stop, timeout=1.0)  # at most one status a second


async def _first(event: asyncio.Event, stop: asyncio.Event, *, timeout: float) -> None:
    """Until ``event`` or ``stop`` is set, or ``timeout`` passes."""
    waits = [asyncio.ensure_future(e.wait()) for e in {event, stop}]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
