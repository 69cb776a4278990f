"""The fleet: every simulated patient, device and gateway, driven against a real hub.

:class:`Fleet` plans the world (:func:`~gateway_firmware_sim.world.build_world`), enrolls its
devices through the hub's API (``POST /v1/enrollments``; 409 = already enrolled), then runs
simulated time:

* **replay** — from ``now - history`` to now, ``speed`` simulated seconds per real second
  (``math.inf``: as fast as the hub acknowledges — the fleet pauses while more than
  ``max_outstanding`` items wait for their acks), never ahead of the real clock, so the hub
  never sees a time from the future;
* **live** — then in step with the real clock, until stopped (``live=False``: stop once
  everything replayed is acknowledged, or after ``drain_timeout_s``).

Each step: devices measure, gateways listen and commit frames to their outboxes, native
devices queue their messages; then every uplink publishes what is due. Fault windows (power
cuts, internet outages, a device changing hands) start and end exactly on step boundaries.
Threads: this one runs the simulation; each MQTT link has its network thread and hands its
events over through one queue.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, TextIO

import httpx

from gateway_firmware_sim.devices.base import BleDevice, DeviceClock, Notification
from gateway_firmware_sim.devices.cgm import ContinuousGlucoseMonitor
from gateway_firmware_sim.devices.cuff import BloodPressureCuff
from gateway_firmware_sim.devices.glucose_meter import GlucoseMeter
from gateway_firmware_sim.devices.hr_strap import HeartRateStrap
from gateway_firmware_sim.devices.native import (
    AcmeCuff,
    CanonicalCgm,
    CanonicalCuff,
    CanonicalOximeter,
    CanonicalScale,
    GlucoCloudMeter,
    NativeDevice,
    NimbusScale,
)
from gateway_firmware_sim.devices.oximeter import PulseOximeter
from gateway_firmware_sim.devices.scale import WeightScale
from gateway_firmware_sim.devices.thermometer import Thermometer
from gateway_firmware_sim.firmware import GatewayFirmware
from gateway_firmware_sim.mqtt_link import LinkEvent, MqttLink, Presence, wait_for_retained
from gateway_firmware_sim.physiology._random import generator
from gateway_firmware_sim.physiology.person import Person
from gateway_firmware_sim.report import DeviceSummary, Summary, progress_line
from gateway_firmware_sim.timebase import DAY, Zone, utc
from gateway_firmware_sim.uplink import DeviceUplink, GatewayUplink, Uplink
from gateway_firmware_sim.world import DeviceSpec, GatewaySpec, Scenario, World, build_world
from hub.adapters.frame_outbox import FrameOutbox
from hub.config import MqttSettings
from hub.core.backoff import Backoff
from hub.core.frame_messages import CONTEXT_KINDS, DeviceInfo
from hub.core.wire import (
    bridge_status_topic,
    gateway_acks_topic,
    gateway_frames_topic,
    gateway_status_topic,
)

log = logging.getLogger(__name__)

BLE_DEVICES: dict[str, type[BleDevice]] = {
    "cgm": ContinuousGlucoseMonitor,
    "glucose-meter": GlucoseMeter,
    "bp-cuff": BloodPressureCuff,
    "scale": WeightScale,
    "thermometer": Thermometer,
    "oximeter": PulseOximeter,
    "hr-strap": HeartRateStrap,
}
NATIVE_DEVICES: dict[str, type[NativeDevice]] = {
    "canonical-cgm": CanonicalCgm,
    "canonical-bp": CanonicalCuff,
    "canonical-scale": CanonicalScale,
    "canonical-oximeter": CanonicalOximeter,
    "acme-bp": AcmeCuff,
    "glucocloud": GlucoCloudMeter,
    "nimbus-scale": NimbusScale,
}


class Enroller(Protocol):
    def enroll(self, device_id: str, patient_id: str, start: datetime) -> None: ...

    def register_gateway(self, gateway_id: str, devices: Sequence[tuple[str, str]]) -> None:
        """Register the gateway and its devices (id, catalog profile) and pair them."""
        ...


# The maker/provider account the simulated kits are registered under.
SIM_MAKER = "sim-maker"


class ApiEnroller:
    """Enrollment through the hub's API with an admin bearer token."""

    def __init__(self, api_url: str, token: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.Client(
            base_url=api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def enroll(self, device_id: str, patient_id: str, start: datetime) -> None:
        body = {"device_id": device_id, "patient_id": patient_id, "start": start.isoformat()}
        response = self._http.post("/v1/enrollments", json=body)
        # 409: enrolled by an earlier run from the same start or later, which is what we want.
        if response.status_code not in (201, 409):
            raise RuntimeError(
                f"enrollment of {device_id} failed: {response.status_code} {response.text}"
            )

    def register_gateway(self, gateway_id: str, devices: Sequence[tuple[str, str]]) -> None:
        """Gateways speak only for devices they are paired with (docs/api.md, "Gateways")."""
        for device_id, profile in devices:
            body = {"device_id": device_id, "profile": profile, "maker": SIM_MAKER}
            self._check(self._http.post("/v1/devices", json=body), f"device {device_id}")
        body = {"gateway_id": gateway_id, "owner": SIM_MAKER}
        self._check(self._http.post("/v1/gateways", json=body), f"gateway {gateway_id}")
        for device_id, _ in devices:
            pairing = self._http.put(f"/v1/gateways/{gateway_id}/devices/{device_id}")
            self._check(pairing, f"pairing of {device_id} with {gateway_id}")

    @staticmethod
    def _check(response: httpx.Response, what: str) -> None:
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{what} failed: {response.status_code} {response.text}")

    def close(self) -> None:
        self._http.close()


@dataclass(slots=True)
class FleetConfig:
    patients: int = 3
    gateways: int | None = None  # None: one per patient with BLE devices
    speed: float = 1440.0  # simulated seconds per real second; math.inf: as fast as acked
    history_s: float = DAY
    live: bool = True
    seed: int = 7
    scenarios: frozenset[Scenario] = frozenset()
    data_dir: Path = Path("var/sim")
    max_outstanding: int = 20_000
    drain_timeout_s: float = 180.0
    ack_timeout_s: float = 30.0
    wait_bridge_s: float = 30.0
    bridge_client_id: str | None = None  # whose online status to wait for
    backoff: Backoff = field(default_factory=Backoff)
    progress: bool | None = None  # None: when stderr is a terminal
    summary_json: Path | None = None


@dataclass(slots=True)
class _Gateway:
    spec: GatewaySpec
    paired: list[str]  # device ids it holds (changes with moves)
    firmware: GatewayFirmware | None = None
    uplink: GatewayUplink | None = None
    powered: bool = True
    incarnation: int = 0


class Fleet:
    def __init__(
        self,
        mqtt: MqttSettings,
        config: FleetConfig,
        *,
        enroller: Enroller | None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        stderr: TextIO | None = None,
    ) -> None:
        self.mqtt = mqtt
        self.config = config
        self.enroller = enroller
        self.clock = clock
        self.monotonic = monotonic
        self.stderr = stderr or sys.stderr
        self._stop = threading.Event()
        self._events: queue.SimpleQueue[LinkEvent] = queue.SimpleQueue()
        self.world: World | None = None
        self.people: dict[str, Person] = {}
        self.ble: dict[str, BleDevice] = {}
        self.native: dict[str, NativeDevice] = {}
        self.gateways: dict[str, _Gateway] = {}
        self.uplinks: dict[str, Uplink] = {}  # link name -> uplink
        self.device_uplinks: list[DeviceUplink] = []
        self.sim = 0.0
        self.summary = Summary()
        self._retired = Summary()  # counters of uplinks lost to power cuts
        self._progress_at = 0.0

    # --- control ----------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop after the current step (safe from a signal handler)."""
        self._stop.set()

    # --- building ---------------------------------------------------------------------------

    def _plan(self, now: float) -> World:
        c = self.config
        start = float(math.floor(now - c.history_s))
        return build_world(
            seed=c.seed,
            patients=c.patients,
            gateways=c.gateways,
            scenarios=c.scenarios,
            start=start,
            end=float(math.floor(now)),
        )

    def _build(self, world: World) -> None:
        c = self.config
        for p in world.patients:
            self.people[p.patient_id] = Person.create(
                c.seed, p.patient_id, p.zone, p.conditions, p.planned
            )
        zones = {g.gateway_id: g.zone for g in world.gateways}
        for gateway in world.gateways:
            paired = [d.device_id for d in world.devices if d.gateway_id == gateway.gateway_id]
            self.gateways[gateway.gateway_id] = _Gateway(gateway, paired)
        for spec in world.devices:
            person = self.people[spec.patient_id]
            if spec.ble:
                zone = zones.get(spec.gateway_id or "", person.zone)
                self.ble[spec.device_id] = self._ble_device(spec, person, zone, world.start)
            else:
                native = NATIVE_DEVICES[spec.kind](spec.device_id, person, world.start)
                self.native[spec.device_id] = native

    def _ble_device(self, spec: DeviceSpec, person: Person, zone: Zone, start: float) -> BleDevice:
        fault = spec.clock
        rng = generator(self.config.seed, spec.device_id, "clock")
        clock = DeviceClock(
            zone,
            error_s=fault.error_s or float(rng.uniform(-30, 30)),
            drift_ppm=fault.drift_ppm or float(rng.uniform(-20, 20)),
            set_at=start,
            settable=fault.settable,
        )
        if fault.reset_to_year is not None:
            clock.reset_to(start, datetime(fault.reset_to_year, 1, 1))
        cls = BLE_DEVICES[spec.kind]
        if cls is GlucoseMeter:
            return GlucoseMeter(
                spec.device_id, spec.address, person, clock, start, first_seq=spec.first_seq
            )
        return cls(spec.device_id, spec.address, person, clock, start)

    def _enroll(self, world: World) -> None:
        if self.enroller is None:
            return
        # A gateway is paired with every device it will forward: its own, the ones it
        # overhears, and the ones that move to it.
        forwards: dict[str, set[str]] = {g.gateway_id: set(g.listens_to) for g in world.gateways}
        for spec in world.devices:
            if spec.gateway_id is not None:
                forwards.setdefault(spec.gateway_id, set()).add(spec.device_id)
        for move in world.moves:
            forwards.setdefault(move.to_gateway, set()).add(move.device_id)
        for gateway_id, device_ids in sorted(forwards.items()):
            devices = [(d, self.ble[d].profile_id) for d in sorted(device_ids)]
            self.enroller.register_gateway(gateway_id, devices)
        # From the day before the replay: device clocks a little slow still fall inside.
        day = math.floor(world.start / DAY) * DAY - DAY
        start = utc(day)
        for spec in world.devices:
            self.enroller.enroll(spec.device_id, spec.patient_id, start)
        for move in world.moves:
            self.enroller.enroll(move.device_id, move.to_patient, utc(move.at))

    def _open_gateway(self, gw: _Gateway, now: float) -> None:
        c = self.config
        spec = gw.spec
        outbox = FrameOutbox.open(
            c.data_dir / "gateways" / f"{spec.gateway_id}.sqlite3", context_kinds=CONTEXT_KINDS
        )
        firmware = GatewayFirmware(
            spec.gateway_id,
            spec.zone,
            outbox,
            seed=c.seed,
            malformed_rate=spec.malformed_rate,
        )
        for device_id in gw.paired:
            self._resume(firmware, self.ble[device_id])
            firmware.pair(self.ble[device_id], now)
        for device_id in spec.listens_to:
            firmware.listen_to(self.ble[device_id], now)
        gw.incarnation += 1
        name = f"{spec.gateway_id}#{gw.incarnation}"
        status = gateway_status_topic(spec.gateway_id)
        link = MqttLink(
            name,
            self.mqtt,
            f"{spec.gateway_id}-{outbox.incarnation[:8]}",
            self._events.put,
            presence=Presence(
                status,
                json.dumps({"status": "online"}).encode(),
                json.dumps({"status": "offline"}).encode(),
            ),
            subscriptions=[gateway_acks_topic(spec.gateway_id)],
            persistent_session=True,
            backoff=c.backoff,
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
            garbage=spec.malformed_rate > 0 and gw.incarnation == 1,
            rng=generator(c.seed, spec.gateway_id, "uplink", gw.incarnation),
            ack_timeout_s=c.ack_timeout_s,
        )
        gw.firmware, gw.uplink, gw.powered = firmware, uplink, True
        self.uplinks[name] = uplink
        if self._offline(spec.gateway_id, now):
            link.set_network(False)  # back from a power cut into an internet outage
        link.start()

    def _offline(self, gateway_id: str, t: float) -> bool:
        windows = self.world.offline if self.world is not None else ()
        return any(w.target == gateway_id and w.start <= t < w.end for w in windows)

    def _resume(self, firmware: GatewayFirmware, device: BleDevice) -> None:
        """A device measured by an earlier run with this data directory continues from there."""
        upto = firmware.outbox.state(f"measured:{device.device_id}")
        if upto is not None and float(upto) > device.measured_upto:
            device.measured_upto = float(upto)
        next_seq = firmware.outbox.state(f"meter-seq:{device.device_id}")
        if next_seq is not None and isinstance(device, GlucoseMeter):
            device.next_seq = int(next_seq)

    def _open_device(self, device: NativeDevice) -> None:
        c = self.config
        outbox = FrameOutbox.open(c.data_dir / "devices" / f"{device.device_id}.sqlite3")
        upto = outbox.state("measured_upto")
        if upto is not None and float(upto) > device.measured_upto:
            device.measured_upto = float(upto)
        link = MqttLink(
            device.device_id, self.mqtt, device.device_id, self._events.put, backoff=c.backoff
        )
        uplink = DeviceUplink(device, outbox, link, ack_timeout_s=c.ack_timeout_s)
        self.uplinks[device.device_id] = uplink
        self.device_uplinks.append(uplink)
        link.start()

    # --- running ----------------------------------------------------------------------------

    def run(self) -> Summary:
        c = self.config
        wall_start = self.monotonic()
        world = self.world = self._plan(self.clock())
        self._build(world)
        self._enroll(world)
        if c.wait_bridge_s > 0 and c.bridge_client_id:
            topic = bridge_status_topic(c.bridge_client_id)
            if not wait_for_retained(
                self.mqtt, topic, lambda d: d.get("status") == "online", c.wait_bridge_s
            ):
                log.warning("the hub's bridge is not online; publishing anyway (outboxes hold)")
        self.sim = world.start
        for gw in self.gateways.values():
            self._open_gateway(gw, world.start)
        for device in self.native.values():
            self._open_device(device)
        self.summary.start = world.start
        try:
            self._loop(world)
        finally:
            self.summary.wall_s = self.monotonic() - wall_start
            self._close()
            self._summarize(world)
            if c.summary_json is not None:
                c.summary_json.parent.mkdir(parents=True, exist_ok=True)
                c.summary_json.write_text(json.dumps(self.summary.to_json(), indent=1))
        return self.summary

    def _loop(self, world: World) -> None:
        c = self.config
        boundaries = [b for b in world.boundaries() if b > world.start]
        sensors = [
            self.people[spec.patient_id].cgm_sensor for spec in world.devices if spec.kind == "cgm"
        ]
        last = self.monotonic()
        caught_up_at: float | None = None
        step_s = min(3600.0, max(1.0, c.speed * 0.25)) if math.isfinite(c.speed) else 3600.0
        # Simulated time the pace allows so far. It accumulates across turns: a turn shorter
        # than one simulated second must not throw its share away (on a fast machine every
        # turn is, and the replay would crawl).
        allowed = self.sim
        while not self._stop.is_set():
            self._pump(0.0)
            mono = self.monotonic()
            real_now = self.clock()
            if math.isfinite(c.speed):
                allowed = min(real_now, allowed + (mono - last) * c.speed)
            else:
                allowed = real_now
            last = mono
            target = allowed
            if not c.live:
                target = min(target, world.end)
            if self._outstanding() > c.max_outstanding:
                target = self.sim
                allowed = self.sim  # held back by acks: no credit builds up meanwhile
            # Bounded work per turn, so acks keep flowing in between.
            before = self.sim
            while self.sim < target and self.monotonic() - mono < 0.5:
                while boundaries and boundaries[0] <= self.sim:
                    boundaries.pop(0)
                end = min(target, self.sim + step_s)
                # Faults start and end between steps; a sensor expires between steps, never
                # within one (see devices.cgm).
                cuts = [sensor.session_at(self.sim).end for sensor in sensors]
                cut = min(cuts + boundaries[:1], default=math.inf)
                last_step = not c.live and end >= world.end
                if cut < end:
                    end = cut
                elif end - self.sim < 1.0 and not last_step:
                    break  # wait for at least a second of simulated time
                self._step(self.sim, end)
                self.sim = end
                self._at_boundary(world, end)
            for uplink in list(self.uplinks.values()):
                uplink.flush(self.monotonic(), self.sim)
            self._show_progress(world)
            if self.sim >= world.end and not c.live:
                if caught_up_at is None:
                    caught_up_at = self.monotonic()
                if self._outstanding() == 0:
                    break
                if self.monotonic() - caught_up_at > c.drain_timeout_s:
                    log.warning("gave up waiting for %d acks", self._outstanding())
                    break
            # Behind after a full turn of work: go on at once. Otherwise wait for events (acks)
            # or for the pace to allow another simulated second, without spinning a core.
            self._pump(0.0 if self.sim > before and self.sim < target else 0.02)
        self._show_progress(world, final=True)

    def _pump(self, timeout: float) -> None:
        """Hand the links' events to their uplinks."""
        deadline = self.monotonic() + timeout
        while True:
            remaining = deadline - self.monotonic()
            try:
                event = (
                    self._events.get(timeout=remaining)
                    if remaining > 0
                    else self._events.get_nowait()
                )
            except queue.Empty:
                return
            uplink = self.uplinks.get(event.link)
            if uplink is not None:
                uplink.handle(event)
            timeout = 0.0
            deadline = self.monotonic()

    def _outstanding(self) -> int:
        return sum(u.outstanding for u in self.uplinks.values())

    def _step(self, t0: float, t1: float) -> None:
        heard: dict[str, list[Notification]] = {}
        secondaries = []
        for gw in self.gateways.values():
            if gw.spec.listens_to:
                secondaries.append(gw)
                continue
            if gw.firmware is None or not gw.powered:
                for device_id in gw.paired:
                    device = self.ble[device_id]
                    device.advance(t1)
                    device.drain(None, t1)  # nobody listens: live notifications are lost
                continue
            self._device_faults(gw, t0)
            report = gw.firmware.step(t0, t1)
            self.summary.malformed += report.malformed
            heard.update(report.heard or {})
        for gw in secondaries:
            if gw.firmware is None or not gw.powered:
                continue
            for device_id in gw.spec.listens_to:
                notes = heard.get(device_id)
                if notes:
                    report = gw.firmware.overhear(device_id, notes)
                    self.summary.malformed += report.malformed
        for uplink in self.device_uplinks:
            native = uplink.device
            items = native.measure(t1, uplink.outbox.next_seq(native.device_id))
            uplink.outbox.append(items, {"measured_upto": repr(native.measured_upto)})

    def _device_faults(self, gw: _Gateway, t0: float) -> None:
        """Duplicates fault: now and then a device sends its last record again."""
        if not gw.spec.duplicate_rate:
            return
        rng = generator(self.config.seed, gw.spec.gateway_id, "re-indicate", int(t0))
        for device_id in gw.paired:
            if rng.random() < gw.spec.duplicate_rate:
                self.ble[device_id].duplicate_next = True

    def _at_boundary(self, world: World, t: float) -> None:
        for window in world.power_losses:
            gw = self.gateways[window.target]
            if window.start == t and gw.powered:
                self._power_cut(gw)
            if window.end == t and not gw.powered:
                self._open_gateway(gw, t)
                assert gw.firmware is not None
                gw.firmware.power_on(t)
        for window in world.offline:
            gw = self.gateways[window.target]
            if gw.uplink is not None and window.start == t:
                gw.uplink.link.set_network(False)
            if gw.uplink is not None and window.end == t:
                gw.uplink.link.set_network(True)
        for move in world.moves:
            if move.at != t:
                continue
            device = self.ble[move.device_id]
            for gw in self.gateways.values():
                if move.device_id in gw.paired:
                    gw.paired.remove(move.device_id)
                    if gw.firmware is not None:
                        gw.firmware.unpair(move.device_id)
            target = self.gateways[move.to_gateway]
            target.paired.append(move.device_id)
            device.move_to(self.people[move.to_patient])  # the new gateway sets its clock
            if target.firmware is not None:
                target.firmware.pair(device, t)

    def _power_cut(self, gw: _Gateway) -> None:
        """Power lost mid-publish: half of what was due goes out, then nothing — no
        DISCONNECT (the broker publishes the last will), no goodbye, memory gone."""
        assert gw.uplink is not None and gw.firmware is not None
        uplink = gw.uplink
        due = uplink.tracker.due(uplink.outbox.pending(), uplink.generation, self.monotonic())
        messages = len(uplink.compose(due, self.sim))
        uplink.flush(self.monotonic(), self.sim, limit=max(1, messages // 2))
        time.sleep(0.02)  # some of it reaches the wire, some does not
        uplink.link.abort()
        self._retire(gw.uplink)
        gw.uplink.outbox.close()
        gw.firmware, gw.uplink, gw.powered = None, None, False

    def _retire(self, uplink: Uplink) -> None:
        r = self._retired
        r.messages += uplink.stats.messages
        r.sent += uplink.stats.items_sent
        r.acked += uplink.stats.released
        r.duplicates += uplink.stats.duplicates
        r.garbage += uplink.stats.garbage
        r.resent += uplink.tracker.resent
        r.reconnects += max(0, uplink.link.connections - 1)
        self.uplinks.pop(uplink.name, None)

    def _close(self) -> None:
        links = [u.link for u in self.uplinks.values()]
        for link in links:
            link.request_stop()  # all at once, then join each
        for link in links:
            link.stop()
        self._pump(0.0)
        for uplink in self.uplinks.values():
            uplink.outbox.close()
        if isinstance(self.enroller, ApiEnroller):
            self.enroller.close()

    def _show_progress(self, world: World, *, final: bool = False) -> None:
        show = self.config.progress
        if show is None:
            show = self.stderr.isatty()
        if not show:
            return
        now = self.monotonic()
        if not final and now - self._progress_at < 0.2:
            return
        self._progress_at = now
        line = progress_line(
            sim=self.sim,
            start=world.start,
            end=world.end,
            live=self.config.live,
            readings=self._readings(),
            sent=sum(u.stats.items_sent for u in self.uplinks.values()) + self._retired.sent,
            acked=sum(u.stats.released for u in self.uplinks.values()) + self._retired.acked,
            outstanding=self._outstanding(),
        )
        self.stderr.write("\r" + line + ("\n" if final else ""))
        self.stderr.flush()

    def _readings(self) -> int:
        return sum(d.stats.readings_delivered for d in self.ble.values()) + sum(
            d.stats.readings_delivered for d in self.native.values()
        )

    def _summarize(self, world: World) -> None:
        s = self.summary
        r = self._retired
        s.patients = len(world.patients)
        s.gateways = len(world.gateways)
        s.ble_devices = len(self.ble)
        s.mqtt_devices = len(self.native)
        s.end = self.sim
        s.readings = self._readings()
        s.lost = sum(d.stats.readings_lost for d in self.ble.values())
        uplinks = list(self.uplinks.values())
        s.messages = r.messages + sum(u.stats.messages for u in uplinks)
        s.sent = r.sent + sum(u.stats.items_sent for u in uplinks)
        s.acked = r.acked + sum(u.stats.released for u in uplinks)
        s.duplicates = r.duplicates + sum(u.stats.duplicates for u in uplinks)
        s.garbage = r.garbage + sum(u.stats.garbage for u in uplinks)
        s.resent = r.resent + sum(u.tracker.resent for u in uplinks)
        s.reconnects = r.reconnects + sum(max(0, u.link.connections - 1) for u in uplinks)
        s.outstanding = self._outstanding()
        s.items = s.acked + s.outstanding
        s.faults = list(world.notes)
        gateway_of = {d.device_id: d.gateway_id for d in world.devices}
        for spec in world.devices:
            device: BleDevice | NativeDevice = (
                self.ble[spec.device_id] if spec.ble else self.native[spec.device_id]
            )
            seqs = device.stats.seqs
            s.devices[spec.device_id] = DeviceSummary(
                patient_id=spec.patient_id,
                kind=spec.kind,
                transport="ble" if spec.ble else "mqtt",
                gateway_id=gateway_of.get(spec.device_id),
                readings=device.stats.readings_delivered,
                lost=device.stats.readings_lost,
                seqs=[min(seqs), max(seqs)] if seqs else None,
                seq_count=len(seqs),
            )
