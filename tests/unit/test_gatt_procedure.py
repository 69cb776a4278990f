"""What the gateway does with each characteristic of a profile (``hub.core.gatt_procedure``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from device_profiles import uuids
from device_profiles.catalog import load_catalog
from device_profiles.cgm import CgmRecord, encode_cgm_measurement
from device_profiles.gatt_time import GattDateTime
from device_profiles.glucose import (
    GlucoseRecord,
    GlucoseUnit,
    SampleLocation,
    SampleType,
    encode_glucose_measurement,
)
from hub.core.gatt_procedure import (
    Procedure,
    RecordKey,
    context_follows,
    procedure_for,
    record_key,
)

CATALOG = load_catalog()


def procedure(profile_id: str) -> Procedure:
    profile = CATALOG.get(profile_id)
    assert profile is not None and profile.ble is not None
    return procedure_for(profile.ble.characteristics)


def test_a_glucose_meter_is_read_through_its_control_point_and_visited() -> None:
    p = procedure("generic-ble-glucose-meter")
    assert p.subscribed == (uuids.GLUCOSE_MEASUREMENT, uuids.GLUCOSE_MEASUREMENT_CONTEXT, 0x2A52)
    assert (p.control_point, p.record_key, p.session) == (0x2A52, RecordKey.SEQUENCE_NUMBER, None)
    assert not p.stays_connected


def test_a_cgm_is_dated_by_its_session_and_kept_connected() -> None:
    p = procedure("generic-ble-cgm")
    assert p.session == uuids.CGM_SESSION_START_TIME
    assert p.record_key is RecordKey.TIME_OFFSET
    assert p.stays_connected


def test_intermediate_values_are_never_subscribed_and_features_are_read() -> None:
    cuff = procedure("generic-ble-blood-pressure")
    assert cuff.subscribed == (uuids.BLOOD_PRESSURE_MEASUREMENT,)  # not 2A36
    assert procedure("generic-ble-thermometer").subscribed == (uuids.TEMPERATURE_MEASUREMENT,)
    scale = procedure("generic-ble-weight-scale")
    assert scale.features == (uuids.WEIGHT_SCALE_FEATURE,)
    assert not scale.stays_connected


@pytest.mark.parametrize(
    ("profile_id", "stays"),
    [("generic-ble-heart-rate", True), ("generic-ble-pulse-oximeter", True)],
)
def test_live_values_keep_the_link(profile_id: str, stays: bool) -> None:
    assert procedure(profile_id).stays_connected is stays


def test_record_keys_come_from_the_values_and_hostile_bytes_have_none() -> None:
    record = GlucoseRecord(
        sequence=65535,
        base_time=GattDateTime(2026, 11, 28, 8, 0, 0),
        concentration=Decimal(104),
        unit=GlucoseUnit.MG_DL,
        sample_type=SampleType.CAPILLARY_WHOLE_BLOOD,
        location=SampleLocation.FINGER,
        context_follows=True,
    )
    data = encode_glucose_measurement(record)
    assert record_key(uuids.GLUCOSE_MEASUREMENT, data) == 65535
    assert context_follows(uuids.GLUCOSE_MEASUREMENT, data)
    cgm = encode_cgm_measurement([CgmRecord(Decimal(110), 15), CgmRecord(Decimal(112), 20)])
    assert record_key(uuids.CGM_MEASUREMENT, cgm) == 20  # the newest of the value
    for hostile in (b"", b"\x10", data[:4], b"\xff" * 12):
        assert record_key(uuids.GLUCOSE_MEASUREMENT, hostile) is None
        assert not context_follows(uuids.GLUCOSE_MEASUREMENT, hostile)
    assert record_key(uuids.BLOOD_PRESSURE_MEASUREMENT, data) is None
