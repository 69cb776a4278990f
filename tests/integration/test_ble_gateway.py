"""``hub ble-gateway`` end to end: simulated BlueZ, unmodified bleak and bleak-retry-connector,
the gateway as a process of its own, real Mosquitto, ``hub bridge`` and ``hub api``.

Nothing is mocked. The devices are the simulator's (``gateway_firmware_sim.devices``) behind
its simulated BlueZ on a private D-Bus (``DBUS_SYSTEM_BUS_ADDRESS``); the gateway is
registered and paired through the API like a real one, then finds, connects, fetches and
forwards; the hub decodes, codes and stores. A second MQTT client taps the gateway's frames
topic, to see what crossed the wire.

Time: the devices live on the real clock shifted back by a constant lag (chosen so that
something happens during the test: a heart-rate session is under way, the meter's next test
is seconds away) and their clocks run that much ahead (plus a little error), so they show
real wall time: the hub sees records in the real past, as from any meter. Nothing depends on
the calendar.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from dbus_fast import Message
from dbus_fast.aio import MessageBus
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from device_profiles import uuids
from device_profiles.codecs import MEASUREMENT_CODECS, decode_characteristic
from device_profiles.glucose import parse_glucose_measurement
from device_profiles.vocabulary import METRICS
from gateway_firmware_sim.bluez import SimulatedBluez, simulated_bluez_thread
from gateway_firmware_sim.devices import glucose_meter
from gateway_firmware_sim.devices.base import BleDevice, DeviceClock
from gateway_firmware_sim.devices.cgm import ContinuousGlucoseMonitor
from gateway_firmware_sim.devices.cuff import BloodPressureCuff
from gateway_firmware_sim.devices.glucose_meter import GlucoseMeter
from gateway_firmware_sim.devices.hr_strap import HeartRateStrap
from gateway_firmware_sim.devices.oximeter import PulseOximeter
from gateway_firmware_sim.devices.scale import WeightScale
from gateway_firmware_sim.devices.thermometer import Thermometer
from gateway_firmware_sim.enrollment import ApiEnroller
from gateway_firmware_sim.physiology.glucose import GlucoseScenario
from gateway_firmware_sim.physiology.person import Conditions, Person
from gateway_firmware_sim.physiology.pressure import BpVariant
from gateway_firmware_sim.timebase import DAY, MINUTE, local_days
from hub.adapters.frame_outbox import FrameOutbox, pending_count
from hub.adapters.tokens import Role
from hub.core.wire import gateway_frames_topic, parse_gateway_frames
from tests.integration.conftest import Broker, HubProcesses, wait_until

pytestmark = pytest.mark.integration

ZONE = "Europe/Paris"
SEED = 23
PATIENT = "pat-ble-0001"
GATEWAY = "gw-ble-0001"
STRANGER = "C0:26:DA:7F:FF:FF"

# kind -> (device model, hub device id, BLE address)
KINDS: dict[str, tuple[type[BleDevice], str, str]] = {
    "glucose-meter": (GlucoseMeter, "ble-gm-7001", "C0:26:DA:70:00:01"),
    "cgm": (ContinuousGlucoseMonitor, "ble-cgm-7001", "C0:26:DA:70:00:02"),
    "bp-cuff": (BloodPressureCuff, "ble-bp-7001", "C0:26:DA:70:00:03"),
    "scale": (WeightScale, "ble-scale-7001", "C0:26:DA:70:00:04"),
    "thermometer": (Thermometer, "ble-therm-7001", "C0:26:DA:70:00:05"),
    "oximeter": (PulseOximeter, "ble-oxi-7001", "C0:26:DA:70:00:06"),
    "hr-strap": (HeartRateStrap, "ble-hr-7001", "C0:26:DA:70:00:07"),
}


def person() -> Person:
    conditions = Conditions(
        GlucoseScenario.T1D,
        BpVariant.HYPERTENSIVE,
        heart_failure=True,
        copd=True,
        cardiac_rehab=True,
        fever_prone=True,
    )
    return Person.create(SEED, PATIENT, ZONE, conditions)


@dataclass
class Kit:
    """The home's devices, on a clock ``lag`` seconds behind the real one."""

    lag: float
    start: float  # simulated time the devices were switched on
    devices: dict[str, BleDevice] = field(default_factory=dict)

    def clock(self) -> float:
        return time.time() - self.lag

    def add(self, kind: str) -> BleDevice:
        model, device_id, address = KINDS[kind]
        error = self.lag + (len(self.devices) * 7 % 31) - 15  # shows real time, +-15 s
        clock = DeviceClock(ZONE, error_s=error, set_at=self.start)
        device = model(device_id, address, person(), clock, self.start)
        self.devices[kind] = device
        return device

    def twin(self, kind: str, until: float) -> BleDevice:
        """An identical device, measured up to ``until`` (simulated time), never connected."""
        original = self.devices[kind]
        model, device_id, address = KINDS[kind]
        clock = DeviceClock(ZONE, error_s=original.clock.error_s, set_at=self.start)
        twin = model(device_id, address, person(), clock, self.start)
        twin.advance(until)
        return twin


def lag_in_heart_rate_session(now: float) -> float:
    """A lag that puts the simulated now two minutes into a heart-rate session."""
    sessions = person().heart.sessions(now - 60 * DAY, now - DAY)  # ~3 a week
    return now - (sessions[-1].worn[0] + 2 * MINUTE)


def lag_before_meter_test(now: float, lead_s: float) -> float:
    """A lag that puts the meter's next test ``lead_s`` seconds ahead of the simulated now."""
    who = person()
    tests = [
        when
        for day in local_days(now - 3 * DAY, now - DAY, ZONE)
        for when, *_ in glucose_meter.test_plan(who, day)
    ]
    return now - (float(int(tests[-1])) - lead_s)


# --- the hub side -------------------------------------------------------------------------


def register(hub: HubProcesses, devices: dict[str, BleDevice], enrolled_from: float) -> None:
    """Register the gateway and its devices, pair them and enroll them, through the API."""
    enroller = ApiEnroller(hub.api_url, hub.token(Role.ADMIN, "ops-test"))
    try:
        enroller.register_gateway(GATEWAY, [(d.device_id, d.profile_id) for d in devices.values()])
        for device in devices.values():
            enroller.enroll(device.device_id, PATIENT, datetime.fromtimestamp(enrolled_from, UTC))
    finally:
        enroller.close()


def _rows(hub: HubProcesses, device_id: str, columns: str) -> list[tuple[Any, ...]]:
    path = Path(hub.env["HUB_DATA_DIR"]) / "readings.sqlite3"
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        try:
            return conn.execute(
                f"SELECT {columns} FROM readings WHERE device_id = ?",  # noqa: S608 - ours
                (device_id,),
            ).fetchall()
        except sqlite3.OperationalError:  # not created yet
            return []


def stored(hub: HubProcesses, device_id: str) -> list[tuple[str, float, int, int | None]]:
    """(metric, value, effective time in ms, seq) of a device's stored readings."""
    rows = _rows(hub, device_id, "metric, value, t_ms, seq")
    return [(str(m), float(v), int(t), s) for m, v, t, s in rows]


def stored_flags(hub: HubProcesses, device_id: str) -> list[str]:
    return [str(flags) for (flags,) in _rows(hub, device_id, "flags")]


def metric(hub: HubProcesses, name: str) -> float:
    """A counter of the bridge's Prometheus endpoint."""
    port = hub.env["HUB_MQTT__METRICS_PORT"]
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    lines = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(lines[0].split()[1]) if lines else 0.0


# --- the gateway ---------------------------------------------------------------------------


class Gateway:
    """``hub ble-gateway`` as a child process, configured for the test's home."""

    def __init__(
        self, tmp_path: Path, hub: HubProcesses, broker: Broker, bluez: SimulatedBluez
    ) -> None:
        self.tmp_path = tmp_path
        self.config = tmp_path / "gateway.toml"
        self.log = tmp_path / "gateway.log"
        self.env = {
            **hub.env,
            "DBUS_SYSTEM_BUS_ADDRESS": bluez.bus_address,
            "HUB_LOG_LEVEL": "INFO",
        }
        self.broker = broker
        self.process: subprocess.Popen[bytes] | None = None

    def configure(self, devices: dict[str, BleDevice]) -> None:
        allow = "".join(
            f'[[devices]]\nid = "{d.device_id}"\naddress = "{d.address}"\n'
            f'profile = "{d.profile_id}"\n\n'
            for d in devices.values()
        )
        self.config.write_text(
            f'gateway_id = "{GATEWAY}"\nzone = "{ZONE}"\ndata_dir = "{self.tmp_path / "gw"}"\n\n'
            f'[mqtt]\nhost = "{self.broker.host}"\nport = {self.broker.port}\n\n'
            '[outbox]\nsynchronous = "NORMAL"\n\n'
            "[ble]\nsettle_s = 0.5\nlinger_s = 1.0\nrevisit_s = 2.0\nscan_wait_s = 5.0\n"
            "gatt_timeout_s = 5.0\nbackoff_scale = 0.1\n\n"
            "[uplink]\nack_timeout_s = 10.0\nstatus_interval_s = 1.0\n\n" + allow
        )

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub", "ble-gateway", "--config", str(self.config)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def signal(self, sig: int) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def running(gateway: Gateway) -> Iterator[Gateway]:
    gateway.start()
    try:
        yield gateway
    finally:
        code = gateway.signal(signal.SIGTERM)
        assert code == 0, gateway.output()


class Tap:
    """Every frames message the gateway published, as the broker delivered them (a persistent
    session: what is published while the tap is away waits for it)."""

    def __init__(self, broker: Broker) -> None:
        self.frames: list[tuple[str, int, int, bytes]] = []  # (device, outbox seq, uuid, data)
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"tap-{GATEWAY}", protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(gateway_frames_topic(GATEWAY), qos=1)
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 3600
        self.client.connect(broker.host, broker.port, clean_start=False, properties=properties)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        envelope = parse_gateway_frames(bytes(message.payload))
        with self._lock:
            for frame in envelope.frames:
                number = uuids.normalize_uuid(frame.uuid)
                self.frames.append((envelope.device_id, frame.seq, number, frame.data))

    def of(self, device_id: str, number: int) -> dict[int, bytes]:
        """Outbox seq -> value of one device's frames of one characteristic (resends merged)."""
        with self._lock:
            return {s: d for dev, s, n, d in self.frames if dev == device_id and n == number}

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@contextlib.contextmanager
def tapped(broker: Broker) -> Iterator[Tap]:
    tap = Tap(broker)
    try:
        yield tap
    finally:
        tap.close()


def expected_readings(device: BleDevice) -> Counter[tuple[str, float]]:
    """(metric, value in the stored unit) of the readings in a device's memory (its stored
    records), decoded by the hub's own codecs."""
    out: Counter[tuple[str, float]] = Counter()
    for record in device.memory:
        if record.live:
            continue
        for number, data in record.values:
            if number in MEASUREMENT_CODECS:
                for m in decode_characteristic(number, data):
                    assert m.value is not None
                    factor, offset = METRICS[m.metric].units[m.unit]  # to the stored unit
                    out[(m.metric, round(float(m.value * factor + offset), 6))] += 1
    return out


def readings_of(hub: HubProcesses, device: BleDevice) -> Counter[tuple[str, float]]:
    return Counter((m, round(v, 6)) for m, v, _, _ in stored(hub, device.device_id))


def gatt_paths(bluez: SimulatedBluez, address: str) -> list[str]:
    """The D-Bus objects below a device (its services appear on a first connection)."""

    async def objects() -> list[str]:
        bus = await MessageBus(bus_address=bluez.bus_address).connect()
        try:
            reply = await bus.call(
                Message(
                    destination="org.bluez",
                    path="/",
                    interface="org.freedesktop.DBus.ObjectManager",
                    member="GetManagedObjects",
                )
            )
        finally:
            bus.disconnect()
        assert reply is not None
        return [str(path) for path in reply.body[0]]

    device = bluez.device_path(address)
    return [path for path in asyncio.run(objects()) if path.startswith(device + "/")]


def codes(hub: HubProcesses, name: str) -> set[tuple[str, str]]:
    """The codings the API gives a stored reading of ``name``."""
    with hub.http(Role.PATIENT, PATIENT) as http:
        response = http.get(
            f"/v1/patients/{PATIENT}/readings",
            params={"metric": name, "limit": "1", "from": "2000-01-01T00:00:00Z"},
        )
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    return {(c["system"], c["code"]) for c in item["codes"]}


MDC = "urn:iso:std:iso:11073:10101"


def health(hub: HubProcesses) -> dict[str, Any]:
    """The gateway's health, as ``GET /v1/gateways/{id}`` shows it."""
    with hub.http(Role.ADMIN, "ops-test") as http:
        response = http.get(f"/v1/gateways/{GATEWAY}")
    assert response.status_code == 200, response.text
    return response.json()["health"] or {"status": None, "devices": []}


def heard(health: dict[str, Any]) -> list[str]:
    return [d["device_id"] for d in health["devices"] if d["last_seen"] is not None]


# --- every device type ---------------------------------------------------------------------


def test_every_device_type_reaches_the_store_decoded_and_coded_and_strangers_are_ignored(
    tmp_path: Path, mosquitto: Broker, hub: HubProcesses
) -> None:
    hub.start("api")
    hub.start("bridge")
    now = time.time()
    lag = lag_in_heart_rate_session(now)
    kit = Kit(lag, now - lag - 2 * DAY)
    for kind in KINDS:
        kit.add(kind)
    stranger = BloodPressureCuff(
        "ble-bp-stranger", STRANGER, person(), DeviceClock(ZONE, error_s=lag), kit.start
    )
    register(hub, kit.devices, now - 10 * DAY)
    stored_kinds = ("glucose-meter", "cgm", "bp-cuff", "scale", "thermometer", "oximeter")
    strap = kit.devices["hr-strap"]

    def complete() -> bool:
        until = kit.clock()
        return len(stored(hub, strap.device_id)) >= 3 and all(
            readings_of(hub, kit.devices[k]) == expected_readings(kit.twin(k, until))
            for k in stored_kinds
        )

    with (
        simulated_bluez_thread([*kit.devices.values(), stranger], clock=kit.clock, seed=SEED) as bz,
        tapped(mosquitto) as tap,
    ):
        gateway = Gateway(tmp_path, hub, mosquitto, bz)
        gateway.configure(kit.devices)
        with running(gateway):
            wait_until(complete, "every device's readings in the store", timeout=45)
            # its status, as the hub recorded it: online, each device heard, batteries
            wait_until(lambda: len(heard(health(hub))) == len(KINDS), "the devices' health")
            assert health(hub)["status"] == "online"
            assert {d["battery_percent"] for d in health(hub)["devices"]} == {100}
            assert metric(hub, "hub_gateways_online") == 1
        wait_until(lambda: health(hub)["status"] == "offline", "offline once stopped")
        assert gatt_paths(bz, STRANGER) == []  # never connected to: services never resolved
        assert gatt_paths(bz, strap.address) != []
    assert STRANGER not in gateway.output()
    # the clock dates the records of each connection: every message starts with it
    assert tap.of(kit.devices["bp-cuff"].device_id, uuids.CURRENT_TIME)
    # never the intermediate cuff pressure
    assert not tap.of(kit.devices["bp-cuff"].device_id, uuids.INTERMEDIATE_CUFF_PRESSURE)
    for name in (
        "glucose",
        "glucose_isf",
        "systolic_bp",
        "weight",
        "body_temperature",
        "spo2",
        "heart_rate",
    ):
        definition = METRICS[name]
        assert (MDC, str(definition.mdc_code)) in codes(hub, name)
        assert ("http://loinc.org", definition.loinc) in codes(hub, name)
    heart = [v for m, v, _, _ in stored(hub, strap.device_id) if m == "heart_rate"]
    assert all(40 <= v <= 200 for v in heart)


# --- the glucose meter's records ----------------------------------------------------------


def glucose_sequences(tap: Tap, device_id: str) -> Counter[int]:
    """How many distinct outbox frames carried each Glucose Measurement (by its sequence)."""
    frames = tap.of(device_id, uuids.GLUCOSE_MEASUREMENT)
    return Counter(parse_glucose_measurement(data).sequence for data in frames.values())


def test_a_meter_of_500_records_then_only_the_new_one_and_a_lost_link_loses_and_repeats_nothing(
    tmp_path: Path, mosquitto: Broker, hub: HubProcesses
) -> None:
    hub.start("api")
    hub.start("bridge")
    now = time.time()
    lag = lag_before_meter_test(now, lead_s=15.0)  # its next test: 15 s from now
    kit = Kit(lag, now - lag - 160 * DAY)
    meter = kit.add("glucose-meter")
    assert isinstance(meter, GlucoseMeter)
    held = kit.twin("glucose-meter", kit.clock())
    assert len(held.memory) == 500  # full: it keeps its last 500
    register(hub, kit.devices, now - 200 * DAY)
    with (
        simulated_bluez_thread([meter], clock=kit.clock, seed=SEED) as bz,
        tapped(mosquitto) as tap,
    ):
        # the link drops after 150 records and the 151st measurement, without its context
        bz.faults(meter.address).link_loss_after = 301
        gateway = Gateway(tmp_path, hub, mosquitto, bz)
        gateway.configure(kit.devices)
        with running(gateway):
            wait_until(lambda: len(stored(hub, meter.device_id)) == 500, "500 records", 40)
            first = glucose_sequences(tap, meter.device_id)
            wait_until(lambda: len(stored(hub, meter.device_id)) == 501, "the new record", 40)
            wait_until(lambda: len(glucose_sequences(tap, meter.device_id)) == 501, "its frame")
    assert "link-lost" in gateway.output()  # the drop happened, and was resumed from
    held_sequences = sorted(r.key for r in held.memory)
    # the first sync: every record the meter held; then only the one measured since
    assert sorted(first) == held_sequences
    later = glucose_sequences(tap, meter.device_id) - first
    assert list(later) == [held_sequences[-1] + 1]
    # every record crossed the radio and the wire in one frame: none twice, none lost
    assert set(glucose_sequences(tap, meter.device_id).values()) == {1}
    rows = stored(hub, meter.device_id)
    assert sorted(seq for *_, seq in rows if seq is not None) == [*held_sequences, *later]
    assert metric(hub, "hub_readings_duplicate_total") == 0
    assert expected_readings(kit.twin("glucose-meter", kit.clock())) <= readings_of(hub, meter)
    # each measurement joined its context (meal, tester): the flags say so
    assert all("meal:" in flags for flags in stored_flags(hub, meter.device_id))


def test_a_meter_whose_counter_went_back_is_fetched_again_once(
    tmp_path: Path, mosquitto: Broker, hub: HubProcesses
) -> None:
    hub.start("api")
    hub.start("bridge")
    now = time.time()
    kit = Kit(0.0, now - 160 * DAY)
    meter = kit.add("glucose-meter")
    register(hub, kit.devices, now - 200 * DAY)
    # the gateway remembers a record 20000 of this meter (before its factory reset, say)
    outbox = FrameOutbox.open(tmp_path / "gw" / "outbox.sqlite3")
    outbox.append([], {f"checkpoint:{meter.device_id}": "20000"})
    outbox.close()
    with (
        simulated_bluez_thread([meter], clock=kit.clock, seed=SEED) as bz,
        tapped(mosquitto) as tap,
    ):
        gateway = Gateway(tmp_path, hub, mosquitto, bz)
        gateway.configure(kit.devices)
        with running(gateway):
            wait_until(lambda: len(stored(hub, meter.device_id)) == 500, "500 records", 40)
            time.sleep(6)  # two more visits: nothing is new any more
    assert "record counter was reset" in gateway.output()
    assert gateway.output().count("connected (") >= 3
    assert set(glucose_sequences(tap, meter.device_id).values()) == {1}  # fetched once


# --- a crash and a broker outage -----------------------------------------------------------


@pytest.mark.slow  # the broker is down for a whole minute
def test_sigkill_mid_stream_and_a_minute_without_broker_store_every_measurement_once(
    tmp_path: Path, mosquitto: Broker, hub: HubProcesses
) -> None:
    hub.start("api")
    hub.start("bridge")
    now = time.time()
    lag = lag_in_heart_rate_session(now)
    kit = Kit(lag, now - lag - 160 * DAY)
    meter, strap = kit.add("glucose-meter"), kit.add("hr-strap")
    register(hub, kit.devices, now - 200 * DAY)
    with (
        simulated_bluez_thread([meter, strap], clock=kit.clock, seed=SEED) as bz,
        tapped(mosquitto) as tap,
    ):
        bz.faults(meter.address).notify_interval_s = 0.01  # a transfer of ~10 s
        gateway = Gateway(tmp_path, hub, mosquitto, bz)
        gateway.configure(kit.devices)
        gateway.start()
        try:
            wait_until(lambda: len(glucose_sequences(tap, meter.device_id)) >= 100, "mid-transfer")
            assert gateway.signal(signal.SIGKILL) == -signal.SIGKILL
            assert len(stored(hub, meter.device_id)) < 500
            gateway.start()  # the same outbox: it resends, then fetches from its checkpoint
            wait_until(lambda: len(stored(hub, meter.device_id)) == 500, "the meter", 40)
            heart_before = len(stored(hub, strap.device_id))
            mosquitto.stop()
            time.sleep(60)  # the strap goes on: its values wait in the outbox
            assert pending_count(tmp_path / "gw" / "outbox.sqlite3") > 0
            mosquitto.start()
            frames = lambda: tap.of(strap.device_id, uuids.HEART_RATE_MEASUREMENT)  # noqa: E731
            wait_until(
                lambda: len(stored(hub, strap.device_id)) == len(frames()) > heart_before + 5,
                "the outage's heart rates",
                40,
            )
        finally:
            code = gateway.signal(signal.SIGTERM)
        assert code == 0, gateway.output()
    # every record of the meter once: one frame each across the crash, stored once
    assert set(glucose_sequences(tap, meter.device_id).values()) == {1}
    assert len(glucose_sequences(tap, meter.device_id)) == 500
    # every heart rate the gateway heard (each in its own frame) stored once
    times = Counter(t for _, _, t, _ in stored(hub, strap.device_id))
    assert set(times.values()) == {1}
