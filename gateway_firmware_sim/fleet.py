"""The fleet: every simulated patient, device and gateway, driven against a real hub.

:meth:`Fleet.run` plans the world (``world.py``), makes its people and devices
(``population.py``), registers and enrolls them through the hub's API (``enrollment.py``),
puts its gateways and MQTT-native devices on the air (``stations.py``), then runs simulated
time:

* **replay** — from ``now - history`` to now, ``speed`` simulated seconds per real second
  (``math.inf``: as fast as the hub acknowledges — the fleet pauses while more than
  ``max_outstanding`` items wait for their acks), never ahead of the real clock, so the hub
  never sees a time from the future;
* **live** — then in step with the real clock, until stopped (``live=False``: stop once
  everything replayed is acknowledged, or after ``drain_timeout_s``).

Each step: devices measure, gateways listen and commit frames to their outboxes, native
devices queue their messages; then every uplink publishes what is due. Fault windows
(``faults.py``: power cuts, internet outages, a device changing hands) start and end exactly
on step boundaries. The progress line (``progress.py``) and the summary (``tally.py``) report.

Time: the fleet reads the wall clock, the monotonic clock and waits only through the
:class:`~gateway_firmware_sim.realtime.Clock` it is given. Threads: this one runs the
simulation; the MQTT links share one network thread (``mqtt_link.LinkLoop``), which hands
their events over through one :class:`~gateway_firmware_sim.realtime.Inbox`.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from gateway_firmware_sim.devices.base import Notification
from gateway_firmware_sim.enrollment import ApiEnroller, Enroller, enroll_world
from gateway_firmware_sim.faults import Faults
from gateway_firmware_sim.mqtt_link import LinkEvent, wait_for_retained
from gateway_firmware_sim.population import Population
from gateway_firmware_sim.progress import Progress
from gateway_firmware_sim.realtime import SYSTEM_CLOCK, Clock, Inbox
from gateway_firmware_sim.report import Summary
from gateway_firmware_sim.stations import LinkOptions, Stations
from gateway_firmware_sim.tally import tally
from gateway_firmware_sim.timebase import DAY
from gateway_firmware_sim.world import Scenario, World, build_world
from hub.config import MqttSettings
from hub.core.backoff import Backoff
from hub.core.wire import bridge_status_topic

log = logging.getLogger(__name__)

MAX_STEP_S = 3600.0  # simulated seconds in one step, at most
TURN_S = 0.5  # real seconds of stepping before the acks get a turn
IDLE_WAIT_S = 0.02  # how long a turn with nothing to do waits for an event


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


class Fleet:
    def __init__(
        self,
        mqtt: MqttSettings,
        config: FleetConfig,
        *,
        enroller: Enroller | None,
        clock: Clock = SYSTEM_CLOCK,
        stderr: TextIO | None = None,
    ) -> None:
        self.mqtt = mqtt
        self.config = config
        self.enroller = enroller
        self.clock = clock
        self.progress = Progress(stderr or sys.stderr, clock, show=config.progress)
        self._stop = threading.Event()
        self._events: Inbox[LinkEvent] = Inbox(clock)
        self.world: World | None = None
        self.population = Population()  # made by run(), with the stations
        self.stations = self._stations()
        self.sim = 0.0
        self.summary = Summary()

    def _stations(self) -> Stations:
        config = self.config
        options = LinkOptions(
            self.mqtt, config.backoff, config.ack_timeout_s, config.data_dir, config.seed
        )
        return Stations(options, self._events.put, self.population.ble)

    def request_stop(self) -> None:
        """Stop after the current step (safe from a signal handler)."""
        self._stop.set()

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> Summary:
        config = self.config
        wall_start = self.clock.monotonic()
        now = self.clock.time()
        world = self.world = build_world(
            seed=config.seed,
            patients=config.patients,
            gateways=config.gateways,
            scenarios=config.scenarios,
            start=float(math.floor(now - config.history_s)),
            end=float(math.floor(now)),
        )
        population = self.population = Population.of(world, config.seed)
        self.stations = self._stations()
        self.stations.place(world)
        if self.enroller is not None:
            enroll_world(self.enroller, world, lambda device: population.ble[device].profile_id)
        self._wait_for_the_bridge()
        faults = Faults(world, self.stations, population, seed=config.seed, clock=self.clock)
        self.sim = world.start
        for station in self.stations.gateways.values():
            network = not faults.offline(station.spec.gateway_id, world.start)
            self.stations.power_on(station, world.start, network=network)
        for device in self.population.native.values():
            self.stations.open_device(device)
        self.summary.start = world.start
        try:
            self._loop(world, faults)
        finally:
            self.summary.wall_s = self.clock.monotonic() - wall_start
            self._close()
            self.summary.end = self.sim
            tally(self.summary, world, self.population, self.stations)
            if config.summary_json is not None:
                config.summary_json.parent.mkdir(parents=True, exist_ok=True)
                config.summary_json.write_text(json.dumps(self.summary.to_json(), indent=1))
        return self.summary

    def _wait_for_the_bridge(self) -> None:
        config = self.config
        if config.wait_bridge_s <= 0 or not config.bridge_client_id:
            return
        online = wait_for_retained(
            self.mqtt,
            bridge_status_topic(config.bridge_client_id),
            lambda status: status.get("status") == "online",
            config.wait_bridge_s,
            clock=self.clock,
        )
        if not online:
            log.warning("the hub's bridge is not online; publishing anyway (outboxes hold)")

    def _loop(self, world: World, faults: Faults) -> None:
        config = self.config
        boundaries = [at for at in world.boundaries() if at > world.start]
        sensors = self.population.cgm_sensors(world)
        last = self.clock.monotonic()
        caught_up_at: float | None = None
        step_s = (
            min(MAX_STEP_S, max(1.0, config.speed * 0.25))
            if math.isfinite(config.speed)
            else MAX_STEP_S
        )
        # Simulated time the pace allows so far. It accumulates across turns: a turn shorter
        # than one simulated second must not throw its share away (on a fast machine every
        # turn is, and the replay would crawl).
        allowed = self.sim
        while not self._stop.is_set():
            self._pump(0.0)
            turn_start = self.clock.monotonic()
            real_now = self.clock.time()
            if math.isfinite(config.speed):
                allowed = min(real_now, allowed + (turn_start - last) * config.speed)
            else:
                allowed = real_now
            last = turn_start
            target = allowed
            if not config.live:
                target = min(target, world.end)
            if self.stations.outstanding() > config.max_outstanding:
                target = self.sim
                allowed = self.sim  # held back by acks: no credit builds up meanwhile
            # Bounded work per turn, so acks keep flowing in between.
            before = self.sim
            while self.sim < target and self.clock.monotonic() - turn_start < TURN_S:
                while boundaries and boundaries[0] <= self.sim:
                    boundaries.pop(0)
                end = min(target, self.sim + step_s)
                # Faults start and end between steps; a sensor expires between steps, never
                # within one (see devices.cgm).
                cuts = [sensor.session_at(self.sim).end for sensor in sensors]
                cut = min(cuts + boundaries[:1], default=math.inf)
                last_step = not config.live and end >= world.end
                if cut < end:
                    end = cut
                elif end - self.sim < 1.0 and not last_step:
                    break  # wait for at least a second of simulated time
                self._step(self.sim, end, faults)
                self.sim = end
                faults.at_boundary(end)
            self.stations.flush(self.clock.monotonic(), self.sim)
            self._show_progress(world)
            if self.sim >= world.end and not config.live:
                if caught_up_at is None:
                    caught_up_at = self.clock.monotonic()
                if self.stations.outstanding() == 0:
                    break
                if self.clock.monotonic() - caught_up_at > config.drain_timeout_s:
                    log.warning("gave up waiting for %d acks", self.stations.outstanding())
                    break
            # Behind after a full turn of work: go on at once. Otherwise wait for events (acks)
            # or for the pace to allow another simulated second, without spinning a core.
            self._pump(0.0 if before < self.sim < target else IDLE_WAIT_S)
        self._show_progress(world, final=True)

    def _pump(self, timeout: float) -> None:
        """Hand the links' events to their uplinks, waiting up to ``timeout`` for the first."""
        self.stations.handle(self._events.take(timeout))

    def _step(self, t0: float, t1: float, faults: Faults) -> None:
        heard: dict[str, list[Notification]] = {}
        secondaries = []
        for station in self.stations.gateways.values():
            if station.spec.listens_to:
                secondaries.append(station)
                continue
            if station.firmware is None or not station.powered:
                for device_id in station.paired:
                    device = self.population.ble[device_id]
                    device.advance(t1)
                    device.drain(None, t1)  # nobody listens: live notifications are lost
                continue
            faults.before_step(station, t0)
            report = station.firmware.step(t0, t1)
            self.summary.malformed += report.malformed
            heard.update(report.heard or {})
        for station in secondaries:
            if station.firmware is None or not station.powered:
                continue
            for device_id in station.spec.listens_to:
                notifications = heard.get(device_id)
                if notifications:
                    report = station.firmware.overhear(device_id, notifications)
                    self.summary.malformed += report.malformed
        for uplink in self.stations.device_uplinks:
            native = uplink.device
            items = native.measure(t1, uplink.outbox.next_seq(native.device_id))
            uplink.outbox.append(items, {"measured_upto": repr(native.measured_upto)})

    def _close(self) -> None:
        self.stations.close()
        self._pump(0.0)
        self.stations.close_outboxes()
        if isinstance(self.enroller, ApiEnroller):
            self.enroller.close()

    def _show_progress(self, world: World, *, final: bool = False) -> None:
        if not self.progress.show:
            return
        totals = self.stations.totals()
        self.progress.draw(
            sim=self.sim,
            start=world.start,
            end=world.end,
            live=self.config.live,
            readings=self.population.readings_delivered(),
            sent=totals.sent,
            acked=totals.acked,
            outstanding=self.stations.outstanding(),
            final=final,
        )
