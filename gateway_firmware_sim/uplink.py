"""An outbox, an MQTT link and the memory of what is in flight: how items reach the hub.

Two kinds share the mechanics and differ in how an item is released:

* :class:`GatewayUplink` — frames of a gateway's devices, one frames message per device per
  flush (docs/wire.md); released by the hub's end-to-end acks on
  ``hs/v1/gateways/{id}/acks``. Retained status ``online``/``offline`` with the last will.
* :class:`DeviceUplink` — an MQTT-native device's messages; released by the broker's PUBACK.

All methods run on the fleet's thread; the links' network thread only hands events over.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gateway_firmware_sim.devices.native import NativeDevice
from gateway_firmware_sim.mqtt_link import (
    Connected,
    Delivered,
    Disconnected,
    LinkEvent,
    MqttLink,
    Received,
)
from gateway_firmware_sim.timebase import Zone, iso_local
from hub.adapters.frame_outbox import FrameOutbox
from hub.core.delivery import DeliveryTracker, Key
from hub.core.frame_messages import DeviceInfo, OutboxItem, chunk_frames, frames_message

log = logging.getLogger(__name__)


@dataclass(slots=True)
class UplinkStats:
    messages: int = 0  # messages published (resends and injected duplicates included)
    items_sent: int = 0  # items published (resends included)
    released: int = 0  # items released (acked)
    duplicates: int = 0  # messages published twice on purpose (fault)
    garbage: int = 0  # non-JSON messages published (fault)


class Uplink:
    def __init__(
        self, name: str, outbox: FrameOutbox, link: MqttLink, *, ack_timeout_s: float = 30.0
    ) -> None:
        self.name = name
        self.outbox = outbox
        self.link = link
        self.tracker = DeliveryTracker(ack_timeout_s)
        self.stats = UplinkStats()
        self.generation = 0
        self.connected = False

    # --- events from the link ---------------------------------------------------------------

    def handle(self, event: LinkEvent) -> None:
        if isinstance(event, Connected):
            self.generation = event.generation
            self.connected = True
            self.on_connected()
        elif isinstance(event, Disconnected):
            if event.generation == self.generation:
                self.connected = False
            self.tracker.connection_lost(event.generation)
        elif isinstance(event, Delivered):
            keys = self.tracker.pubacked(event.generation, event.mid)
            if keys and self.release_on_puback:
                self.release(keys)
        elif isinstance(event, Received):
            self.on_message(event.topic, event.payload)

    release_on_puback = False

    def on_connected(self) -> None:
        pass

    def on_message(self, topic: str, payload: bytes) -> None:
        pass

    def release(self, keys: tuple[Key, ...] | list[Key]) -> int:
        by_stream: dict[str, list[int]] = {}
        for stream, seq in keys:
            by_stream.setdefault(stream, []).append(seq)
        released = 0
        for stream, seqs in by_stream.items():
            released += self.outbox.release(stream, seqs)
        self.tracker.released(keys)
        self.stats.released += released
        return released

    # --- publishing ------------------------------------------------------------------------

    def compose(
        self, due: list[OutboxItem], sim_now: float
    ) -> list[tuple[str, bytes, list[OutboxItem]]]:
        raise NotImplementedError

    def flush(self, now: float, sim_now: float, *, limit: int | None = None) -> int:
        """Publish what is due; returns the number of messages published."""
        if not self.connected or not self.link.connected:
            return 0
        due = self.tracker.due(self.outbox.pending(), self.generation, now)
        if not due:
            return 0
        published = 0
        for topic, payload, items in self.compose(due, sim_now):
            if limit is not None and published >= limit:
                break
            mid = self.link.publish(topic, payload)
            if mid is None:
                break
            self.tracker.sent([i.key for i in items], mid, self.generation, now)
            self.stats.messages += 1
            self.stats.items_sent += len(items)
            published += 1
            self.after_publish(topic, payload)
        return published

    def after_publish(self, topic: str, payload: bytes) -> None:
        pass

    @property
    def outstanding(self) -> int:
        return len(self.outbox)


class GatewayUplink(Uplink):
    def __init__(
        self,
        name: str,
        outbox: FrameOutbox,
        link: MqttLink,
        *,
        zone: Zone,
        info: Callable[[str], DeviceInfo | None],
        frames_topic: str,
        acks_topic: str,
        duplicate_rate: float = 0.0,
        garbage: bool = False,
        rng: np.random.Generator | None = None,
        ack_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(name, outbox, link, ack_timeout_s=ack_timeout_s)
        self.zone = zone
        self.info = info
        self.frames_topic = frames_topic
        self.acks_topic = acks_topic
        self.duplicate_rate = duplicate_rate
        self.garbage_pending = garbage
        self.rng = rng if rng is not None else np.random.default_rng(0)

    def on_connected(self) -> None:
        # Firmware fault: a truncated document (dead-lettered once, never acked).
        garbage = b'{"gateway_time": "20'
        if self.garbage_pending and self.link.publish(self.frames_topic, garbage) is not None:
            self.garbage_pending = False
            self.stats.garbage += 1

    def on_message(self, topic: str, payload: bytes) -> None:
        if topic != self.acks_topic:
            return
        try:
            document = json.loads(payload)
            keys = [
                (str(entry["device_id"]), int(seq))
                for entry in document["acks"]
                for seq in entry["seqs"]
            ]
        except (ValueError, KeyError, TypeError):
            log.warning("%s: unreadable ack message ignored", self.name)
            return
        self.release(keys)

    def compose(
        self, due: list[OutboxItem], sim_now: float
    ) -> list[tuple[str, bytes, list[OutboxItem]]]:
        gateway_time = iso_local(sim_now, self.zone)
        # The wire states an IANA zone; a gateway on a fixed offset (tests) states none.
        zone = self.zone if isinstance(self.zone, str) else None
        by_device: dict[str, list[OutboxItem]] = {}
        for item in due:
            by_device.setdefault(item.stream, []).append(item)
        out = []
        for device_id, items in by_device.items():
            info = self.info(device_id) or DeviceInfo(device_id, "", "")
            contexts = {
                i.context_seq: context
                for i in items
                if i.context_seq is not None
                and (context := self.outbox.get(device_id, i.context_seq)) is not None
            }
            for chunk in chunk_frames(items, contexts):
                out.append(
                    (self.frames_topic, frames_message(gateway_time, info, chunk, zone=zone), chunk)
                )
        return out

    def after_publish(self, topic: str, payload: bytes) -> None:
        # Firmware fault: the same message twice (same seqs, same bytes).
        twice = self.duplicate_rate > 0 and self.rng.random() < self.duplicate_rate
        if twice and self.link.publish(topic, payload) is not None:
            self.stats.duplicates += 1
            self.stats.messages += 1


class DeviceUplink(Uplink):
    release_on_puback = True

    def __init__(
        self,
        device: NativeDevice,
        outbox: FrameOutbox,
        link: MqttLink,
        *,
        ack_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(device.device_id, outbox, link, ack_timeout_s=ack_timeout_s)
        self.device = device

    def compose(
        self, due: list[OutboxItem], sim_now: float
    ) -> list[tuple[str, bytes, list[OutboxItem]]]:
        return [(self.device.topic, payload, items) for payload, items in self.device.compose(due)]
