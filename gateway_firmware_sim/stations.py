"""What the fleet has on the air: each gateway's firmware and uplink, each MQTT-native device's
uplink, and the counters of the uplinks a power cut retired.

:meth:`Stations.power_on` opens a gateway's outbox (``<data_dir>/gateways/<id>.sqlite3``),
starts its firmware with its paired and overheard devices and its MQTT link (a persistent
session, retained online/offline presence, the acks topic); :meth:`Stations.open_device` does
the same for a native device (``<data_dir>/devices/<id>.sqlite3``). A gateway that comes back
from a power cut is a new incarnation of its link.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from gateway_firmware_sim.devices.base import BleDevice
from gateway_firmware_sim.devices.glucose_meter import GlucoseMeter
from gateway_firmware_sim.devices.native import NativeDevice
from gateway_firmware_sim.firmware import GatewayFirmware
from gateway_firmware_sim.mqtt_link import LinkEvent, MqttLink, Presence
from gateway_firmware_sim.physiology._random import generator
from gateway_firmware_sim.uplink import DeviceUplink, GatewayUplink, Uplink
from gateway_firmware_sim.world import GatewaySpec, World
from hub.adapters.frame_outbox import FrameOutbox
from hub.config import MqttSettings
from hub.core.backoff import Backoff
from hub.core.frame_messages import CONTEXT_KINDS, DeviceInfo
from hub.core.wire import gateway_acks_topic, gateway_frames_topic, gateway_status_topic


@dataclass(slots=True)
class GatewayStation:
    """A gateway of the world and its state: powered or not, and the devices it holds."""

    spec: GatewaySpec
    paired: list[str]  # device ids it holds (changes with moves)
    firmware: GatewayFirmware | None = None
    uplink: GatewayUplink | None = None
    powered: bool = True
    incarnation: int = 0


@dataclass(slots=True)
class UplinkTotals:
    """What uplinks counted (:class:`~gateway_firmware_sim.uplink.UplinkStats`, resends,
    reconnections), summed."""

    messages: int = 0
    sent: int = 0
    acked: int = 0
    duplicates: int = 0
    garbage: int = 0
    resent: int = 0
    reconnects: int = 0

    def add(self, uplink: Uplink) -> None:
        self.messages += uplink.stats.messages
        self.sent += uplink.stats.items_sent
        self.acked += uplink.stats.released
        self.duplicates += uplink.stats.duplicates
        self.garbage += uplink.stats.garbage
        self.resent += uplink.tracker.resent
        self.reconnects += max(0, uplink.link.connections - 1)


@dataclass(slots=True)
class LinkOptions:
    """How every link of the fleet connects and how long an item waits for its ack."""

    mqtt: MqttSettings
    backoff: Backoff
    ack_timeout_s: float
    data_dir: Path
    seed: int


@dataclass(slots=True)
class Stations:
    """The gateways of the world and every open uplink, by link name."""

    options: LinkOptions
    post: Callable[[LinkEvent], None]  # where links hand their events (any thread)
    ble: Mapping[str, BleDevice]
    gateways: dict[str, GatewayStation] = field(default_factory=dict)
    uplinks: dict[str, Uplink] = field(default_factory=dict)
    device_uplinks: list[DeviceUplink] = field(default_factory=list)
    retired: UplinkTotals = field(default_factory=UplinkTotals)

    def place(self, world: World) -> None:
        """One station per gateway of ``world``, holding the devices planned for it."""
        for gateway in world.gateways:
            paired = [
                spec.device_id for spec in world.devices if spec.gateway_id == gateway.gateway_id
            ]
            self.gateways[gateway.gateway_id] = GatewayStation(gateway, paired)

    # --- opening ------------------------------------------------------------------------

    def power_on(self, station: GatewayStation, now: float, *, network: bool = True) -> None:
        """Start ``station``'s firmware and link (``network`` False: its home is offline)."""
        options = self.options
        spec = station.spec
        outbox = FrameOutbox.open(
            options.data_dir / "gateways" / f"{spec.gateway_id}.sqlite3",
            context_kinds=CONTEXT_KINDS,
        )
        firmware = GatewayFirmware(
            spec.gateway_id,
            spec.zone,
            outbox,
            seed=options.seed,
            malformed_rate=spec.malformed_rate,
        )
        for device_id in station.paired:
            _resume(firmware, self.ble[device_id])
            firmware.pair(self.ble[device_id], now)
        for device_id in spec.listens_to:
            firmware.listen_to(self.ble[device_id], now)
        station.incarnation += 1
        name = f"{spec.gateway_id}#{station.incarnation}"
        link = MqttLink(
            name,
            options.mqtt,
            f"{spec.gateway_id}-{outbox.incarnation[:8]}",
            self.post,
            presence=Presence(
                gateway_status_topic(spec.gateway_id),
                json.dumps({"status": "online"}).encode(),
                json.dumps({"status": "offline"}).encode(),
            ),
            subscriptions=[gateway_acks_topic(spec.gateway_id)],
            persistent_session=True,
            backoff=options.backoff,
        )

        def info(device_id: str) -> DeviceInfo | None:
            return firmware.info.get(device_id)

        uplink = GatewayUplink(
            name,
            outbox,
            link,
            zone=spec.zone,
            info=info,
            frames_topic=gateway_frames_topic(spec.gateway_id),
            acks_topic=gateway_acks_topic(spec.gateway_id),
            duplicate_rate=spec.duplicate_rate,
            garbage=spec.malformed_rate > 0 and station.incarnation == 1,
            rng=generator(options.seed, spec.gateway_id, "uplink", station.incarnation),
            ack_timeout_s=options.ack_timeout_s,
        )
        station.firmware, station.uplink, station.powered = firmware, uplink, True
        self.uplinks[name] = uplink
        if not network:
            link.set_network(False)  # back from a power cut into an internet outage
        link.start()

    def open_device(self, device: NativeDevice) -> None:
        """Start an MQTT-native device's outbox and link."""
        options = self.options
        outbox = FrameOutbox.open(options.data_dir / "devices" / f"{device.device_id}.sqlite3")
        upto = outbox.state("measured_upto")
        if upto is not None and float(upto) > device.measured_upto:
            device.measured_upto = float(upto)
        link = MqttLink(
            device.device_id, options.mqtt, device.device_id, self.post, backoff=options.backoff
        )
        uplink = DeviceUplink(device, outbox, link, ack_timeout_s=options.ack_timeout_s)
        self.uplinks[device.device_id] = uplink
        self.device_uplinks.append(uplink)
        link.start()

    # --- running ------------------------------------------------------------------------

    def handle(self, events: Iterable[LinkEvent]) -> None:
        """Hand the links' events to their uplinks (on the fleet's thread)."""
        for event in events:
            uplink = self.uplinks.get(event.link)
            if uplink is not None:
                uplink.handle(event)

    def flush(self, monotonic: float, sim: float) -> None:
        """Every uplink publishes what is due."""
        for uplink in list(self.uplinks.values()):
            uplink.flush(monotonic, sim)

    def outstanding(self) -> int:
        """Items sent or queued and not acknowledged yet."""
        return sum(uplink.outstanding for uplink in self.uplinks.values())

    def totals(self) -> UplinkTotals:
        """What every uplink counted, the retired ones included."""
        totals = replace(self.retired)
        for uplink in self.uplinks.values():
            totals.add(uplink)
        return totals

    # --- closing ------------------------------------------------------------------------

    def retire(self, station: GatewayStation) -> None:
        """Forget a gateway whose power was cut (its link aborted): keep what it counted."""
        assert station.uplink is not None
        self.retired.add(station.uplink)
        self.uplinks.pop(station.uplink.name, None)
        station.uplink.outbox.close()
        station.firmware, station.uplink, station.powered = None, None, False

    def close(self) -> None:
        """Stop every link cleanly (all at once, then join each)."""
        links = [uplink.link for uplink in self.uplinks.values()]
        for link in links:
            link.request_stop()
        for link in links:
            link.stop()

    def close_outboxes(self) -> None:
        for uplink in self.uplinks.values():
            uplink.outbox.close()


def _resume(firmware: GatewayFirmware, device: BleDevice) -> None:
    """A device measured by an earlier run with this data directory continues from there."""
    upto = firmware.outbox.state(f"measured:{device.device_id}")
    if upto is not None and float(upto) > device.measured_upto:
        device.measured_upto = float(upto)
    next_seq = firmware.outbox.state(f"meter-seq:{device.device_id}")
    if next_seq is not None and isinstance(device, GlucoseMeter):
        device.next_seq = int(next_seq)
