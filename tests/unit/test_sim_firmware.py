"""Gateway firmware emulation, without a network: what it commits to its outbox, wrapped in
the wire contract's frames envelope, decodes through the hub's own decoder and pipeline to
exactly the readings the devices delivered — once each, whatever the faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device_profiles import uuids
from device_profiles.catalog import load_catalog
from device_profiles.codecs import parse_characteristic
from device_profiles.errors import DecodeError
from gateway_firmware_sim.devices.base import BleDevice, DeviceClock
from gateway_firmware_sim.devices.cgm import ContinuousGlucoseMonitor
from gateway_firmware_sim.devices.cuff import BloodPressureCuff
from gateway_firmware_sim.devices.glucose_meter import GlucoseMeter
from gateway_firmware_sim.devices.hr_strap import HeartRateStrap
from gateway_firmware_sim.devices.oximeter import PulseOximeter
from gateway_firmware_sim.devices.scale import WeightScale
from gateway_firmware_sim.devices.thermometer import Thermometer
from gateway_firmware_sim.firmware import GatewayFirmware, corrupt
from gateway_firmware_sim.physiology._random import generator
from gateway_firmware_sim.physiology.glucose import GlucoseScenario
from gateway_firmware_sim.physiology.person import Conditions, Person
from gateway_firmware_sim.physiology.pressure import BpVariant
from gateway_firmware_sim.timebase import DAY, HOUR, iso_local
from hub.adapters.frame_outbox import FrameOutbox
from hub.core.decoding import MessageDecoder
from hub.core.frame_messages import (
    CONTEXT_KINDS,
    DeviceInfo,
    OutboxItem,
    chunk_frames,
    frames_message,
)
from hub.core.model import Source
from hub.core.pipeline import Accepted, Enrollment, Policy, process_upload
from hub.core.wire import gateway_frames_topic, parse_topic

T0 = 1_764_000_000.0
PARIS = 3600.0
DECODER = MessageDecoder(load_catalog(), Policy(), max_payload_bytes=256 * 1024)
RECEIVED = datetime.fromtimestamp(T0 + 30 * DAY, UTC)
KINDS: tuple[type[BleDevice], ...] = (
    ContinuousGlucoseMonitor,
    GlucoseMeter,
    BloodPressureCuff,
    WeightScale,
    Thermometer,
    PulseOximeter,
    HeartRateStrap,
)


def person(name: str = "pat-1") -> Person:
    return Person.create(
        5,
        name,
        PARIS,
        Conditions(
            GlucoseScenario.T1D,
            BpVariant.HYPERTENSIVE,
            heart_failure=True,
            copd=True,
            cardiac_rehab=True,
            fever_prone=True,
        ),
    )


def devices(who: Person, start: float = T0) -> list[BleDevice]:
    out = []
    for k, cls in enumerate(KINDS):
        clock = DeviceClock(PARIS, error_s=-20.0, drift_ppm=10.0, set_at=start)
        out.append(cls(f"{cls.kind}-1", f"C0:26:DA:00:00:{k:02X}", who, clock, start))
    return out


def gateway(path: Path, fleet: list[BleDevice], **faults: float) -> GatewayFirmware:
    outbox = FrameOutbox.open(path, context_kinds=CONTEXT_KINDS)
    firmware = GatewayFirmware("gw-1", PARIS, outbox, seed=3, **faults)
    for device in fleet:
        firmware.pair(device, T0)
    return firmware


def run(firmware: GatewayFirmware, t0: float, t1: float, step: float = HOUR) -> None:
    t = t0
    while t < t1:
        firmware.step(t, min(t1, t + step))
        t = min(t1, t + step)


def messages(firmware: GatewayFirmware, gateway_id: str = "gw-1") -> list[bytes]:
    box = firmware.outbox
    out = []
    for stream in box.streams():
        items = box.pending_for(stream)
        contexts = {i.context_seq: box.get(stream, i.context_seq) for i in items if i.context_seq}
        info = firmware.info[stream]
        for chunk in chunk_frames(items, {k: v for k, v in contexts.items() if v is not None}):
            out.append(frames_message(iso_local(T0 + 30 * DAY, PARIS), info, chunk))
    return out


def identities(payloads: list[bytes], gateway_id: str = "gw-1") -> tuple[list[str], int, set[int]]:
    """(reading ids, frame errors, frame seqs) as the hub's ingest computes them."""
    ids, errors, seqs = [], 0, set()
    topic = parse_topic(gateway_frames_topic(gateway_id))
    for payload in payloads:
        decoded = DECODER.decode(topic, payload, RECEIVED)
        errors += len(decoded.errors)
        seqs.update(decoded.frame_seqs)
        outcomes = process_upload(
            [measurement for _, measurement in decoded.items],
            device_id=decoded.device_id,
            source=Source.GATEWAY,
            receive_time=RECEIVED,
            enrollments=[Enrollment(decoded.device_id, "pat-1", RECEIVED - timedelta(days=400))],
            policy=decoded.policy,
            clock=decoded.clock,
            reference_time=decoded.reference_time,
        )
        for outcome in outcomes:
            assert isinstance(outcome, Accepted), outcome
            ids.append(outcome.reading.reading_id)
    return ids, errors, seqs


def delivered(fleet: list[BleDevice]) -> int:
    return sum(d.stats.readings_delivered for d in fleet)


def test_frames_decode_to_exactly_the_readings_the_devices_delivered(tmp_path: Path) -> None:
    fleet = devices(person())
    firmware = gateway(tmp_path / "gw.sqlite3", fleet)
    run(firmware, T0, T0 + 5 * DAY)
    ids, errors, seqs = identities(messages(firmware))
    assert errors == 0
    assert len(ids) == len(set(ids)) == delivered(fleet) > 1500
    # every frame of the outbox is acknowledged by seq, status frames included
    assert seqs >= {i.seq for i in firmware.outbox.pending()} - {0}
    kinds = {i.kind for i in firmware.outbox.pending()}
    assert {
        "2AAA",
        "2AA7",
        "2A18",
        "2A34",
        "2A52",
        "2A35",
        "2A9D",
        "2A9E",
        "2A1C",
        "2A5E",
        "2A5F",
        "2A37",
    } <= kinds


def test_cgm_times_come_from_the_session_start_frame(tmp_path: Path) -> None:
    who = person()
    cgm = ContinuousGlucoseMonitor("cgm-1", "C0:26:DA:00:00:09", who, DeviceClock(PARIS), T0)
    firmware = gateway(tmp_path / "gw.sqlite3", [cgm])
    run(firmware, T0, T0 + DAY)
    topic = parse_topic(gateway_frames_topic("gw-1"))
    times = []
    for payload in messages(firmware):
        decoded = DECODER.decode(topic, payload, RECEIVED)
        times += [m.time for _, m in decoded.items]
    trace = who.cgm_sensor.trace(who.glucose, T0, T0 + DAY)
    assert len(times) == trace.times.size
    for got, t in zip(times, trace.times, strict=True):
        assert got is not None and got.tzinfo is not None  # the session states its zone
        assert abs(got.timestamp() - t) <= 1.0


def test_a_power_cut_loses_nothing_and_the_racp_back_fills(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite3"
    fleet = devices(person())
    firmware = gateway(path, fleet)
    strap = fleet[-1]
    assert isinstance(strap, HeartRateStrap)
    session = strap.wearer.heart.sessions(T0 + DAY, T0 + 8 * DAY)[0]
    off_from = float(int(session.start - 2 * HOUR))  # the gateway is off during a session
    off_until = off_from + 4 * HOUR
    run(firmware, T0, off_from)
    before = len(firmware.outbox)
    firmware.outbox.close()  # power cut: memory gone
    for device in fleet:  # devices keep measuring; live values are not heard
        device.advance(off_until)
        device.drain(None, off_until)
    firmware = GatewayFirmware(
        "gw-1", PARIS, FrameOutbox.open(path, context_kinds=CONTEXT_KINDS), seed=3
    )
    assert len(firmware.outbox) == before
    for device in fleet:
        firmware.pair(device, off_until)
    firmware.power_on(off_until)
    run(firmware, off_until, off_until + DAY)
    racp = [i for i in firmware.outbox.pending() if i.kind == "2A52"]
    assert racp  # the meter and the CGM were asked for what was missed
    ids, errors, _ = identities(messages(firmware))
    assert errors == 0
    assert len(ids) == len(set(ids)) == delivered(fleet)
    assert strap.stats.readings_lost > 0  # the session nobody heard
    cgm = fleet[0]
    assert cgm.stats.readings_lost == 0 and cgm.stats.readings_delivered == cgm.stats.records


def test_two_gateways_hearing_one_device_give_the_same_identities(tmp_path: Path) -> None:
    who = person()
    heard = [d for d in devices(who) if d.kind in ("cgm", "glucose-meter", "bp-cuff", "scale")]
    first = gateway(tmp_path / "a.sqlite3", heard)
    second = GatewayFirmware(
        "gw-2", PARIS, FrameOutbox.open(tmp_path / "b.sqlite3", context_kinds=CONTEXT_KINDS)
    )
    for device in heard:
        second.listen_to(device, T0)
    t = T0
    while t < T0 + DAY:
        report = first.step(t, t + HOUR)
        for device_id, notes in (report.heard or {}).items():
            second.overhear(device_id, notes)
        t += HOUR
    a, _, _ = identities(messages(first))
    b, _, _ = identities(messages(second, "gw-2"), "gw-2")
    assert len(a) == delivered(heard)
    assert set(a) == set(b)


def test_damaged_frames_are_refused_alone_and_the_readings_still_arrive(tmp_path: Path) -> None:
    fleet = devices(person())[:3]
    firmware = gateway(tmp_path / "gw.sqlite3", fleet, malformed_rate=0.2)
    damaged = 0
    t = T0
    while t < T0 + DAY:
        damaged += firmware.step(t, t + HOUR).malformed
        t += HOUR
    assert damaged > 5
    ids, errors, _ = identities(messages(firmware))
    assert errors == damaged
    assert len(set(ids)) == len(ids) == delivered(fleet)


@pytest.mark.parametrize("kind", [c for c in KINDS])
def test_corruption_always_fails_decoding(kind: type[BleDevice]) -> None:
    rng = generator(1, "corrupt")
    device = kind("d", "a", person(), DeviceClock(PARIS), T0)
    device.advance(T0 + 10 * DAY)
    values = [v for record in device.memory for v in record.values]
    assert values
    for uuid, data in values:
        with pytest.raises(DecodeError):
            parse_characteristic(uuid, corrupt(uuid, data, rng))


def test_the_gateway_sets_device_clocks_daily_unless_they_refuse(tmp_path: Path) -> None:
    who = person()
    settable = BloodPressureCuff("a", "a", who, DeviceClock(PARIS, error_s=900, set_at=T0), T0)
    stubborn = Thermometer(
        "b", "b", who, DeviceClock(PARIS, error_s=900, set_at=T0, settable=False), T0
    )
    firmware = gateway(tmp_path / "gw.sqlite3", [settable, stubborn])
    run(firmware, T0, T0 + 2 * DAY)
    assert abs(settable.clock.error(T0 + 2 * DAY)) < 2
    assert stubborn.clock.error(T0 + 2 * DAY) == pytest.approx(900)


def test_chunks_start_with_their_session_and_keep_context_with_its_measurement() -> None:
    def item(seq: int, kind: str, context: int | None = None) -> OutboxItem:
        return OutboxItem("d", seq, kind, b"x", None, context)

    start = item(1, "2AAA")
    records = [item(s, "2AA7", 1) for s in range(2, 8)]
    newer = item(8, "2AAA")
    later = [item(9, "2AA7", 8)]
    chunks = chunk_frames([*records[2:], newer, *later], {1: start, 8: newer}, limit=2)
    assert [[i.seq for i in c] for c in chunks] == [[1, 4, 5], [1, 6, 7], [8, 9]]
    pairs = [item(1, "2A18"), item(2, "2A34"), item(3, "2A18"), item(4, "2A34")]
    assert [[i.seq for i in c] for c in chunk_frames(pairs, {}, limit=1)] == [[1, 2], [3, 4]]


def test_the_envelope_follows_the_wire_contract() -> None:
    info = DeviceInfo("ble-bp-0002", "C0:26:DA:01:02:03", "generic-ble-blood-pressure")
    item = OutboxItem(
        "ble-bp-0002",
        41,
        "2A35",
        bytes.fromhex("1e7b0051006500ea070b1c0a00004000010400"),
        "2026-11-28T10:00:04+01:00",
    )
    payload = frames_message("2026-11-28T10:00:05+01:00", info, [item])
    decoded = DECODER.decode(parse_topic(gateway_frames_topic("gw-1")), payload, RECEIVED)
    assert decoded.device_id == "ble-bp-0002"
    assert decoded.frame_seqs == (41,)
    assert {m.metric for _, m in decoded.items} >= {"systolic_bp", "diastolic_bp"}
    assert uuids.BLOOD_PRESSURE_MEASUREMENT == 0x2A35
