"""Unmodified bleak (and bleak-retry-connector) against the simulated BlueZ.

Each test starts a private dbus-daemon with the simulated ``org.bluez`` on it, served from a
thread (``gateway_firmware_sim.bluez.simulated_bluez_thread``), points
``DBUS_SYSTEM_BUS_ADDRESS`` at it and drives bleak's BlueZ backend in an event loop of its own,
exactly as an application would; that loop ends before the bus goes. Devices are seeded and live in
simulated time from a manual clock that starts at a fixed instant, so the bytes are the same
on every run; each expected value comes from an identical twin device driven directly, then
decoded with ``device_profiles``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDBusError, BleakError, BleakGATTProtocolError
from bleak_retry_connector import BleakClientWithServiceCache, establish_connection
from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from device_profiles import uuids
from device_profiles.battery import parse_battery_level
from device_profiles.blood_pressure import parse_blood_pressure, parse_intermediate_cuff_pressure
from device_profiles.gatt_time import (
    AdjustReason,
    CurrentTime,
    GattDateTime,
    decode_current_time,
    decode_date_time,
    encode_current_time,
    encode_date_time,
)
from device_profiles.glucose import parse_glucose_measurement
from device_profiles.heart_rate import parse_heart_rate
from device_profiles.racp import (
    RacpFilter,
    RacpOpCode,
    RacpOperator,
    RacpRequest,
    RacpResponseCode,
    ResponseCodeResponse,
    encode_racp_request,
    parse_racp_response,
)
from gateway_firmware_sim.bluez import Peripheral, SimulatedBluez, simulated_bluez_thread
from gateway_firmware_sim.devices.base import BleDevice, DeviceClock
from gateway_firmware_sim.devices.cuff import BloodPressureCuff
from gateway_firmware_sim.devices.glucose_meter import GlucoseMeter
from gateway_firmware_sim.devices.hr_strap import HeartRateStrap
from gateway_firmware_sim.physiology.glucose import GlucoseScenario
from gateway_firmware_sim.physiology.person import Conditions, Person
from gateway_firmware_sim.physiology.pressure import BpVariant
from gateway_firmware_sim.timebase import DAY, MINUTE, naive_local

pytestmark = pytest.mark.integration

T0 = 1_764_000_000.0  # when the devices were switched on (simulated UTC)
NOW = T0 + 4 * DAY  # when the collector comes by
PARIS = 3600.0
SEED = 11
CUFF = "C0:26:DA:00:00:01"
METER = "C0:26:DA:00:00:02"
STRAP = "C0:26:DA:00:00:03"
CLOCK_ERROR_S = 95.5  # the devices' clocks run this far ahead of true local time
TIMEOUT = 5.0


def sig(number: int) -> str:
    return f"0000{number:04x}-0000-1000-8000-00805f9b34fb"


class ManualClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def person() -> Person:
    conditions = Conditions(GlucoseScenario.T1D, BpVariant.HYPERTENSIVE, cardiac_rehab=True)
    return Person.create(SEED, "pat-bluez", PARIS, conditions)


def device_clock(**overrides: Any) -> DeviceClock:
    settings = {"error_s": CLOCK_ERROR_S, "drift_ppm": 12.0, "set_at": T0, **overrides}
    return DeviceClock(PARIS, **settings)


def cuff(**clock: Any) -> BloodPressureCuff:
    return BloodPressureCuff("ble-bp-0001", CUFF, person(), device_clock(**clock), T0)


def meter() -> GlucoseMeter:
    return GlucoseMeter("ble-gm-0001", METER, person(), device_clock(), T0)


def strap() -> HeartRateStrap:
    return HeartRateStrap("ble-hr-0001", STRAP, person(), device_clock(), T0)


def racp(op: RacpOpCode, operator: RacpOperator = RacpOperator.ALL_RECORDS, *bound: int) -> bytes:
    filter_type = RacpFilter.SEQUENCE_NUMBER if bound else None
    return encode_racp_request(RacpRequest(op, operator, filter_type, bound))


def run(scenario: Coroutine[Any, Any, None]) -> None:
    """Drive bleak in an event loop of its own."""
    asyncio.run(asyncio.wait_for(scenario, 30.0))


@contextlib.contextmanager
def bluez(
    monkeypatch: pytest.MonkeyPatch,
    devices: list[BleDevice | Peripheral],
    clock: ManualClock,
    temporary_timeout_s: float = 30.0,
) -> Iterator[SimulatedBluez]:
    with simulated_bluez_thread(
        devices, clock=clock, seed=SEED, tick_s=0.02, temporary_timeout_s=temporary_timeout_s
    ) as sim:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", sim.bus_address)
        yield sim


async def managed_objects(sim: SimulatedBluez) -> dict[str, dict[str, dict[str, Variant]]]:
    """What ``GetManagedObjects`` says, from a D-Bus connection of our own."""
    bus = await MessageBus(bus_address=sim.bus_address).connect()
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
    objects: dict[str, dict[str, dict[str, Variant]]] = reply.body[0]
    return objects


async def scan(
    timeout: float = 0.4, **options: Any
) -> dict[str, tuple[BLEDevice, AdvertisementData]]:
    return await BleakScanner.discover(timeout=timeout, return_adv=True, **options)


async def find(address: str) -> BLEDevice:
    found = await scan()
    return found[address][0]


class Received:
    """Notifications and indications, in arrival order: (characteristic UUID, bytes)."""

    def __init__(self) -> None:
        self.values: list[tuple[str, bytes]] = []
        self._arrived = asyncio.Event()

    def __call__(self, sender: BleakGATTCharacteristic, data: bytearray) -> None:
        self.values.append((sender.uuid, bytes(data)))
        self._arrived.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not condition():
                self._arrived.clear()
                await self._arrived.wait()

    def of(self, number: int) -> list[bytes]:
        return [data for uuid, data in self.values if uuid == sig(number)]


# ---------------------------------------------------------------------------- discovery


def test_scanner_finds_the_devices_with_their_names_and_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario() -> None:
        found = await scan()
        assert {address: (d.name, a.service_uuids) for address, (d, a) in found.items()} == {
            CUFF: ("ble-bp-0001", [sig(uuids.BLOOD_PRESSURE_SERVICE)]),
            METER: ("ble-gm-0001", [sig(uuids.GLUCOSE_SERVICE)]),
            STRAP: ("ble-hr-0001", [sig(uuids.HEART_RATE_SERVICE)]),
        }
        assert all(-65 <= adv.rssi <= -59 and adv.tx_power == 0 for _, adv in found.values())
        glucose_only = await scan(service_uuids=[sig(uuids.GLUCOSE_SERVICE)])
        assert list(glucose_only) == [METER]

    with bluez(monkeypatch, [cuff(), meter(), strap()], ManualClock(NOW)):
        run(scenario())


def test_discovery_filters_and_sessions_answer_like_bluez(monkeypatch: pytest.MonkeyPatch) -> None:
    async def call(bus: MessageBus, member: str, signature: str = "", *body: Any) -> Message:
        message = Message(
            destination="org.bluez",
            path="/org/bluez/hci0",
            interface="org.bluez.Adapter1",
            member=member,
            signature=signature,
            body=list(body),
        )
        reply = await bus.call(message)
        assert reply is not None
        return reply

    async def scenario(sim: SimulatedBluez) -> None:
        bus = await MessageBus(bus_address=sim.bus_address).connect()
        try:
            reply = await call(bus, "GetDiscoveryFilters")
            assert reply.body[0][:4] == ["UUIDs", "RSSI", "Pathloss", "Transport"]
            for bad in (
                {"Colour": Variant("s", "blue")},
                {"RSSI": Variant("i", -70)},  # int16 only
                {"RSSI": Variant("n", -70), "Pathloss": Variant("q", 40)},
                {"Transport": Variant("s", "usb")},
                {"UUIDs": Variant("as", ["not-a-uuid"])},
            ):
                reply = await call(bus, "SetDiscoveryFilter", "a{sv}", bad)
                assert reply.error_name == "org.bluez.Error.InvalidArguments", bad
            reply = await call(bus, "StopDiscovery")
            assert (reply.error_name, reply.body) == (
                "org.bluez.Error.Failed",
                ["No discovery started"],
            )
            # A filter set before discovering, that the cuff does not match (an RSSI floor
            # above its signal): it is not reported.
            await call(bus, "SetDiscoveryFilter", "a{sv}", {"RSSI": Variant("n", -40)})
            assert (await call(bus, "StartDiscovery")).message_type is MessageType.METHOD_RETURN
            reply = await call(bus, "StartDiscovery")
            assert reply.error_name == "org.bluez.Error.InProgress"
            await asyncio.sleep(0.3)  # three advertising intervals
            assert sim.device_path(CUFF) not in await managed_objects(sim)
            await call(bus, "SetDiscoveryFilter", "a{sv}", {})  # no filter: everything
            async with asyncio.timeout(TIMEOUT):
                while sim.device_path(CUFF) not in await managed_objects(sim):
                    await asyncio.sleep(0.05)
        finally:
            bus.disconnect()

    with bluez(monkeypatch, [cuff()], ManualClock(NOW)) as sim:
        run(scenario(sim))


# ----------------------------------------------------------------- services, reads, writes


def floor_256th(moment: datetime) -> datetime:
    fraction = moment.microsecond * 256 // 1_000_000
    return moment.replace(microsecond=fraction * 1_000_000 // 256)


def test_client_lists_the_services_and_reads_battery_and_the_device_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = ManualClock(NOW + 0.75)

    async def scenario() -> None:
        async with BleakClient(await find(CUFF)) as client:
            services = {
                s.uuid: {c.uuid: c.properties for c in s.characteristics} for s in client.services
            }
            assert services == {
                sig(0x180A): {sig(u): ["read"] for u in (0x2A29, 0x2A24, 0x2A25, 0x2A26)},
                sig(0x180F): {sig(0x2A19): ["read"]},
                sig(0x1805): {
                    sig(0x2A2B): ["read", "write", "notify"],
                    sig(0x2A08): ["read", "write"],
                },
                sig(0x1810): {sig(0x2A35): ["indicate"], sig(0x2A36): ["notify"]},
            }
            measurement = client.services.get_characteristic(sig(0x2A35))
            assert measurement is not None
            assert [d.uuid for d in measurement.descriptors] == [sig(0x2902)]
            cccd = measurement.descriptors[0]
            assert await client.read_gatt_descriptor(cccd) == b"\x00\x00"
            await client.start_notify(measurement, lambda _, __: None)
            assert await client.read_gatt_descriptor(cccd) == b"\x02\x00"  # indications

            battery = await client.read_gatt_char(sig(uuids.BATTERY_LEVEL))
            assert parse_battery_level(bytes(battery)).percent == 73
            model = await client.read_gatt_char(sig(0x2A24))
            assert model.decode() == "generic-ble-blood-pressure"

            current = decode_current_time(bytes(await client.read_gatt_char(sig(0x2A2B))))
            shown_t = clock.now + CLOCK_ERROR_S + 12e-6 * (clock.now - T0)
            shown = naive_local(shown_t, PARIS) + timedelta(seconds=shown_t % 1)
            assert current.to_datetime() == floor_256th(shown)
            assert current.day_of_week == shown.isoweekday()
            assert current.adjust_reason == AdjustReason(0)
            date_time = decode_date_time(bytes(await client.read_gatt_char(sig(0x2A08))))
            assert date_time == current.date_time

    with bluez(monkeypatch, [Peripheral(cuff(), battery_percent=73, seed=SEED)], clock):
        run(scenario())


def test_writing_date_time_and_current_time_sets_the_device_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = ManualClock(NOW)
    settable, stuck = cuff(), meter()
    stuck.clock.settable = False
    true_local = naive_local(clock.now, PARIS)
    set_to = true_local + timedelta(hours=1, minutes=1, seconds=1.5)
    written = CurrentTime.from_datetime(set_to, AdjustReason.EXTERNAL_REFERENCE_TIME_UPDATE)

    async def scenario() -> None:
        async with BleakClient(await find(CUFF)) as client:
            date_time = encode_date_time(GattDateTime.from_datetime(true_local))
            await client.write_gatt_char(sig(uuids.DATE_TIME), date_time, response=True)
            assert settable.clock.local(clock.now) == true_local
            clock.now += 60
            read = decode_current_time(bytes(await client.read_gatt_char(sig(0x2A2B))))
            assert read.date_time.to_datetime() == true_local + timedelta(minutes=1)
            assert read.adjust_reason == AdjustReason.MANUAL_TIME_UPDATE

            await client.write_gatt_char(sig(0x2A2B), encode_current_time(written), response=True)
            assert decode_current_time(bytes(await client.read_gatt_char(sig(0x2A2B)))) == written
            assert settable.clock.local(clock.now) == set_to.replace(microsecond=0)

            short = encode_current_time(written)[:9]
            with pytest.raises(BleakGATTProtocolError) as bad_length:
                await client.write_gatt_char(sig(0x2A2B), short, response=True)
            assert bad_length.value.code == 0x0D  # Invalid Attribute Value Length
            unknown_date = encode_date_time(GattDateTime(0, 0, 0, 12, 0, 0))
            with pytest.raises(BleakGATTProtocolError) as ignored:
                await client.write_gatt_char(sig(uuids.DATE_TIME), unknown_date, response=True)
            assert ignored.value.code == 0x80  # Current Time Service: Data field ignored

        async with BleakClient(await find(METER)) as client:
            before = stuck.clock.local(clock.now)
            date_time = encode_date_time(GattDateTime.from_datetime(true_local))
            await client.write_gatt_char(sig(uuids.DATE_TIME), date_time, response=True)
            assert stuck.clock.local(clock.now) == before  # its firmware ignores the write

    with bluez(monkeypatch, [settable, stuck], clock):
        run(scenario())


# ------------------------------------------------------------------ notifications, indications


def test_blood_pressure_indications_are_the_bytes_the_cuff_produced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    twin = cuff()
    twin.advance(NOW)
    expected = [note.data for note in twin.drain(NOW, NOW)]
    readings = person().pressure.readings(T0, NOW)
    assert len(expected) == len(readings) > 5
    received = Received()

    async def scenario() -> None:
        async with BleakClient(await find(CUFF)) as client:
            await client.start_notify(sig(uuids.BLOOD_PRESSURE_MEASUREMENT), received)
            await received.until(lambda: len(received.values) == len(expected))

    with bluez(monkeypatch, [cuff()], ManualClock(NOW)):
        run(scenario())
    assert received.of(uuids.BLOOD_PRESSURE_MEASUREMENT) == expected
    for data, reading in zip(expected, readings, strict=True):
        record = parse_blood_pressure(data)
        assert record.systolic == Decimal(reading.systolic)
        assert record.diastolic == Decimal(reading.diastolic)
        assert record.pulse_rate == Decimal(reading.pulse)
        assert record.timestamp is not None
        when = float(int(reading.time))  # devices stamp whole seconds
        shown = naive_local(when + CLOCK_ERROR_S + 12e-6 * (when - T0), PARIS)
        assert record.timestamp.to_datetime() == shown


def test_intermediate_cuff_pressure_comes_before_the_measurement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    device = cuff()
    device.intermediate_cuff_pressure = True
    next_reading = person().pressure.readings(NOW, NOW + DAY)[0]
    clock = ManualClock(next_reading.time - 10 * MINUTE)
    stored = len(person().pressure.readings(T0, clock.now))
    received = Received()

    async def scenario() -> None:
        async with BleakClient(await find(CUFF)) as client:
            await client.start_notify(sig(uuids.INTERMEDIATE_CUFF_PRESSURE), received)
            await client.start_notify(sig(uuids.BLOOD_PRESSURE_MEASUREMENT), received)
            await received.until(lambda: len(received.values) == stored)
            clock.now = next_reading.time + MINUTE  # the wearer measures while we listen
            await received.until(
                lambda: len(received.of(uuids.BLOOD_PRESSURE_MEASUREMENT)) == stored + 1
            )

    with bluez(monkeypatch, [device], clock):
        run(scenario())
    pressures = [
        parse_intermediate_cuff_pressure(data).cuff_pressure
        for data in received.of(uuids.INTERMEDIATE_CUFF_PRESSURE)
    ]
    deflation = range(next_reading.systolic + 30, next_reading.diastolic - 10, -6)
    assert pressures == [Decimal(p) for p in deflation]
    uuid, last = received.values[-1]
    assert uuid == sig(uuids.BLOOD_PRESSURE_MEASUREMENT)
    assert parse_blood_pressure(last).systolic == Decimal(next_reading.systolic)


def test_notifications_through_acquire_notify(monkeypatch: pytest.MonkeyPatch) -> None:
    start = person().heart.sessions(T0, T0 + 14 * DAY)[0].worn[0]
    clock = ManualClock(start - MINUTE)
    twin = strap()
    twin.advance(start + 5 * MINUTE)
    expected = [n.data for n in twin.drain(start - MINUTE, start + 5 * MINUTE)]
    assert len(expected) > 10
    received = Received()

    async def scenario() -> None:
        async with BleakClient(await find(STRAP)) as client:
            measurement = client.services.get_characteristic(sig(uuids.HEART_RATE_MEASUREMENT))
            assert measurement is not None
            assert measurement.obj[1]["NotifyAcquired"] is False
            await client.start_notify(measurement, received, bluez={"use_start_notify": False})
            clock.now = start + 5 * MINUTE
            await received.until(lambda: len(received.values) == len(expected))
            await client.stop_notify(measurement)

    with bluez(monkeypatch, [strap()], clock):
        run(scenario())
    assert received.of(uuids.HEART_RATE_MEASUREMENT) == expected
    assert all(parse_heart_rate(data).heart_rate > 40 for data in expected)


# -------------------------------------------------------------------------------- the RACP


async def subscribe_glucose(client: BleakClient, received: Received) -> None:
    for characteristic in (
        uuids.GLUCOSE_MEASUREMENT,
        uuids.GLUCOSE_MEASUREMENT_CONTEXT,
        uuids.RECORD_ACCESS_CONTROL_POINT,
    ):
        await client.start_notify(sig(characteristic), received)


def sequences(received: Received) -> list[int]:
    return [parse_glucose_measurement(d).sequence for d in received.of(uuids.GLUCOSE_MEASUREMENT)]


def test_racp_reports_stored_records_from_a_sequence_number_then_responds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    twin = meter()
    twin.advance(NOW)
    request = racp(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.GREATER_THAN_OR_EQUAL, 5)
    notes = twin.write(uuids.RECORD_ACCESS_CONTROL_POINT, request, NOW)
    expected = [(sig(note.uuid), note.data) for note in notes]
    assert len(expected) > 10
    received = Received()

    async def scenario() -> None:
        async with BleakClient(await find(METER)) as client:
            racp_uuid = sig(uuids.RECORD_ACCESS_CONTROL_POINT)
            with pytest.raises(BleakGATTProtocolError) as unconfigured:
                await client.write_gatt_char(racp_uuid, request, response=True)
            assert unconfigured.value.code == 0xFD  # CCCD improperly configured
            await subscribe_glucose(client, received)
            await client.write_gatt_char(racp_uuid, request, response=True)
            await received.until(lambda: len(received.values) == len(expected))

    with bluez(monkeypatch, [meter()], ManualClock(NOW)):
        run(scenario())
    assert received.values == expected
    assert sequences(received)[0] == 5
    assert parse_racp_response(received.values[-1][1]) == ResponseCodeResponse(
        RacpOpCode.REPORT_STORED_RECORDS, RacpResponseCode.SUCCESS
    )


def test_a_disconnection_mid_transfer_is_seen_and_the_next_connection_resumes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    twin = meter()
    twin.advance(NOW)
    everything = racp(RacpOpCode.REPORT_STORED_RECORDS)
    all_sequences = [
        parse_glucose_measurement(n.data).sequence
        for n in twin.write(uuids.RECORD_ACCESS_CONTROL_POINT, everything, NOW)
        if n.uuid == uuids.GLUCOSE_MEASUREMENT
    ]
    first, second = Received(), Received()
    racp_uuid = sig(uuids.RECORD_ACCESS_CONTROL_POINT)

    async def scenario(sim: SimulatedBluez) -> list[int]:
        device = await find(METER)
        sim.faults(METER).link_loss_after = 7  # three records and a half
        dropped = asyncio.Event()
        client = BleakClient(device, disconnected_callback=lambda _: dropped.set())
        await client.connect()
        await subscribe_glucose(client, first)
        await client.write_gatt_char(racp_uuid, everything, response=True)
        async with asyncio.timeout(TIMEOUT):
            await dropped.wait()
        assert not client.is_connected
        assert len(first.values) == 7
        complete = sequences(first)[:3]  # the fourth measurement came without its context

        resume = racp(
            RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.GREATER_THAN_OR_EQUAL, complete[-1] + 1
        )
        async with BleakClient(device) as client:
            await subscribe_glucose(client, second)
            await client.write_gatt_char(racp_uuid, resume, response=True)
            await second.until(lambda: bool(second.of(uuids.RECORD_ACCESS_CONTROL_POINT)))
        return complete

    with bluez(monkeypatch, [meter()], ManualClock(NOW)) as sim:
        complete = asyncio.run(asyncio.wait_for(scenario(sim), 30.0))
    assert complete + sequences(second) == all_sequences


def test_pairing_then_removing_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario(sim: SimulatedBluez) -> None:
        async with BleakClient(await find(CUFF), pair=True) as client:
            device = (await managed_objects(sim))[sim.device_path(CUFF)]["org.bluez.Device1"]
            assert {name: device[name].value for name in ("Paired", "Bonded", "Trusted")} == {
                "Paired": True,
                "Bonded": True,
                "Trusted": True,
            }
            await client.unpair()  # Adapter1.RemoveDevice: disconnected, then forgotten
            assert not client.is_connected
        assert not [path for path in await managed_objects(sim) if "dev_" in path]
        assert CUFF in await scan()  # still advertising: discovery makes a new object

    with bluez(monkeypatch, [cuff()], ManualClock(NOW)) as sim:
        run(scenario(sim))


# ---------------------------------------------------------------------------- radio faults


def test_a_device_out_of_range_is_not_seen_and_cannot_be_connected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario(sim: SimulatedBluez) -> None:
        device = await find(CUFF)
        faults = sim.faults(CUFF)
        faults.out_of_range = True
        faults.connect_timeout_s = 0.2
        assert CUFF not in await scan()
        with pytest.raises(BleakDBusError) as failed:
            await BleakClient(device).connect()
        assert failed.value.dbus_error == "org.bluez.Error.Failed"
        assert failed.value.dbus_error_details == "le-connection-timeout"

        faults.out_of_range = False  # back in range: it advertises and connects
        dropped = asyncio.Event()
        found = await find(CUFF)
        async with BleakClient(found, disconnected_callback=lambda _: dropped.set()) as client:
            faults.out_of_range = True  # walks away while connected: supervision timeout
            async with asyncio.timeout(TIMEOUT):
                await dropped.wait()
            assert not client.is_connected

    with bluez(monkeypatch, [cuff(), meter()], ManualClock(NOW)) as sim:
        run(scenario(sim))


def test_a_device_unheard_for_a_while_is_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario(sim: SimulatedBluez) -> None:
        device = await find(CUFF)
        sim.faults(CUFF).out_of_range = True
        await asyncio.sleep(0.6)  # bluetoothd's TemporaryTimeout, shortened to 0.3 s
        assert sim.device_path(CUFF) not in await managed_objects(sim)
        with pytest.raises(BleakError, match="not found"):
            await BleakClient(device).connect()

    with bluez(monkeypatch, [cuff()], ManualClock(NOW), temporary_timeout_s=0.3) as sim:
        run(scenario(sim))


def test_in_progress_on_connect_surfaces_as_a_bleak_error(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario(sim: SimulatedBluez) -> None:
        device = await find(CUFF)
        sim.faults(CUFF).connect_in_progress = 1
        with pytest.raises(BleakDBusError) as busy:
            await BleakClient(device).connect()
        assert busy.value.dbus_error == "org.bluez.Error.InProgress"
        async with BleakClient(device) as client:  # only the next Connect was refused
            assert client.is_connected

    with bluez(monkeypatch, [cuff()], ManualClock(NOW)) as sim:
        run(scenario(sim))


def test_retry_connector_retries_through_in_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario(sim: SimulatedBluez) -> None:
        device = await find(CUFF)
        faults = sim.faults(CUFF)
        faults.connect_in_progress = 2
        client = await establish_connection(
            BleakClientWithServiceCache, device, "cuff", max_attempts=4
        )
        try:
            assert client.is_connected
            assert faults.connect_in_progress == 0
            battery = await client.read_gatt_char(sig(uuids.BATTERY_LEVEL))
            assert parse_battery_level(bytes(battery)).percent == 100
        finally:
            await client.disconnect()

    with bluez(monkeypatch, [cuff()], ManualClock(NOW)) as sim:
        run(scenario(sim))


def test_bleak_retries_an_aborted_connection_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario(sim: SimulatedBluez) -> None:
        device = await find(CUFF)
        sim.faults(CUFF).connect_abort = 1  # le-connection-abort-by-local, once
        async with BleakClient(device) as client:
            assert client.is_connected
            assert sim.faults(CUFF).connect_abort == 0

    with bluez(monkeypatch, [cuff()], ManualClock(NOW)) as sim:
        run(scenario(sim))


def test_a_slow_device_trips_the_client_timeouts_then_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario(sim: SimulatedBluez) -> None:
        device = await find(CUFF)
        faults = sim.faults(CUFF)
        faults.connect_delay_s = faults.read_delay_s = 60.0
        with pytest.raises(TimeoutError):  # bleak gives up, its Disconnect cancels the Connect
            await BleakClient(device, timeout=0.3).connect()
        faults.connect_delay_s = 0.0
        async with BleakClient(device) as client:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await client.read_gatt_char(sig(uuids.BATTERY_LEVEL))
            faults.read_delay_s = 0.0
            battery = await client.read_gatt_char(sig(uuids.BATTERY_LEVEL))
            assert parse_battery_level(bytes(battery)).percent == 100

    with bluez(monkeypatch, [cuff()], ManualClock(NOW)) as sim:
        run(scenario(sim))


def test_the_private_bus_leaves_no_process_or_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        assert CUFF in await scan(timeout=0.2)

    with bluez(monkeypatch, [cuff()], ManualClock(NOW)) as sim:
        run(scenario())
        directory = Path(sim.bus_address.removeprefix("unix:path=").split(",")[0]).parent
        assert directory.is_dir()
    assert not directory.exists()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            assert str(directory) not in cmdline.read_text(), cmdline
