"""Simulated devices send the exact bytes a real device sends: they decode, with the very
codecs the hub uses, back to the values the physiology generated."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from decimal import Decimal

import pytest

from device_profiles import uuids
from device_profiles.catalog import load_catalog
from device_profiles.cgm import CgmSessionStartTime
from device_profiles.codecs import decode_characteristic, parse_characteristic
from device_profiles.glucose import GlucoseContext, Meal, join_glucose_context
from device_profiles.json_mapping import decode_json
from device_profiles.racp import (
    NumberOfRecordsResponse,
    RacpFilter,
    RacpOpCode,
    RacpOperator,
    RacpRequest,
    RacpResponseCode,
    ResponseCodeResponse,
    encode_racp_request,
)
from gateway_firmware_sim.devices.base import BleDevice, DeviceClock, Notification
from gateway_firmware_sim.devices.cgm import ContinuousGlucoseMonitor
from gateway_firmware_sim.devices.cuff import BloodPressureCuff
from gateway_firmware_sim.devices.glucose_meter import GlucoseMeter
from gateway_firmware_sim.devices.hr_strap import HeartRateStrap
from gateway_firmware_sim.devices.native import (
    AcmeCuff,
    CanonicalCgm,
    CanonicalCuff,
    GlucoCloudMeter,
    NimbusScale,
)
from gateway_firmware_sim.devices.oximeter import PulseOximeter
from gateway_firmware_sim.devices.scale import WeightScale
from gateway_firmware_sim.devices.thermometer import Thermometer
from gateway_firmware_sim.physiology.glucose import GlucoseScenario
from gateway_firmware_sim.physiology.person import Conditions, Person
from gateway_firmware_sim.physiology.pressure import BpVariant
from gateway_firmware_sim.timebase import DAY, HOUR, naive_local
from hub.core.wire import parse_device_readings

T0 = 1_764_000_000.0
PARIS = 3600.0
EVERYTHING = Conditions(
    GlucoseScenario.T1D,
    BpVariant.HYPERTENSIVE,
    heart_failure=True,
    copd=True,
    cardiac_rehab=True,
    fever_prone=True,
)


@pytest.fixture
def person() -> Person:
    return Person.create(11, "pat-test", PARIS, EVERYTHING)


def make(cls: type[BleDevice], person: Person, **clock: float) -> BleDevice:
    return cls("dev-1", "C0:26:DA:00:00:01", person, DeviceClock(PARIS, **clock), T0)


def local(t: float) -> str:
    return naive_local(t, PARIS).isoformat()


def test_blood_pressure_cuff_bytes_decode_to_the_generated_reading(person: Person) -> None:
    cuff = make(BloodPressureCuff, person)
    cuff.advance(T0 + 2 * DAY)
    expected = person.pressure.readings(T0, T0 + 2 * DAY)
    sent = cuff.drain(T0, T0 + 2 * DAY)
    assert len(sent) == len(expected) > 0
    for note, reading in zip(sent, expected, strict=True):
        assert note.uuid == uuids.BLOOD_PRESSURE_MEASUREMENT
        by_metric = {m.metric: m for m in decode_characteristic(note.uuid, note.data)}
        assert by_metric["systolic_bp"].value == Decimal(reading.systolic)
        assert by_metric["diastolic_bp"].value == Decimal(reading.diastolic)
        assert by_metric["mean_arterial_pressure"].value == Decimal(reading.mean_arterial)
        assert by_metric["pulse_rate"].value == Decimal(reading.pulse)
        assert by_metric["systolic_bp"].time_raw == local(int(reading.time))
        assert note.time >= reading.time
    assert cuff.stats.readings_delivered == 4 * len(expected)
    assert cuff.drain(T0, T0 + 2 * DAY) == []  # sent once


def test_stored_records_wait_for_a_gateway_and_overflow_is_counted_lost(person: Person) -> None:
    cuff = make(BloodPressureCuff, person)
    cuff.advance(T0 + 80 * DAY)  # nobody listened for 80 days: ~300 readings, 100 kept
    assert len(cuff.memory) == 100
    lost = cuff.stats.readings_lost
    assert lost > 0
    sent = cuff.drain(T0 + 80 * DAY, T0 + 80 * DAY)
    assert len(sent) == 100
    assert all(n.time >= T0 + 80 * DAY for n in sent)
    assert cuff.stats.readings_delivered + lost == 4 * cuff.stats.records


def test_scale_sends_weight_bmi_and_height_and_its_features(person: Person) -> None:
    scale = make(WeightScale, person)
    scale.advance(T0 + 3 * DAY)
    expected = person.weight.readings(T0, T0 + 3 * DAY)
    sent = scale.drain(T0, T0 + 3 * DAY)
    assert len(sent) == len(expected) > 0
    for note, reading in zip(sent, expected, strict=True):
        values = {m.metric: m.value for m in decode_characteristic(note.uuid, note.data)}
        assert values["weight"] == Decimal(f"{reading.kg:.1f}")
        assert values["height"] == Decimal(f"{person.height_m:.3f}")
        assert values["bmi"] == Decimal(f"{person.weight.bmi(reading.kg):.1f}")
    feature = parse_characteristic(
        uuids.WEIGHT_SCALE_FEATURE, scale.read(uuids.WEIGHT_SCALE_FEATURE, T0)
    )
    assert feature.bmi_supported  # type: ignore[attr-defined]


def test_thermometer_oximeter_and_strap_decode(person: Person) -> None:
    thermo = make(Thermometer, person)
    thermo.advance(T0 + 3 * DAY)
    expected = person.temperature.readings(T0, T0 + 3 * DAY)
    notes = thermo.drain(T0, T0 + 3 * DAY)
    got = [decode_characteristic(n.uuid, n.data)[0] for n in notes]
    assert [m.value for m in got] == [Decimal(f"{r.celsius:.1f}") for r in expected]
    assert all(m.unit == "Cel" for m in got)

    oxi = make(PulseOximeter, person)
    oxi.advance(T0 + 7 * DAY)
    notes = oxi.drain(T0, T0 + 7 * DAY)
    spot = [n for n in notes if n.uuid == uuids.PLX_SPOT_CHECK_MEASUREMENT]
    night = [n for n in notes if n.uuid == uuids.PLX_CONTINUOUS_MEASUREMENT]
    assert spot and night
    overnight = person.oximetry.overnight(T0, T0 + 7 * DAY)
    assert [decode_characteristic(n.uuid, n.data)[0].value for n in night] == [
        Decimal(r.spo2) for r in overnight
    ]
    assert decode_characteristic(night[0].uuid, night[0].data)[0].time is None  # gateway time

    strap = make(HeartRateStrap, person)
    strap.advance(T0 + 7 * DAY)
    samples = person.heart.samples(T0, T0 + 7 * DAY)
    notes = strap.drain(T0, T0 + 7 * DAY)
    assert [decode_characteristic(n.uuid, n.data)[0].value for n in notes] == [
        Decimal(s.bpm) for s in samples
    ]


def test_live_notifications_nobody_hears_are_lost(person: Person) -> None:
    strap = make(HeartRateStrap, person)
    strap.advance(T0 + 7 * DAY)
    assert strap.drain(None, T0 + 7 * DAY) == []
    assert strap.stats.readings_lost == strap.stats.records > 0
    assert strap.stats.readings_delivered == 0


def test_clock_errors_show_in_the_device_time(person: Person) -> None:
    cuff = make(BloodPressureCuff, person, error_s=240, drift_ppm=300, set_at=T0, settable=False)
    cuff.advance(T0 + 5 * DAY)
    readings = person.pressure.readings(T0, T0 + 5 * DAY)
    for note, reading in zip(cuff.drain(T0, T0 + 5 * DAY), readings, strict=True):
        shown = decode_characteristic(note.uuid, note.data)[0].time
        assert shown is not None
        true = naive_local(int(reading.time), PARIS)
        error = (shown - true).total_seconds()
        expected = 240 + 300e-6 * (reading.time - T0)
        assert abs(error - expected) <= 1.5
    old = make(BloodPressureCuff, person)
    old.clock.reset_to(T0, datetime(2015, 1, 1))
    old.advance(T0 + DAY)
    shown = decode_characteristic(*_first(old.drain(T0, T0 + DAY)))[0].time
    assert shown is not None and shown.year == 2015


def _first(notes: list[Notification]) -> tuple[int, bytes]:
    return notes[0].uuid, notes[0].data


def test_a_gateway_sets_a_settable_clock_and_not_the_others(person: Person) -> None:
    cuff = make(BloodPressureCuff, person, error_s=-3600)
    from device_profiles.gatt_time import GattDateTime, encode_date_time

    now = T0 + 100.0
    value = encode_date_time(GattDateTime.from_datetime(naive_local(now, PARIS)))
    cuff.write(uuids.DATE_TIME, value, now)
    assert abs(cuff.clock.error(now)) < 1.0
    stubborn = make(BloodPressureCuff, person, error_s=-3600, settable=False)
    stubborn.write(uuids.DATE_TIME, value, now)
    assert stubborn.clock.error(now) == pytest.approx(-3600)


# --- glucose meter and its RACP ---------------------------------------------------------


def racp(op: RacpOpCode, operator: RacpOperator = RacpOperator.ALL_RECORDS, *values: int) -> bytes:
    filter_type = RacpFilter.SEQUENCE_NUMBER if values else None
    return encode_racp_request(RacpRequest(op, operator, filter_type, tuple(values)))


def meter(person: Person) -> GlucoseMeter:
    device = GlucoseMeter("gm-1", "C0:26:DA:00:00:02", person, DeviceClock(PARIS), T0, first_seq=40)
    device.advance(T0 + 3 * DAY)
    return device


def test_glucose_meter_reports_its_records_with_context_through_the_racp(person: Person) -> None:
    gm = meter(person)
    assert gm.drain(T0, T0 + 3 * DAY) == []  # nothing without a request
    count = parse_characteristic(
        uuids.RECORD_ACCESS_CONTROL_POINT,
        gm.write(uuids.RECORD_ACCESS_CONTROL_POINT, racp(RacpOpCode.REPORT_NUMBER_OF_RECORDS), T0)[
            -1
        ].data,
    )
    assert isinstance(count, NumberOfRecordsResponse)
    assert count.count == len(gm.memory) >= 9  # type 1: up to 4 tests a day
    notes = gm.write(uuids.RECORD_ACCESS_CONTROL_POINT, racp(RacpOpCode.REPORT_STORED_RECORDS), T0)
    response = parse_characteristic(notes[-1].uuid, notes[-1].data)
    assert response == ResponseCodeResponse(
        RacpOpCode.REPORT_STORED_RECORDS, RacpResponseCode.SUCCESS
    )
    measurements = [
        m
        for n in notes
        if n.uuid == uuids.GLUCOSE_MEASUREMENT
        for m in decode_characteristic(n.uuid, n.data)
    ]
    contexts = [
        parse_characteristic(n.uuid, n.data)
        for n in notes
        if n.uuid == uuids.GLUCOSE_MEASUREMENT_CONTEXT
    ]
    assert len(measurements) == len(contexts) == count.count
    assert [m.sequence for m in measurements] == list(range(40, 40 + count.count))
    joined = join_glucose_context(
        measurements, [c for c in contexts if isinstance(c, GlucoseContext)]
    )
    meals = {a for m in joined for a in m.annotations if a.startswith("meal:")}
    assert {"meal:fasting", "meal:postprandial"} <= meals
    assert all(m.metric == "glucose" and m.unit == "mg/dL" for m in measurements)
    insulin = [c for c in contexts if isinstance(c, GlucoseContext) and c.medication_id]
    assert insulin and all(c.meal is Meal.PREPRANDIAL for c in insulin)


def test_racp_filters_and_response_codes(person: Person) -> None:
    gm = meter(person)
    last = max(r.key for r in gm.memory)
    notes = gm.write(
        uuids.RECORD_ACCESS_CONTROL_POINT,
        racp(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.GREATER_THAN_OR_EQUAL, last - 1),
        T0,
    )
    seqs = [
        int.from_bytes(n.data[1:3], "little") for n in notes if n.uuid == uuids.GLUCOSE_MEASUREMENT
    ]
    assert seqs == [last - 1, last]
    none = gm.write(
        uuids.RECORD_ACCESS_CONTROL_POINT,
        racp(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.GREATER_THAN_OR_EQUAL, last + 1),
        T0,
    )
    assert parse_characteristic(none[-1].uuid, none[-1].data) == ResponseCodeResponse(
        RacpOpCode.REPORT_STORED_RECORDS, RacpResponseCode.NO_RECORDS_FOUND
    )
    within = gm.write(
        uuids.RECORD_ACCESS_CONTROL_POINT,
        racp(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.WITHIN_RANGE, 41, 43),
        T0,
    )
    assert len([n for n in within if n.uuid == uuids.GLUCOSE_MEASUREMENT]) == 3
    bad = gm.write(uuids.RECORD_ACCESS_CONTROL_POINT, bytes([1, 9]), T0)
    assert parse_characteristic(bad[-1].uuid, bad[-1].data) == ResponseCodeResponse(
        1, RacpResponseCode.INVALID_OPERATOR
    )
    unknown = gm.write(uuids.RECORD_ACCESS_CONTROL_POINT, bytes([0x42, 1]), T0)
    assert parse_characteristic(unknown[-1].uuid, unknown[-1].data) == ResponseCodeResponse(
        0x42, RacpResponseCode.OP_CODE_NOT_SUPPORTED
    )
    deleted = gm.write(
        uuids.RECORD_ACCESS_CONTROL_POINT,
        racp(RacpOpCode.DELETE_STORED_RECORDS, RacpOperator.LESS_THAN_OR_EQUAL, 44),
        T0,
    )
    assert parse_characteristic(deleted[-1].uuid, deleted[-1].data) == ResponseCodeResponse(
        RacpOpCode.DELETE_STORED_RECORDS, RacpResponseCode.SUCCESS
    )
    assert min(r.key for r in gm.memory) == 45


def test_meter_record_numbers_continue_and_are_counted_once(person: Person) -> None:
    gm = meter(person)
    request = racp(RacpOpCode.REPORT_STORED_RECORDS)
    gm.write(uuids.RECORD_ACCESS_CONTROL_POINT, request, T0)
    gm.write(uuids.RECORD_ACCESS_CONTROL_POINT, request, T0)  # read twice (two gateways)
    assert gm.stats.readings_delivered == len(gm.memory)
    assert gm.stats.seqs == sorted(gm.stats.seqs) == list(range(40, 40 + len(gm.memory)))


# --- CGM ----------------------------------------------------------------------------------


def in_one_session(person: Person) -> float:
    """A start a day inside one sensor session."""
    session = person.cgm_sensor.session_at(T0)
    if session.end - T0 < 2 * DAY:
        session = person.cgm_sensor.session(session.number + 1)
    return session.first_reading + HOUR


def test_cgm_records_decode_to_the_sensor_trace_with_the_session_start(person: Person) -> None:
    t0 = in_one_session(person)
    cgm = ContinuousGlucoseMonitor("cgm-1", "C0:26:DA:00:00:03", person, DeviceClock(PARIS), t0)
    cgm.advance(t0 + DAY)
    trace = person.cgm_sensor.trace(person.glucose, t0, t0 + DAY)
    start = parse_characteristic(
        uuids.CGM_SESSION_START_TIME, cgm.read(uuids.CGM_SESSION_START_TIME, t0)
    )
    assert isinstance(start, CgmSessionStartTime)
    assert start.time_zone == 4  # +01:00 in 15-minute steps
    notes = cgm.drain(t0, t0 + DAY)
    assert len(notes) == trace.values.size > 250
    local_start = start.local_start
    assert local_start is not None
    for note, t, value in zip(notes, trace.times, trace.values, strict=True):
        (m,) = decode_characteristic(note.uuid, note.data, session_start=local_start)
        assert m.metric == "glucose_isf"
        assert m.value == Decimal(int(value))
        assert m.time is not None
        assert abs((m.time - naive_local(t, PARIS)).total_seconds()) <= 31  # the clock's error
        assert any(a.startswith("trend:") for a in m.annotations)


def test_cgm_back_fill_through_the_racp_after_being_away(person: Person) -> None:
    t0 = in_one_session(person)
    cgm = ContinuousGlucoseMonitor("cgm-1", "C0:26:DA:00:00:03", person, DeviceClock(PARIS), t0)
    cgm.advance(t0 + 6 * HOUR)
    live = cgm.drain(t0, t0 + 6 * HOUR)
    last = int.from_bytes(live[-1].data[4:6], "little")
    cgm.advance(t0 + 12 * HOUR)  # the gateway was off: nothing drained
    assert cgm.drain(t0 + 12 * HOUR, t0 + 12 * HOUR) == []  # not notified live afterwards
    request = racp(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.GREATER_THAN_OR_EQUAL, last + 1)
    back = cgm.write(uuids.RECORD_ACCESS_CONTROL_POINT, request, t0 + 12 * HOUR)
    records = [n for n in back if n.uuid == uuids.CGM_MEASUREMENT]
    offsets = [int.from_bytes(n.data[4:6], "little") for n in records]
    assert offsets[0] > last and len(records) >= 50
    assert offsets == sorted(offsets) and all(b - a >= 5 for a, b in itertools.pairwise(offsets))
    assert cgm.stats.readings_delivered == len(live) + len(records) == cgm.stats.records


# --- MQTT-native devices ------------------------------------------------------------------


def test_canonical_devices_publish_the_wire_contract(person: Person) -> None:
    cgm = CanonicalCgm("sim-cgm-0001", person, T0)
    items = cgm.measure(T0 + 2 * HOUR, 1)
    assert [i.seq for i in items] == list(range(1, len(items) + 1))
    ((payload, chunk),) = cgm.compose(items)
    parsed = parse_device_readings(payload)
    assert not parsed.errors
    assert [m.sequence for _, m in parsed.measurements] == [i.seq for i in chunk]
    assert all(
        m.metric == "glucose_isf" and m.time_raw and m.time_raw.endswith("Z")
        for _, m in parsed.measurements
    )
    cuff = CanonicalCuff("sim-bp-0001", person, T0)
    items = cuff.measure(T0 + 2 * DAY, 1)
    parsed = parse_device_readings(cuff.compose(items)[0][0])
    assert len(parsed.measurements) == 3 * len(items) == cuff.stats.readings_delivered
    assert cgm.topic == "hs/v1/devices/sim-cgm-0001/readings"


@pytest.mark.parametrize("cls", [AcmeCuff, GlucoCloudMeter, NimbusScale])
def test_vendor_json_devices_decode_with_their_catalog_profile(
    cls: type[AcmeCuff | GlucoCloudMeter | NimbusScale], person: Person
) -> None:
    device = cls("vendor-1", person, T0)
    items = device.measure(T0 + 4 * DAY, 1)
    assert items
    profile = load_catalog()[device.profile_id or ""]
    decoded = 0
    for payload, _chunk in device.compose(items):
        result = decode_json(profile, payload)
        assert not result.errors
        decoded += sum(1 for m in result.measurements if m.value is not None)
    assert decoded == device.stats.readings_delivered
    assert device.topic == f"hs/v1/devices/vendor-1/json/{device.profile_id}"


def test_glucocloud_uploads_its_memory_in_mmol_with_sequence_numbers(person: Person) -> None:
    meter_ = GlucoCloudMeter("gc-1", person, T0)
    items = meter_.measure(T0 + 4 * DAY, 7)
    payload, chunk = meter_.compose(items)[0]
    document = json.loads(payload)
    assert document["device"] == "gc-1"
    assert [r["seq"] for r in document["readings"]] == [i.seq for i in chunk]
    assert all(2 < r["glucose_mmol"] < 25 for r in document["readings"])
    assert meter_.stats.seqs[0] == 7


def test_a_moved_device_measures_its_new_wearer(person: Person) -> None:
    other = Person.create(11, "pat-other", PARIS, Conditions(blood_pressure=BpVariant.WHITE_COAT))
    cuff = make(BloodPressureCuff, person)
    cuff.advance(T0 + DAY)
    cuff.move_to(other)
    cuff.advance(T0 + 2 * DAY)
    expected = other.pressure.readings(T0 + DAY, T0 + 2 * DAY)
    sent = cuff.drain(T0, T0 + 2 * DAY)[-len(expected) :]
    values = [decode_characteristic(n.uuid, n.data)[0].value for n in sent]
    assert values == [Decimal(r.systolic) for r in expected]
