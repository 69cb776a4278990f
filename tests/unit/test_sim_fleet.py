"""The fleet's parts without a broker: waits through the injected clock, the progress line's
pace, the world's people and devices, what is registered with the hub, the fault windows,
the accounting."""

from __future__ import annotations

import ast
import io
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest

from gateway_firmware_sim import enrollment, faults, fleet, population, progress, stations, tally
from gateway_firmware_sim.enrollment import enroll_world
from gateway_firmware_sim.faults import Faults
from gateway_firmware_sim.population import Population
from gateway_firmware_sim.progress import Progress
from gateway_firmware_sim.realtime import Inbox
from gateway_firmware_sim.report import Summary
from gateway_firmware_sim.stations import LinkOptions, Stations
from gateway_firmware_sim.tally import tally as tally_run
from gateway_firmware_sim.world import ALL_SCENARIOS, Scenario, World, build_world
from hub.config import MqttSettings
from hub.core.backoff import Backoff

T0 = 1_764_000_000.0
DAY = 86400.0


class FakeClock:
    """Time that moves only when waited on: nothing here waits for real."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.waits: list[float] = []

    def time(self) -> float:
        return T0 + self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def wait(self, event: threading.Event, timeout: float) -> bool:
        self.waits.append(timeout)
        if not event.is_set():
            self.now += timeout
        return event.is_set()


def small_world(**kwargs: object) -> World:
    return build_world(seed=7, patients=6, start=T0, end=T0 + DAY, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "module",
    [fleet, enrollment, population, stations, faults, progress, tally],
    ids=lambda module: module.__name__,
)
def test_the_fleet_reads_no_clock_and_waits_only_through_the_one_it_is_given(
    module: object,
) -> None:
    tree = ast.parse(Path(module.__file__).read_text())  # type: ignore[attr-defined]
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"time", "queue"}, "clocks and waits go through realtime.Clock"


def test_an_empty_inbox_waits_through_the_clock_and_a_full_one_does_not() -> None:
    clock = FakeClock()
    inbox: Inbox[str] = Inbox(clock)
    assert inbox.take(0.02) == []
    assert clock.waits == [0.02]  # waited, on the fake clock: no real time passed
    inbox.put("acked")
    inbox.put("connected")
    assert inbox.take(0.02) == ["acked", "connected"]
    assert inbox.take(0.0) == []
    assert clock.waits == [0.02]


def test_an_event_put_from_another_thread_ends_the_wait() -> None:
    inbox: Inbox[int] = Inbox(FakeClock())
    sender = threading.Thread(target=inbox.put, args=(7,))
    sender.start()
    sender.join()
    assert inbox.take(10.0) == [7]


def test_the_progress_line_is_redrawn_at_most_five_times_a_second() -> None:
    clock = FakeClock()
    stream = io.StringIO()
    line = Progress(stream, clock, show=True)
    counts = {
        "start": T0,
        "end": T0 + DAY,
        "live": False,
        "readings": 1,
        "sent": 1,
        "acked": 1,
        "outstanding": 0,
    }
    line.draw(sim=T0, **counts)  # type: ignore[arg-type]
    line.draw(sim=T0 + 60, **counts)  # type: ignore[arg-type]
    clock.sleep(0.2)
    line.draw(sim=T0 + 120, **counts)  # type: ignore[arg-type]
    line.draw(sim=T0 + DAY, final=True, **counts)  # type: ignore[arg-type]
    drawn = stream.getvalue()
    assert drawn.count("\r") == 3 and drawn.endswith("\n")
    assert "100%" in drawn
    silent = io.StringIO()
    Progress(silent, clock, show=None).draw(sim=T0, **counts)  # type: ignore[arg-type]
    assert silent.getvalue() == ""  # not a terminal


class Recorder:
    def __init__(self) -> None:
        self.gateways: dict[str, list[tuple[str, str]]] = {}
        self.enrollments: list[tuple[str, str, datetime]] = []

    def enroll(self, device_id: str, patient_id: str, start: datetime) -> None:
        self.enrollments.append((device_id, patient_id, start))

    def register_gateway(self, gateway_id: str, devices: Sequence[tuple[str, str]]) -> None:
        self.gateways[gateway_id] = list(devices)


def test_every_device_is_enrolled_and_every_gateway_paired_with_what_it_forwards() -> None:
    world = small_world(scenarios=ALL_SCENARIOS)
    people = Population.of(world, seed=7)
    recorder = Recorder()
    enroll_world(recorder, world, lambda device: people.ble[device].profile_id)

    assert {d for d, _, _ in recorder.enrollments} == {spec.device_id for spec in world.devices}
    assert len(recorder.enrollments) == len(world.devices) + len(world.moves)
    for gateway in world.gateways:
        forwarded = {device for device, _ in recorder.gateways[gateway.gateway_id]}
        assert set(gateway.listens_to) <= forwarded
        assert {s.device_id for s in world.devices if s.gateway_id == gateway.gateway_id} <= (
            forwarded
        )
    profiles = {p for devices in recorder.gateways.values() for _, p in devices}
    assert all(p.startswith("generic-ble-") for p in profiles)


def test_the_population_and_the_accounting_of_a_run_that_sent_nothing(tmp_path: Path) -> None:
    world = small_world()
    people = Population.of(world, seed=7)
    assert set(people.people) == {patient.patient_id for patient in world.patients}
    assert set(people.ble) | set(people.native) == {spec.device_id for spec in world.devices}
    on_air = Stations(
        LinkOptions(MqttSettings(), Backoff(), 30.0, tmp_path, 7), lambda _event: None, people.ble
    )
    on_air.place(world)
    assert set(on_air.gateways) == {gateway.gateway_id for gateway in world.gateways}

    summary = Summary()
    tally_run(summary, world, people, on_air)
    assert (summary.patients, summary.gateways) == (len(world.patients), len(world.gateways))
    assert summary.ble_devices + summary.mqtt_devices == len(world.devices)
    assert summary.readings == summary.sent == summary.outstanding == 0
    assert set(summary.devices) == {spec.device_id for spec in world.devices}


def test_a_device_changing_hands_moves_between_gateways_and_wearers(tmp_path: Path) -> None:
    world = small_world(scenarios=frozenset({Scenario.DEVICE_MOVE, Scenario.OFFLINE_DAYS}))
    assert world.moves and world.offline
    people = Population.of(world, seed=7)
    on_air = Stations(
        LinkOptions(MqttSettings(), Backoff(), 30.0, tmp_path, 7), lambda _event: None, people.ble
    )
    on_air.place(world)  # nothing powered on: the moves act on the pairings alone
    acted = Faults(world, on_air, people, seed=7, clock=FakeClock())

    move = world.moves[0]
    before = next(s for s in on_air.gateways.values() if move.device_id in s.paired)
    acted.at_boundary(move.at - 1.0)
    assert move.device_id in before.paired  # not yet
    acted.at_boundary(move.at)
    holders = [s.spec.gateway_id for s in on_air.gateways.values() if move.device_id in s.paired]
    assert holders == [move.to_gateway]
    assert people.ble[move.device_id].wearer is people.people[move.to_patient]

    window = world.offline[0]
    assert acted.offline(window.target, window.start)
    assert not acted.offline(window.target, window.end)  # [start, end)
    assert not acted.offline(window.target, window.start - 1.0)
