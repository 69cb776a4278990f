"""Device time a clinician can trust: clock offsets per upload, named zones, no time invented.

Each test is a scenario a clinician or a device maker would recognise; times are built from
an injected ``NOW`` (nothing here reads the clock).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from device_profiles.measurement import Measurement
from hub.core.model import Reading, Source, TimeSource
from hub.core.pipeline import Accepted, Enrollment, Outcome, Policy, process_upload
from hub.core.timekeeping import (
    ClockMethod,
    ClockReading,
    RecordTime,
    TimePolicy,
    UploadClock,
    resolve_times,
)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SINCE_2020 = [Enrollment("meter-1", "pat-1", datetime(2020, 1, 1, tzinfo=UTC))]


def local(measurement_time: datetime, value: str = "104", seq: int | None = None) -> Measurement:
    """A BLE-style glucose record: local wall-clock time, no zone."""
    return Measurement(
        metric="glucose",
        value=Decimal(value),
        unit="mg/dL",
        time=measurement_time,
        time_raw=measurement_time.isoformat(),
        sequence=seq,
    )


def upload(
    measurements: list[Measurement],
    *,
    clock: ClockReading | None = None,
    reference: datetime = NOW,
    enrollments: list[Enrollment] | None = None,
    zone: ZoneInfo = PARIS,
) -> list[Reading]:
    outcomes: list[Outcome] = process_upload(
        measurements,
        device_id="meter-1",
        source=Source.GATEWAY,
        receive_time=reference,
        enrollments=SINCE_2020 if enrollments is None else enrollments,
        policy=Policy(zone=zone),
        clock=clock,
        reference_time=reference,
    )
    readings = []
    for outcome in outcomes:
        assert isinstance(outcome, Accepted), outcome
        readings.append(outcome.reading)
    return readings


def gateway_read(device_shows: datetime, at: datetime = NOW) -> ClockReading:
    """The gateway read the device's Current Time (local, no zone) at ``at``."""
    return ClockReading(device_shows, device_shows.isoformat(), at, ClockMethod.CURRENT_TIME)


def test_a_clock_reset_to_2015_keeps_the_history_shape_and_order_after_the_offset() -> None:
    # The meter's clock restarted at 2015-01-01 00:00 when its battery was changed, 15 days
    # ago; it then took 28 readings (two a day, 08:00 and 20:00 on its own clock).
    reset_at = NOW - timedelta(days=15)
    clock_start = datetime(2015, 1, 1)
    times = [clock_start + timedelta(hours=8 + 12 * k) for k in range(28)]
    records = [local(t, str(100 + k), seq=k + 1) for k, t in enumerate(times)]
    shows_now = clock_start + (NOW - reset_at)  # what the meter's clock shows at upload
    readings = upload(records, clock=gateway_read(shows_now))
    effective = [r.effective_time for r in readings]
    # every reading at its true instant: original spacing (12 h) and order
    assert effective == sorted(effective)
    assert {b - a for a, b in itertools.pairwise(effective)} == {timedelta(hours=12)}
    assert effective[0] == reset_at + timedelta(hours=8)
    assert len({r.reading_id for r in readings}) == 28
    for reading in readings:
        assert reading.time_source is TimeSource.DEVICE_CORRECTED
        assert {"clock-skew", "time-corrected"} <= set(reading.flags)
        assert reading.device_time is not None and reading.device_time.startswith("2015-")
        assert reading.clock_offset_ms is not None and reading.clock_offset_ms > 0
        assert reading.time_zone == "Europe/Paris"


def test_an_old_record_from_a_right_clock_keeps_its_own_date_and_owner() -> None:
    handover = NOW - timedelta(days=100)
    owners = [
        Enrollment("meter-1", "pat-old", datetime(2024, 1, 1, tzinfo=UTC), handover),
        Enrollment("meter-1", "pat-new", handover),
    ]
    thirteen_months_ago = (NOW - timedelta(days=396)).astimezone(PARIS).replace(tzinfo=None)
    right_now = NOW.astimezone(PARIS).replace(tzinfo=None)
    [hypo] = upload(
        [local(thirteen_months_ago, "62")], clock=gateway_read(right_now), enrollments=owners
    )
    assert hypo.effective_time == NOW - timedelta(days=396)
    assert hypo.time_source is TimeSource.DEVICE_ZONE_ASSUMED
    assert hypo.patient_id == "pat-old"  # it happened while the old owner had the meter
    assert hypo.flags == ()


@pytest.mark.parametrize(
    "upload_delay", [timedelta(minutes=3), timedelta(hours=2), timedelta(days=3)]
)
def test_a_clock_one_hour_fast_is_corrected_whatever_the_upload_delay(
    upload_delay: timedelta,
) -> None:
    taken = NOW - upload_delay
    fast = timedelta(hours=1)
    as_shown = (taken + fast).astimezone(PARIS).replace(tzinfo=None)
    shows_now = (NOW + fast).astimezone(PARIS).replace(tzinfo=None)
    [reading] = upload([local(as_shown)], clock=gateway_read(shows_now))
    assert reading.effective_time == taken
    assert "clock-skew" in reading.flags
    assert reading.clock_offset_ms == -3_600_000


def test_the_spring_gap_time_is_read_with_the_offset_before_the_change_and_flagged() -> None:
    # 2026-03-29 in Europe/Paris: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
    spring = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    records = [local(datetime(2026, 3, 29, 1, 30)), local(datetime(2026, 3, 29, 2, 30), "110")]
    before, gap = upload(records, reference=spring)
    assert before.effective_time == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert gap.effective_time == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # not 60 min off
    assert "time-nonexistent" in gap.flags
    assert gap.utc_offset_min == 60


def test_the_two_real_0230_readings_of_the_autumn_change_are_both_kept() -> None:
    # 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice. Same value, no
    # sequence number: only the order tells them apart.
    autumn = datetime(2026, 10, 25, 12, 0, tzinfo=UTC)
    records = [
        local(datetime(2026, 10, 25, 1, 50)),
        local(datetime(2026, 10, 25, 2, 30)),
        local(datetime(2026, 10, 25, 2, 30)),
        local(datetime(2026, 10, 25, 3, 10)),
    ]
    readings = upload(records, reference=autumn)
    assert [r.effective_time for r in readings] == [
        datetime(2026, 10, 24, 23, 50, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # 02:30 CET
        datetime(2026, 10, 25, 2, 10, tzinfo=UTC),
    ]
    assert len({r.reading_id for r in readings}) == 4  # no identity collapses
    assert [r.utc_offset_min for r in readings] == [120, 120, 60, 60]
    assert not any("time-ambiguous" in r.flags for r in readings)


def test_a_repeated_local_time_is_split_where_the_local_time_steps_back() -> None:
    autumn = datetime(2026, 10, 25, 12, 0, tzinfo=UTC)
    walls = [datetime(2026, 10, 25, 2, m) for m in (10, 40, 5, 35)]
    readings = upload([local(w, str(100 + k)) for k, w in enumerate(walls)], reference=autumn)
    assert [r.effective_time.strftime("%H:%M") for r in readings] == [
        "00:10",
        "00:40",
        "01:05",
        "01:35",
    ]


def test_a_lone_repeated_local_time_takes_the_first_occurrence_and_says_so() -> None:
    autumn = datetime(2026, 10, 25, 12, 0, tzinfo=UTC)
    [reading] = upload([local(datetime(2026, 10, 25, 2, 30))], reference=autumn)
    assert reading.effective_time == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert "time-ambiguous" in reading.flags


def test_a_backlog_spanning_the_autumn_change_gets_each_records_own_offset() -> None:
    upload_time = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    summer = local(datetime(2026, 10, 20, 8, 0), seq=1)
    winter = local(datetime(2026, 10, 30, 8, 0), seq=2)
    right_now = upload_time.astimezone(PARIS).replace(tzinfo=None)
    first, second = upload(
        [summer, winter], clock=gateway_read(right_now, upload_time), reference=upload_time
    )
    assert first.effective_time == datetime(2026, 10, 20, 6, 0, tzinfo=UTC)  # CEST
    assert second.effective_time == datetime(2026, 10, 30, 7, 0, tzinfo=UTC)  # CET


def test_with_no_offset_a_future_time_is_kept_untrusted_not_stamped_now() -> None:
    ahead = (NOW + timedelta(hours=3)).astimezone(PARIS).replace(tzinfo=None)
    [reading] = upload([local(ahead)])
    assert reading.time_source is TimeSource.UNTRUSTED
    assert reading.effective_time == NOW + timedelta(hours=3)
    assert reading.effective_time != NOW
    assert "time-unknown" in reading.flags


def test_a_corrected_time_that_is_still_impossible_is_untrusted() -> None:
    # the clock reading itself says the device is 2 days fast, but a record is 3 days ahead
    shows_now = (NOW + timedelta(days=2)).astimezone(PARIS).replace(tzinfo=None)
    ahead = (NOW + timedelta(days=5)).astimezone(PARIS).replace(tzinfo=None)
    [reading] = upload([local(ahead)], clock=gateway_read(shows_now))
    assert reading.time_source is TimeSource.UNTRUSTED


def test_the_offset_is_measured_in_wall_clock_time_for_a_device_without_a_zone() -> None:
    # In summer (CEST, UTC+2) the meter's clock shows 10:00 when the truth is 08:00Z: right.
    summer = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    reading = gateway_read(datetime(2026, 7, 1, 10, 0), summer)
    clock = UploadClock.measure(reading, PARIS, TimePolicy())
    assert clock.offset == timedelta(0)
    assert not clock.applied
    assert clock.wall_clock


def test_records_without_a_device_time_take_the_gateway_receive_time() -> None:
    received = NOW - timedelta(minutes=1)
    [resolved] = resolve_times(
        [RecordTime(None, "glucose", received=received)],
        reference=NOW,
        zone=PARIS,
        policy=TimePolicy(),
    )
    assert (resolved.effective, resolved.source) == (received, TimeSource.RECEIVE)


def test_a_phd_coincident_time_stamp_is_recorded_not_applied_twice() -> None:
    # The PHG already put the measurement on its own (NTP) timeline; the coincident time stamp
    # says the meter's clock was 2 hours slow, so the original time can be recovered.
    taken = NOW - timedelta(minutes=10)
    coincident = ClockReading(NOW - timedelta(hours=2), "x", NOW, ClockMethod.PHD_COINCIDENT)
    [reading] = upload(
        [
            Measurement(
                metric="glucose",
                value=Decimal(104),
                unit="mg/dL",
                time=taken,
                time_raw=taken.isoformat(),
            )
        ],
        clock=coincident,
    )
    assert reading.effective_time == taken  # not moved a second time
    assert reading.time_source is TimeSource.DEVICE
    assert reading.flags == ("clock-skew",)
    assert reading.clock_offset_ms == 7_200_000
