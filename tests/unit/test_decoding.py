"""Messages decoded through the catalog: vendor JSON topics and BLE gateway frames.

Frames are built with the project's own encoders (the inverse of the decoders), so these tests
exercise the bytes a real device sends, wrapped the way a gateway forwards them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from device_profiles.blood_pressure import BloodPressureRecord, BpStatus, encode_blood_pressure
from device_profiles.catalog import Catalog, load_catalog, load_profile_text
from device_profiles.cgm import (
    CgmRecord,
    CgmSessionStartTime,
    encode_cgm_measurement,
    encode_cgm_session_start_time,
)
from device_profiles.errors import DecodeError
from device_profiles.gatt_time import GattDateTime
from device_profiles.glucose import (
    GlucoseContext,
    GlucoseRecord,
    Meal,
    SampleLocation,
    SampleType,
    encode_glucose_context,
    encode_glucose_measurement,
)
from device_profiles.heart_rate import HeartRateRecord, encode_heart_rate
from device_profiles.measurement import Special
from hub.core.decoding import Decoded, MessageDecoder
from hub.core.model import Source
from hub.core.pipeline import (
    Accepted,
    Enrollment,
    Outcome,
    Policy,
    Rejected,
    RejectKind,
    process_upload,
)
from hub.core.wire import parse_topic

FIXTURES = Path(__file__).parent.parent / "fixtures" / "profiles"
CATALOG = load_catalog()
DECODER = MessageDecoder(CATALOG, Policy(), max_payload_bytes=256 * 1024)
PARIS = timezone(timedelta(hours=1))
RECEIVED = datetime(2026, 11, 28, 8, 0, 6, tzinfo=UTC)  # an injected receive time


def frames_message(
    profile: str,
    *frames: tuple[str, bytes],
    device: str = "ble-cuff-1",
    gateway_time: str = "2026-11-28T09:00:05+01:00",
) -> bytes:
    return json.dumps(
        {
            "gateway_time": gateway_time,
            "device": {"id": device, "address": "C0:26:DA:01:02:03", "profile": profile},
            "frames": [
                {"seq": i, "uuid": uuid, "data": data.hex(), "time": "2026-11-28T09:00:04+01:00"}
                for i, (uuid, data) in enumerate(frames)
            ],
        }
    ).encode()


def decode(topic: str, payload: bytes):  # type: ignore[no-untyped-def]
    return DECODER.decode(parse_topic(topic), payload, RECEIVED)


def test_vendor_json_is_decoded_by_its_catalog_profile() -> None:
    payload = (FIXTURES / "acme-bp-wifi.json").read_bytes()
    decoded = decode("hs/v1/devices/acme-1/json/acme-bp-wifi", payload)
    assert decoded.device_id == "acme-1"
    assert decoded.errors == []
    by_metric = {m.metric: m for _, m in decoded.items}
    assert by_metric["systolic_bp"].value == Decimal(128)
    assert by_metric["systolic_bp"].unit == "mm[Hg]"
    assert "irregular-pulse" in by_metric["pulse_rate"].annotations
    assert decoded.policy.limits["systolic_bp"].critical_high == Decimal(180)


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("hs/v1/devices/d/json/no-such-profile", "unknown device profile"),
        ("hs/v1/devices/d/json/generic-ble-blood-pressure", "is for ble-gatt"),
    ],
)
def test_vendor_json_needs_a_known_mqtt_json_profile(topic: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(topic, b"{}")


def test_blood_pressure_frame_from_a_gateway() -> None:
    record = BloodPressureRecord(
        systolic=Decimal(123),
        diastolic=Decimal(81),
        mean_arterial=Decimal(95),
        timestamp=GattDateTime(2026, 11, 28, 9, 0, 2),
        pulse_rate=Decimal(64),
        status=BpStatus.IRREGULAR_PULSE,
    )
    decoded = decode(
        "hs/v1/gateways/gw-1/frames",
        frames_message("generic-ble-blood-pressure", ("2A35", encode_blood_pressure(record))),
    )
    assert decoded.source is Source.GATEWAY
    assert decoded.device_id == "ble-cuff-1"
    assert decoded.errors == []
    by_metric = {m.metric: m for _, m in decoded.items}
    assert set(by_metric) == {"systolic_bp", "diastolic_bp", "mean_arterial_pressure", "pulse_rate"}
    assert "irregular-pulse" in by_metric["systolic_bp"].annotations
    # The cuff's clock is local time without a zone: read in the gateway's zone (+01:00).
    systolic = by_metric["systolic_bp"]
    assert systolic.time == datetime(2026, 11, 28, 9, 0, 2)
    assert decoded.policy.zone == PARIS
    assert not decoded.policy.zone_stated  # a fixed offset, not an IANA zone: assumed
    [outcome] = process_upload(
        [systolic],
        device_id=decoded.device_id,
        source=decoded.source,
        receive_time=datetime(2026, 11, 28, 8, 0, 6, tzinfo=UTC),
        enrollments=[Enrollment("ble-cuff-1", "pat-1", datetime(2026, 1, 1, tzinfo=UTC))],
        policy=decoded.policy,
        reference_time=decoded.reference_time,
    )
    assert isinstance(outcome, Accepted)
    assert "time-zone-assumed" in outcome.reading.flags
    assert outcome.reading.effective_time == datetime(2026, 11, 28, 8, 0, 2, tzinfo=UTC)


def test_a_bad_frame_is_reported_and_the_good_ones_still_decode() -> None:
    good = encode_blood_pressure(
        BloodPressureRecord(systolic=Decimal(120), diastolic=Decimal(80), mean_arterial=Decimal(93))
    )
    decoded = decode(
        "hs/v1/gateways/gw-1/frames",
        frames_message(
            "generic-ble-blood-pressure",
            ("2A35", good[:3]),  # truncated
            ("2A35", good),
            ("2A37", b"\x00\x40"),  # heart rate: not a characteristic of this profile
            ("2A35", good + b"\x00\x00"),  # oversized
        ),
    )
    assert [i for i, _ in decoded.items] == [1, 1, 1]
    assert [e.index for e in decoded.errors] == [0, 2, 3]
    assert decoded.errors[1].error.field == "frames[2].uuid"
    assert "truncated" in decoded.errors[0].error.reason
    assert "not part of profile" in decoded.errors[1].error.reason


def test_glucose_context_is_joined_by_sequence_number() -> None:
    measurement = GlucoseRecord(
        sequence=12,
        base_time=GattDateTime(2026, 11, 28, 7, 30, 0),
        concentration=Decimal(104),
        sample_type=SampleType.CAPILLARY_WHOLE_BLOOD,
        location=SampleLocation.FINGER,
        context_follows=True,
    )
    context = GlucoseContext(sequence=12, meal=Meal.PREPRANDIAL)
    decoded = decode(
        "hs/v1/gateways/gw-1/frames",
        frames_message(
            "generic-ble-glucose-meter",
            ("2A18", encode_glucose_measurement(measurement)),
            ("2A34", encode_glucose_context(context)),
            device="meter-1",
        ),
    )
    assert decoded.errors == []
    [(_, glucose)] = decoded.items
    assert glucose.metric == "glucose"
    assert glucose.value == Decimal("104")
    assert glucose.sequence == 12
    assert any(a.startswith("meal:") for a in glucose.annotations)


def test_cgm_records_are_dated_by_the_session_start_in_the_same_message() -> None:
    start = CgmSessionStartTime(GattDateTime(2026, 11, 28, 6, 0, 0), time_zone=4, dst_offset=0)
    records = encode_cgm_measurement(
        [
            CgmRecord(glucose=Decimal(110), time_offset=60),
            CgmRecord(glucose=Decimal(115), time_offset=65),
        ]
    )
    decoded = decode(
        "hs/v1/gateways/gw-1/frames",
        frames_message(
            "generic-ble-cgm",
            ("2AAA", encode_cgm_session_start_time(start)),
            ("2AA7", records),
            device="cgm-1",
        ),
    )
    assert decoded.errors == []
    times = [m.time for _, m in decoded.items]
    assert times == [
        datetime(2026, 11, 28, 7, 0, tzinfo=PARIS),
        datetime(2026, 11, 28, 7, 5, tzinfo=PARIS),
    ]


def test_cgm_without_session_start_keeps_a_stable_identity_fact() -> None:
    records = encode_cgm_measurement([CgmRecord(glucose=Decimal(110), time_offset=60)])
    decoded = decode(
        "hs/v1/gateways/gw-1/frames",
        frames_message("generic-ble-cgm", ("2AA7", records), device="cgm-1"),
    )
    [(_, m)] = decoded.items
    assert m.time_raw == "time-offset-min:60"
    assert m.time == datetime(2026, 11, 28, 9, 0, 4, tzinfo=PARIS)
    assert "time-from-gateway" in m.annotations


def test_timeless_heart_rate_takes_the_gateway_time() -> None:
    frame = encode_heart_rate(HeartRateRecord(heart_rate=72))
    decoded = decode(
        "hs/v1/gateways/gw-1/frames",
        frames_message("generic-ble-heart-rate", ("2A37", frame), device="hr-1"),
    )
    [(_, m)] = decoded.items
    assert m.metric == "heart_rate"
    assert m.time_raw == "2026-11-28T09:00:04+01:00"


@pytest.mark.parametrize(
    ("envelope", "field"),
    [
        ({"device": {"id": "d", "profile": "generic-ble-cgm"}, "frames": [{}]}, "gateway_time"),
        ({"gateway_time": "2026-11-28T09:00:00Z", "frames": [{}]}, "device"),
        (
            {"gateway_time": "2026-11-28T09:00:00Z", "device": {"id": "d"}, "frames": [{}]},
            "device.profile",
        ),
        (
            {
                "gateway_time": "2026-11-28T09:00:00Z",
                "device": {"id": "d", "profile": "generic-ble-cgm"},
                "frames": [],
            },
            "frames",
        ),
        (
            {
                "gateway_time": "2026-11-28T09:00:00Z",
                "device": {"id": "d", "profile": "nope-profile"},
                "frames": [{}],
            },
            "device.profile",
        ),
    ],
)
def test_bad_envelopes_are_refused_whole(envelope: dict[str, object], field: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode("hs/v1/gateways/gw-1/frames", json.dumps(envelope).encode())
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("frame", "field", "reason"),
    [
        ({"uuid": "2A35", "data": "00"}, "seq", "integer"),
        ({"seq": 1, "uuid": "2A3", "data": "00"}, "uuid", "16-bit"),
        ({"seq": 1, "uuid": "2A35", "data": "zz"}, "data", "hexadecimal"),
        ({"seq": 1, "uuid": "2A35", "data": "00" * 513}, "data", "1-1024"),
        ({"seq": 1, "uuid": "2A35", "data": "00", "extra": 1}, "extra", "unknown field"),
    ],
)
def test_bad_frames_name_the_field(frame: dict[str, object], field: str, reason: str) -> None:
    envelope = {
        "gateway_time": "2026-11-28T09:00:00Z",
        "device": {"id": "d", "profile": "generic-ble-blood-pressure"},
        "frames": [frame],
    }
    decoded = decode("hs/v1/gateways/gw-1/frames", json.dumps(envelope).encode())
    [error] = decoded.errors
    assert error.error.field == f"frames[0].{field}"
    assert reason in error.error.reason


# --- catalog quirks ---------------------------------------------------------------------------


def judge(decoded: Decoded) -> list[Outcome]:
    """The pipeline's outcome for every item of a decoded gateway message."""
    return process_upload(
        [m for _, m in decoded.items],
        device_id=decoded.device_id,
        source=decoded.source,
        receive_time=RECEIVED,
        enrollments=[Enrollment(decoded.device_id, "pat-1", datetime(2026, 1, 1, tzinfo=UTC))],
        policy=decoded.policy,
        clocks=decoded.clocks,
        reference_time=decoded.reference_time,
    )


def test_a_reserved_sfloat_is_no_value_on_every_model_never_a_decode_error() -> None:
    """The reserved SFLOAT (0x0801) where a pressure should be decodes as a special value
    and the pipeline refuses it as no value, like NaN — for every model, which is why the
    catalog has no per-model quirk for it."""
    record = BloodPressureRecord(
        systolic=Special.RESERVED,
        diastolic=Decimal(81),
        mean_arterial=Decimal(95),
        timestamp=GattDateTime(2026, 11, 28, 9, 0, 2),
    )
    decoded = decode(
        "hs/v1/gateways/gw-1/frames",
        frames_message("generic-ble-blood-pressure", ("2A35", encode_blood_pressure(record))),
    )
    assert decoded.errors == []
    outcomes = dict(zip((m.metric for _, m in decoded.items), judge(decoded), strict=True))
    systolic = outcomes["systolic_bp"]
    assert isinstance(systolic, Rejected) and systolic.kind is RejectKind.NO_VALUE
    assert isinstance(outcomes["diastolic_bp"], Accepted)


def quirky_decoder(profile_text: str) -> MessageDecoder:
    """A decoder whose catalog is the shipped one plus one profile."""
    extra = load_profile_text(profile_text, "quirky.toml")
    catalog = Catalog([*CATALOG.values(), extra])
    return MessageDecoder(catalog, Policy(), max_payload_bytes=256 * 1024)


SCALE_0_05 = """
id = "coarse-scale"
manufacturer = "Example"
model = "counts in 50 g steps"
transport = "ble-gatt"
[ble]
services = ["181D"]
characteristics = ["2A9D"]
[quirks]
kg_resolution_override = 0.05
"""


def test_kg_resolution_override_scales_the_weight_with_the_profiles_resolution() -> None:
    # The scale means 72.40 kg and sends the count of its own 0.05 kg steps: 1448.
    frame = ("2A9D", bytes.fromhex("00") + (1448).to_bytes(2, "little"))
    standard = decode(
        "hs/v1/gateways/gw-1/frames", frames_message("generic-ble-weight-scale", frame)
    )
    [(_, as_sent)] = standard.items
    assert as_sent.value == Decimal("7.240")  # read at the standard's 0.005 kg per step
    coarse = quirky_decoder(SCALE_0_05).decode(
        parse_topic("hs/v1/gateways/gw-1/frames"),
        frames_message("coarse-scale", frame),
        RECEIVED,
    )
    [(_, weight)] = coarse.items
    assert (weight.metric, weight.value, weight.unit) == ("weight", Decimal("72.40"), "kg")


STRAP_TWICE = """
id = "echo-strap"
manufacturer = "Example"
model = "notifies every value twice"
transport = "ble-gatt"
[ble]
services = ["180D"]
characteristics = ["2A37"]
[quirks]
duplicate_notifications = true
"""


def strap_message(profile: str, *rates: int) -> bytes:
    """Heart-rate frames (no device time), each received 40 ms after the one before."""
    return json.dumps(
        {
            "gateway_time": "2026-11-28T09:00:05+01:00",
            "device": {"id": "hr-1", "address": "C0:26:DA:01:02:04", "profile": profile},
            "frames": [
                {
                    "seq": i,
                    "uuid": "2A37",
                    "data": encode_heart_rate(HeartRateRecord(heart_rate=rate)).hex(),
                    "time": f"2026-11-28T09:00:04.{40 * i:03d}+01:00",
                }
                for i, rate in enumerate(rates)
            ],
        }
    ).encode()


def test_duplicate_notifications_drops_the_echo_within_an_upload() -> None:
    # Without a device time each frame is dated by its receive time: an echo left in would
    # be a second reading.
    topic = parse_topic("hs/v1/gateways/gw-1/frames")
    plain = DECODER.decode(topic, strap_message("generic-ble-heart-rate", 72, 72, 75, 75), RECEIVED)
    assert [m.value for _, m in plain.items] == [72, 72, 75, 75]
    assert len({o.reading.reading_id for o in judge(plain) if isinstance(o, Accepted)}) == 4

    echoing = quirky_decoder(STRAP_TWICE)
    decoded = echoing.decode(topic, strap_message("echo-strap", 72, 72, 75, 75), RECEIVED)
    assert [(i, m.value) for i, m in decoded.items] == [(0, 72), (2, 75)]
    assert decoded.frame_seqs == (0, 1, 2, 3)  # the echoes are acknowledged all the same
    # The same value measured again is a new notification, itself echoed: kept once.
    again = echoing.decode(topic, strap_message("echo-strap", 72, 72, 72, 72), RECEIVED)
    assert [i for i, _ in again.items] == [0, 2]


def test_a_profiles_sequence_resets_quirk_reaches_the_pipelines_policy() -> None:
    assert DECODER.policy_for("glucocloud-meter").sequence_resets  # its counter restarts
    assert not DECODER.policy_for("nimbus-scale").sequence_resets
