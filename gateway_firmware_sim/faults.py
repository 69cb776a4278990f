"""The world's fault windows acted out on the stations (docs/simulator.md, "Fault switches").

At a step boundary (:meth:`Faults.at_boundary`): a gateway loses power mid-publish or gets
it back, a home's internet goes down or comes back, a device changes hands. Before a
gateway's step (:meth:`Faults.before_step`): now and then a device indicates its last stored
record again. Every wait goes through the fleet's clock.
"""

from __future__ import annotations

from gateway_firmware_sim.physiology._random import generator
from gateway_firmware_sim.population import Population
from gateway_firmware_sim.realtime import Clock
from gateway_firmware_sim.stations import GatewayStation, Stations
from gateway_firmware_sim.world import World

# A power cut mid-publish: how long the half that was sent has to reach the wire.
POWER_CUT_GRACE_S = 0.02


class Faults:
    def __init__(
        self,
        world: World,
        stations: Stations,
        population: Population,
        *,
        seed: int,
        clock: Clock,
    ) -> None:
        self.world = world
        self.stations = stations
        self.population = population
        self.seed = seed
        self.clock = clock

    def offline(self, gateway_id: str, at: float) -> bool:
        """Whether the home of ``gateway_id`` has no internet at ``t``."""
        return any(
            window.target == gateway_id and window.start <= at < window.end
            for window in self.world.offline
        )

    def before_step(self, station: GatewayStation, t0: float) -> None:
        """Duplicates fault: now and then a device sends its last record again."""
        if not station.spec.duplicate_rate:
            return
        rng = generator(self.seed, station.spec.gateway_id, "re-indicate", int(t0))
        for device_id in station.paired:
            if rng.random() < station.spec.duplicate_rate:
                self.population.ble[device_id].duplicate_next = True

    def at_boundary(self, at: float) -> None:
        """Start or end every fault window that starts or ends at ``t``."""
        gateways = self.stations.gateways
        for window in self.world.power_losses:
            station = gateways[window.target]
            if window.start == at and station.powered:
                self._power_cut(station, at)
            if window.end == at and not station.powered:
                self.stations.power_on(
                    station, at, network=not self.offline(station.spec.gateway_id, at)
                )
                assert station.firmware is not None
                station.firmware.power_on(at)
        for window in self.world.offline:
            station = gateways[window.target]
            if station.uplink is not None and window.start == at:
                station.uplink.link.set_network(False)
            if station.uplink is not None and window.end == at:
                station.uplink.link.set_network(True)
        for move in self.world.moves:
            if move.at == at:
                self._move(move.device_id, move.to_patient, move.to_gateway, at)

    def _move(self, device_id: str, to_patient: str, to_gateway: str, at: float) -> None:
        device = self.population.ble[device_id]
        for station in self.stations.gateways.values():
            if device_id in station.paired:
                station.paired.remove(device_id)
                if station.firmware is not None:
                    station.firmware.unpair(device_id)
        target = self.stations.gateways[to_gateway]
        target.paired.append(device_id)
        device.move_to(self.population.people[to_patient])  # the new gateway sets its clock
        if target.firmware is not None:
            target.firmware.pair(device, at)

    def _power_cut(self, station: GatewayStation, sim: float) -> None:
        """Power lost mid-publish: half of what was due goes out, then nothing — no
        DISCONNECT (the broker publishes the last will), no goodbye, memory gone."""
        assert station.uplink is not None and station.firmware is not None
        uplink = station.uplink
        now = self.clock.monotonic()
        due = uplink.tracker.due(uplink.outbox.pending(), uplink.generation, now)
        messages = len(uplink.compose(due, sim))
        uplink.flush(self.clock.monotonic(), sim, limit=max(1, messages // 2))
        self.clock.sleep(POWER_CUT_GRACE_S)  # some of it reaches the wire, some does not
        uplink.link.abort()
        self.stations.retire(station)
