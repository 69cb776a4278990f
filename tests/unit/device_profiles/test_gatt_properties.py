"""Properties of every GATT codec, checked by hypothesis (profiles in conftest.py).

1. Round trip over the valid domain: ``parse(encode(record)) == record`` and back to the same
   bytes; every prefix and every single-byte corruption of a valid value obeys property 2.
2. Seeded fuzzing: any byte string either raises :class:`DecodeError` or decodes to a value
   whose re-encoding is the exact input (the wire has one spelling per value), and turning it
   into measurements raises nothing but :class:`DecodeError`.

Budget: the random-bytes fuzz feeds each of its examples to every decoder, so each codec gets
the profile's full ``max_examples`` (10 000 under ``ci``); structured round trips cost ~100x
more per example in hypothesis itself, so they run a tenth of that (each also probing every
prefix and corruption of its value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import _gatt_strategies as gs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_profiles import (
    battery,
    blood_pressure,
    cgm,
    gatt_time,
    glucose,
    heart_rate,
    pulse_oximeter,
    racp,
    thermometer,
    weight,
)
from device_profiles.codecs import CODECS
from device_profiles.errors import DecodeError
from device_profiles.measurement import Measurement
from device_profiles.vocabulary import METRICS


@dataclass(frozen=True)
class Case:
    name: str
    parse: Callable[[bytes], Any]
    encode: Callable[[Any], bytes]
    records: st.SearchStrategy[Any]
    measurements: Callable[[Any], object] | None = None


CASES = [
    Case(
        "blood_pressure",
        blood_pressure.parse_blood_pressure,
        blood_pressure.encode_blood_pressure,
        gs.blood_pressure_records,
        blood_pressure.blood_pressure_measurements,
    ),
    Case(
        "intermediate_cuff_pressure",
        blood_pressure.parse_intermediate_cuff_pressure,
        blood_pressure.encode_intermediate_cuff_pressure,
        gs.cuff_pressure_records,
        blood_pressure.cuff_pressure_measurements,
    ),
    Case(
        "glucose_measurement",
        glucose.parse_glucose_measurement,
        glucose.encode_glucose_measurement,
        gs.glucose_records(),
        glucose.glucose_measurements,
    ),
    Case(
        "glucose_context",
        glucose.parse_glucose_context,
        glucose.encode_glucose_context,
        gs.glucose_contexts(),
        glucose.context_annotations,
    ),
    Case(
        "weight_measurement",
        weight.parse_weight_measurement,
        weight.encode_weight_measurement,
        gs.weight_records(),
        weight.weight_measurements,
    ),
    Case(
        "weight_scale_feature",
        weight.parse_weight_scale_feature,
        weight.encode_weight_scale_feature,
        gs.weight_scale_features,
    ),
    Case(
        "body_composition",
        weight.parse_body_composition,
        weight.encode_body_composition,
        gs.body_composition_records(),
        weight.body_composition_measurements,
    ),
    Case(
        "temperature",
        thermometer.parse_temperature,
        thermometer.encode_temperature,
        gs.temperature_records,
        thermometer.temperature_measurements,
    ),
    Case(
        "heart_rate",
        heart_rate.parse_heart_rate,
        heart_rate.encode_heart_rate,
        gs.heart_rate_records(),
        heart_rate.heart_rate_measurements,
    ),
    Case(
        "plx_spot_check",
        pulse_oximeter.parse_spot_check,
        pulse_oximeter.encode_spot_check,
        gs.spot_check_records,
        pulse_oximeter.spot_check_measurements,
    ),
    Case(
        "plx_continuous",
        pulse_oximeter.parse_continuous,
        pulse_oximeter.encode_continuous,
        gs.continuous_records,
        pulse_oximeter.continuous_measurements,
    ),
    Case(
        "cgm_measurement",
        cgm.parse_cgm_measurement,
        cgm.encode_cgm_measurement,
        gs.cgm_values,
        cgm.cgm_measurements,
    ),
    Case(
        "cgm_session_start_time",
        cgm.parse_cgm_session_start_time,
        cgm.encode_cgm_session_start_time,
        gs.session_start_times,
    ),
    Case(
        "battery_level",
        battery.parse_battery_level,
        battery.encode_battery_level,
        st.integers(0, 100).map(battery.BatteryLevel),
    ),
    Case(
        "date_time",
        gatt_time.decode_date_time,
        gatt_time.encode_date_time,
        gs.date_times(),
    ),
    Case(
        "racp_request",
        racp.parse_racp_request,
        racp.encode_racp_request,
        gs.racp_requests(),
    ),
    Case(
        "racp_response",
        racp.parse_racp_response,
        racp.encode_racp_response,
        gs.racp_responses,
    ),
]
IDS = [case.name for case in CASES]


ROUND_TRIP_EXAMPLES = max(50, settings().max_examples // 10)


def check_measurements(case: Case, record: Any) -> None:
    """Measurements raise only DecodeError and speak the vocabulary (metric and unit)."""
    if case.measurements is None:
        return
    try:
        result = case.measurements(record)
    except DecodeError:
        return
    for item in result if isinstance(result, list) else ():
        assert isinstance(item, Measurement)
        assert item.unit in METRICS[item.metric].units, (item.metric, item.unit)


def obeys_the_wire_contract(case: Case, data: bytes) -> None:
    """Property 2 for one input."""
    try:
        record = case.parse(data)
    except DecodeError:
        return
    assert case.encode(record) == data, f"{case.name}: {data.hex()} re-encodes differently"
    check_measurements(case, record)


@pytest.mark.property_based
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_round_trip_over_the_valid_domain(case: Case) -> None:
    @settings(max_examples=ROUND_TRIP_EXAMPLES)
    @given(case.records)
    def round_trip(record: Any) -> None:
        data = case.encode(record)
        assert case.parse(data) == record
        assert case.encode(case.parse(data)) == data
        check_measurements(case, record)
        for end in range(len(data)):
            obeys_the_wire_contract(case, data[:end])
        obeys_the_wire_contract(case, data + b"\x00")
        for index in range(len(data)):
            corrupted = bytearray(data)
            corrupted[index] ^= 0x81  # a low and a high bit: flags, signs, lengths all move
            obeys_the_wire_contract(case, bytes(corrupted))

    round_trip()


# Random bytes; the second branch starts with a small flags byte (0..0x1F), which most
# characteristics accept, so the fuzz reaches the fields behind the flags.
fuzz_bytes = st.one_of(
    st.binary(max_size=32),
    st.tuples(st.integers(0, 0x1F), st.binary(max_size=48)).map(lambda t: bytes([t[0]]) + t[1]),
)


@given(data=fuzz_bytes)
def test_random_bytes_raise_only_decode_error_in_every_decoder(data: bytes) -> None:
    for case in CASES:
        obeys_the_wire_contract(case, data)


SESSION_STARTS = [
    None,
    datetime(2024, 3, 1, 8, 0),
    datetime(9999, 12, 31, 23, 0),
    datetime(1, 1, 1),
]


@settings(max_examples=ROUND_TRIP_EXAMPLES)
@given(
    uuid=st.sampled_from(sorted(CODECS)),
    data=fuzz_bytes,
    session_start=st.sampled_from(SESSION_STARTS),
)
def test_registry_raises_only_decode_error(
    uuid: int, data: bytes, session_start: datetime | None
) -> None:
    codec = CODECS[uuid]
    try:
        if codec.is_measurement:
            codec.decode(data, session_start=session_start)
        else:
            codec.parse(data)
    except DecodeError:
        pass
