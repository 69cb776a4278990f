"""Planning the simulated world: patients, kits, gateways and fault switches, from a seed."""

from __future__ import annotations

import pytest

from gateway_firmware_sim.world import (
    ALL_SCENARIOS,
    NO_DEVICE_TIME,
    ClockFault,
    Scenario,
    build_world,
    draw_conditions,
)
from hub.core.identity import check_device_id, check_patient_id
from hub.core.wire import gateway_frames_topic
from hub.runtime.cli import main

T0 = 1_764_000_000.0
DAY = 86400.0


def world(patients: int = 50, **kwargs: object) -> object:
    return build_world(seed=7, patients=patients, start=T0, end=T0 + 7 * DAY, **kwargs)  # type: ignore[arg-type]


def test_the_same_seed_plans_the_same_world() -> None:
    assert world(scenarios=ALL_SCENARIOS) == world(scenarios=ALL_SCENARIOS)
    other = build_world(seed=8, patients=50, start=T0, end=T0 + 7 * DAY)
    assert other != world()


def test_patient_one_is_the_demo_patient_with_mqtt_native_devices() -> None:
    w = build_world(seed=7, patients=3, start=T0, end=T0 + DAY)
    mine = {d.device_id: d for d in w.devices if d.patient_id == "pat-demo-0001"}
    assert set(mine) == {"sim-cgm-0001", "sim-bp-0001", "sim-scale-0001", "sim-oxi-0001"}
    assert not any(d.ble for d in mine.values())
    assert any(d.ble for d in w.devices)  # the others show the gateway path


def test_ids_are_valid_and_unique_and_kits_follow_conditions() -> None:
    w = world()
    ids = [d.device_id for d in w.devices]
    assert len(ids) == len(set(ids))
    assert all(check_device_id(i) is None for i in ids)
    assert all(check_patient_id(p.patient_id) is None for p in w.patients)
    for g in w.gateways:
        gateway_frames_topic(g.gateway_id)  # a valid wire id
    conditions = {p.patient_id: p.conditions for p in w.patients}
    for d in w.devices:
        c = conditions[d.patient_id]
        if d.kind in ("cgm", "glucose-meter", "glucocloud"):
            assert c.diabetic
        if d.kind == "hr-strap":
            assert c.cardiac_rehab
        if d.kind == "oximeter":
            assert c.copd
    for p in w.patients:
        assert any(d.patient_id == p.patient_id for d in w.devices)


def test_one_gateway_per_ble_patient_by_default_or_shared() -> None:
    w = world()
    ble_patients = {d.patient_id for d in w.devices if d.ble}
    assert len(w.gateways) == len(ble_patients)
    zones = {p.patient_id: p.zone for p in w.patients}
    for g in w.gateways:
        assert all(zones[p] == g.zone for p in g.patients)
    shared = world(gateways=5)
    assert len(shared.gateways) == 5
    assert sum(len(g.patients) for g in shared.gateways) == len(ble_patients)
    for d in shared.devices:
        assert (d.gateway_id is not None) == d.ble


def test_the_cohort_mix_is_the_documented_one() -> None:
    drawn = [draw_conditions(7, i) for i in range(2, 1002)]
    diabetic = sum(c.diabetic for c in drawn) / len(drawn)
    hypertensive = sum(c.hypertensive for c in drawn) / len(drawn)
    failure = sum(c.heart_failure for c in drawn) / len(drawn)
    assert 0.60 <= diabetic <= 0.75  # 55 % drawn, plus those with nothing else to monitor
    assert 0.33 <= hypertensive <= 0.47
    assert 0.15 <= failure <= 0.25


def test_fault_switches_plan_their_faults() -> None:
    w = world(scenarios=ALL_SCENARIOS)
    clocks = [d for d in w.devices if d.clock != ClockFault()]
    assert any(d.clock.reset_to_year == 2015 for d in clocks)
    assert any(d.clock.drift_ppm > 0 for d in clocks)
    assert all(d.ble and not d.clock.settable for d in clocks)
    assert any(g.malformed_rate > 0 for g in w.gateways)
    assert any(g.duplicate_rate > 0 for g in w.gateways)
    assert w.offline and all(w.start < o.start < o.end <= w.end for o in w.offline)
    assert w.power_losses and all(w.start < p.start < p.end <= w.end for p in w.power_losses)
    assert len(w.moves) == 1
    move = w.moves[0]
    moved = next(d for d in w.devices if d.device_id == move.device_id)
    assert moved.patient_id != move.to_patient
    assert move.at == pytest.approx(w.start + 3.5 * DAY)
    seconds = [g for g in w.gateways if g.listens_to]
    assert seconds
    kinds = {d.device_id: d.kind for d in w.devices}
    for g in seconds:
        assert not any(kinds[i] in NO_DEVICE_TIME for i in g.listens_to)
    assert len(w.notes) >= 8
    assert world() == world(scenarios=frozenset())
    assert not world().notes


@pytest.mark.parametrize("scenario", list(Scenario))
def test_each_switch_alone_works_on_a_small_fleet(scenario: Scenario) -> None:
    w = build_world(seed=7, patients=4, start=T0, end=T0 + DAY, scenarios=frozenset({scenario}))
    assert w.notes, scenario


def test_sim_refuses_an_unknown_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--scenario", "clock-years,bogus"]) == 2
    assert "unknown scenario bogus" in capsys.readouterr().err


def test_sim_refuses_a_bad_speed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sim", "--speed", "-3"])
    assert "speed" in capsys.readouterr().err
