"""The pipeline's pure decisions: vocabulary, units, plausibility, time, identity, attribution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from device_profiles.catalog import MetricLimits
from device_profiles.measurement import Measurement, Special
from hub.core.identity import check_patient_id, reading_identity
from hub.core.model import Source, TimeSource
from hub.core.pipeline import (
    Accepted,
    Enrollment,
    Policy,
    Quarantined,
    Rejected,
    RejectKind,
    attribute,
    patient_at,
    process_upload,
)
from hub.core.timekeeping import ClockMethod, ClockReading

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ENROLLED = [Enrollment("dev-1", "pat-1", datetime(2026, 1, 1, tzinfo=UTC))]


def measure(
    metric: str = "glucose",
    value: str | None = "104",
    unit: str = "mg/dL",
    time: datetime | None = NOW - timedelta(hours=1),
    **kw: object,
) -> Measurement:
    return Measurement(
        metric=metric,
        value=None if value is None else Decimal(value),
        unit=unit,
        time=time,
        time_raw=None if time is None else time.isoformat(),
        **kw,  # type: ignore[arg-type]
    )


def run(
    m: Measurement,
    enrollments: list[Enrollment] | None = None,
    policy: Policy | None = None,
    receive_time: datetime = NOW,
    clock: ClockReading | None = None,
) -> Accepted | Quarantined | Rejected:
    [outcome] = process_upload(
        [m],
        device_id="dev-1",
        source=Source.MQTT,
        receive_time=receive_time,
        enrollments=ENROLLED if enrollments is None else enrollments,
        policy=policy or Policy(),
        clock=clock,
    )
    return outcome


def test_a_good_reading_is_accepted_and_attributed() -> None:
    outcome = run(measure())
    assert isinstance(outcome, Accepted)
    reading = outcome.reading
    assert (reading.patient_id, reading.metric, reading.value, reading.unit) == (
        "pat-1",
        "glucose",
        104.0,
        "mg/dL",
    )
    assert reading.effective_time == NOW - timedelta(hours=1)
    assert reading.time_source is TimeSource.DEVICE
    assert reading.flags == ()


@pytest.mark.parametrize(
    ("metric", "value", "unit", "canonical", "canonical_unit", "sent"),
    [
        # 18.0156 mg/dL per mmol/L (180.156 g/mol); rounded to the 0.1 mmol/L sent (1.8 mg/dL)
        ("glucose", "10.0", "mmol/L", 180.0, "mg/dL", ("10", "mmol/L")),
        ("glucose", "5.8", "mmol/L", 104.0, "mg/dL", ("5.8", "mmol/L")),
        ("systolic_bp", "16", "kPa", 120.0, "mm[Hg]", ("16", "kPa")),
        ("body_temperature", "98.6", "°F", 37.0, "Cel", ("98.6", "[degF]")),
        ("weight", "165.3", "lb", 74.98, "kg", ("165.3", "[lb_av]")),  # not 74.978818761
        ("weight", "72.40", "kg", 72.4, "kg", ("72.4", "kg")),
    ],
)
def test_units_are_converted_at_the_precision_sent_and_the_value_sent_is_kept(
    metric: str,
    value: str,
    unit: str,
    canonical: float,
    canonical_unit: str,
    sent: tuple[str, str],
) -> None:
    outcome = run(measure(metric=metric, value=value, unit=unit))
    assert isinstance(outcome, Accepted)
    assert outcome.reading.value == canonical
    assert outcome.reading.unit == canonical_unit
    assert (outcome.reading.value_sent, outcome.reading.unit_sent) == sent


def test_the_vocabularys_critical_limits_apply_without_a_profile() -> None:
    low = run(measure(value="2.8", unit="mmol/L"))  # 50 mg/dL: level 2 hypoglycaemia
    assert isinstance(low, Accepted)
    assert low.reading.flags == ("critical-low",)
    crisis = run(measure(metric="systolic_bp", value="185", unit="mm[Hg]"))
    assert isinstance(crisis, Accepted) and crisis.reading.flags == ("critical-high",)


@pytest.mark.parametrize(
    ("m", "kind", "reason"),
    [
        (measure(metric="cholesterol"), RejectKind.UNKNOWN_METRIC, "unknown metric 'cholesterol'"),
        (measure(value=None, special=Special.NRES), RejectKind.NO_VALUE, "NRes"),
        (measure(annotations=("control-solution",)), RejectKind.NOT_PATIENT_READING, "control"),
        (measure(unit="kg"), RejectKind.BAD_UNIT, "not valid for glucose"),
        (measure(unit="furlongs"), RejectKind.BAD_UNIT, "unknown unit"),
        (measure(value="0"), RejectKind.IMPLAUSIBLE, "outside the physically possible range"),
        (measure(metric="spo2", value="140", unit="%"), RejectKind.IMPLAUSIBLE, "20-100"),
    ],
)
def test_refusals_have_a_kind_and_a_reason(m: Measurement, kind: RejectKind, reason: str) -> None:
    outcome = run(m)
    assert isinstance(outcome, Rejected)
    assert outcome.kind is kind
    assert reason in outcome.reason


def test_critical_values_are_kept_and_flagged() -> None:
    limits = MetricLimits("glucose", Decimal(20), Decimal(600), Decimal(54), Decimal(400))
    policy = Policy(limits={"glucose": limits})
    low = run(measure(value="45"), policy=policy)
    high = run(measure(value="450"), policy=policy)
    normal = run(measure(value="100"), policy=policy)
    assert isinstance(low, Accepted) and low.reading.flags == ("critical-low",)
    assert isinstance(high, Accepted) and high.reading.flags == ("critical-high",)
    assert isinstance(normal, Accepted) and normal.reading.flags == ()


def test_the_device_models_plausible_range_is_enforced() -> None:
    limits = MetricLimits("glucose", Decimal(20), Decimal(600))
    outcome = run(measure(value="700"), policy=Policy(limits={"glucose": limits}))
    assert isinstance(outcome, Rejected)
    assert outcome.kind is RejectKind.IMPLAUSIBLE
    assert "this device model's plausible range 20-600" in outcome.reason


def test_device_annotations_become_flags() -> None:
    outcome = run(measure(annotations=("HI",)))
    assert isinstance(outcome, Accepted)
    assert outcome.reading.flags == ("HI",)


def test_unenrolled_device_is_quarantined_not_dropped() -> None:
    outcome = run(measure(), enrollments=[])
    assert isinstance(outcome, Quarantined)
    assert outcome.reading.patient_id == ""
    later = [Enrollment("dev-1", "pat-9", datetime(2026, 11, 1, tzinfo=UTC))]
    attributed = attribute(outcome.reading, later)
    assert attributed is not None and attributed.patient_id == "pat-9"
    assert attribute(outcome.reading, [Enrollment("dev-1", "pat-9", NOW)]) is None


def test_attribution_follows_the_reading_time_when_a_device_changes_hands() -> None:
    handover = datetime(2026, 6, 1, tzinfo=UTC)
    history = [
        Enrollment("dev-1", "pat-a", datetime(2026, 1, 1, tzinfo=UTC), handover),
        Enrollment("dev-1", "pat-b", handover),
    ]
    assert patient_at(history, handover - timedelta(seconds=1)) == "pat-a"
    assert patient_at(history, handover) == "pat-b"
    assert patient_at(history, datetime(2025, 1, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("device_time", "effective", "source", "flags"),
    [
        (None, NOW, TimeSource.RECEIVE, ()),
        # old but plausible: a right clock's record keeps its date (retention decides)
        (NOW - timedelta(days=400), NOW - timedelta(days=400), TimeSource.DEVICE, ()),
        (NOW + timedelta(minutes=2), NOW + timedelta(minutes=2), TimeSource.DEVICE, ()),
        # cannot be right, and no clock offset to fix it: kept as sent, untrusted
        (
            NOW + timedelta(hours=2),
            NOW + timedelta(hours=2),
            TimeSource.UNTRUSTED,
            ("time-unknown",),
        ),
        (
            datetime(1999, 12, 31, tzinfo=UTC),
            datetime(1999, 12, 31, tzinfo=UTC),
            TimeSource.UNTRUSTED,
            ("time-unknown",),
        ),
        (
            datetime(2026, 11, 28, 11, 0),
            datetime(2026, 11, 28, 11, 0, tzinfo=UTC),
            TimeSource.DEVICE_ZONE_ASSUMED,
            (),
        ),
    ],
)
def test_time_provenance_without_a_clock_reading(
    device_time: datetime | None, effective: datetime, source: TimeSource, flags: tuple[str, ...]
) -> None:
    since_2020 = [Enrollment("dev-1", "pat-1", datetime(2020, 1, 1, tzinfo=UTC))]
    outcome = run(measure(time=device_time), enrollments=since_2020)
    assert isinstance(outcome, Accepted)
    reading = outcome.reading
    assert (reading.effective_time, reading.time_source, reading.flags) == (
        effective,
        source,
        flags,
    )


def test_an_untrusted_time_is_never_stamped_now_and_keeps_the_raw_device_time() -> None:
    wrong = datetime(1999, 1, 1, tzinfo=UTC)
    outcome = run(measure(time=wrong))
    assert isinstance(outcome, Accepted)
    assert outcome.reading.device_time == wrong.isoformat()
    assert outcome.reading.effective_time == wrong
    assert outcome.reading.time_unknown
    # attributed by when it arrived: the device was with pat-1 then
    assert outcome.reading.patient_id == "pat-1"


def test_a_fast_clock_is_corrected_by_the_offset_whatever_the_upload_delay() -> None:
    taken = NOW - timedelta(hours=2)  # measured 2 hours before the upload
    fast = timedelta(hours=1)
    device_said = taken + fast
    clock = ClockReading(NOW + fast, (NOW + fast).isoformat(), NOW, ClockMethod.DEVICE_NOW)
    outcome = run(measure(time=device_said), clock=clock)
    assert isinstance(outcome, Accepted)
    reading = outcome.reading
    assert reading.effective_time == taken
    assert reading.time_source is TimeSource.DEVICE_CORRECTED
    assert reading.flags == ("clock-skew", "time-corrected")
    assert reading.clock_offset_ms == -3_600_000
    assert reading.device_time == device_said.isoformat()


def test_a_clock_within_the_tolerance_is_right_and_its_records_keep_their_time() -> None:
    clock = ClockReading(NOW - timedelta(seconds=90), "x", NOW, ClockMethod.DEVICE_NOW)
    outcome = run(measure(time=NOW - timedelta(days=30)), clock=clock)
    assert isinstance(outcome, Accepted)
    assert outcome.reading.effective_time == NOW - timedelta(days=30)
    assert outcome.reading.time_source is TimeSource.DEVICE
    assert outcome.reading.clock_offset_ms is None


def test_a_model_with_an_unreliable_clock_is_flagged_unless_the_upload_measured_it() -> None:
    policy = Policy(clock_unreliable=True)
    unverified = run(measure(), policy=policy)
    assert isinstance(unverified, Accepted)
    assert unverified.reading.flags == ("clock-unverified",)
    clock = ClockReading(NOW, NOW.isoformat(), NOW, ClockMethod.DEVICE_NOW)
    verified = run(measure(), policy=policy, clock=clock)
    assert isinstance(verified, Accepted) and verified.reading.flags == ()


def test_a_restarted_sequence_counter_is_not_taken_for_a_resend() -> None:
    """sequence_resets: record 5 without a device time, sent again a week later after a power
    cycle, is a new reading; without the quirk its identity rests on the number alone."""
    untimed = measure(time=None, sequence=5)

    def identity(policy: Policy, received: datetime) -> str:
        outcome = run(untimed, policy=policy, receive_time=received)
        assert isinstance(outcome, Accepted)
        return outcome.reading.reading_id

    week_later = NOW + timedelta(days=7)
    resets = Policy(sequence_resets=True)
    assert identity(Policy(), NOW) == identity(Policy(), week_later)  # one reading, or a resend
    assert identity(resets, NOW) != identity(resets, week_later)  # two readings
    assert identity(resets, NOW) == identity(resets, NOW)  # still deterministic
    # With a device time the time tells records apart: the quirk changes no identity.
    timed = measure(sequence=5)
    kept = [run(timed, policy=p) for p in (Policy(), resets)]
    assert all(isinstance(o, Accepted) for o in kept)
    assert len({o.reading.reading_id for o in kept if isinstance(o, Accepted)}) == 1


def test_identity_is_deterministic_and_from_device_facts_only() -> None:
    base = {
        "device_id": "d",
        "metric": "glucose",
        "time_raw": "2026-11-28T08:00:00Z",
        "unit": "mg/dL",
        "seq": 4,
    }
    a = reading_identity(value=Decimal("104"), **base)  # type: ignore[arg-type]
    assert a == reading_identity(value=Decimal("104.0"), **base)  # type: ignore[arg-type]
    assert len(a) == 32
    for change in (
        {"seq": 5},
        {"device_id": "e"},
        {"time_raw": "2026-11-28T08:05:00Z"},
        {"metric": "glucose_isf"},
    ):
        assert a != reading_identity(value=Decimal("104"), **{**base, **change})  # type: ignore[arg-type]
    assert a != reading_identity(value=Decimal("105"), **base)  # type: ignore[arg-type]


def test_same_reading_received_twice_has_one_identity() -> None:
    first = run(measure())
    again = run(measure(), receive_time=NOW + timedelta(hours=1))
    assert isinstance(first, Accepted) and isinstance(again, Accepted)
    assert first.reading.reading_id == again.reading.reading_id


@pytest.mark.parametrize(
    ("patient_id", "ok"),
    [
        ("pat-demo-0001", True),
        ("a", True),
        ("", False),
        ("-leading", False),
        ("has space", False),
        ("x" * 65, False),
        ("1850578123456", False),  # a NIR
        ("185057812345678", False),  # a NIR with its key (an INS)
        ("2A", True),
    ],
)
def test_patient_ids_are_pseudonymous(patient_id: str, ok: bool) -> None:
    assert (check_patient_id(patient_id) is None) is ok
