"""The ReadingStore conformance suite: every backend must pass every test here.

Parametrized over the SQLite backend (a file in the test's temporary directory) and the
InfluxDB backend on a real server (``tests/fixtures/influxdb.py``: Debian's influxd 1.x, or an
external 2.x/3.x named by ``HUB_TEST_INFLUX_URL``).
"""

from __future__ import annotations

import math
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hub.adapters.store import (
    ReadingCursor,
    ReadingStore,
    StoreRejected,
    StoreUnavailable,
    cursor_of,
)
from hub.adapters.store.buckets import choose_bucket
from hub.adapters.store.influx import InfluxReadingStore
from hub.adapters.store.influx_http import InfluxTarget
from hub.adapters.store.influx_server import InfluxServer, free_port
from hub.adapters.store.sqlite import SqliteReadingStore
from hub.core.model import Reading, Source, TimeSource, epoch_ms, from_epoch_ms
from tests.fixtures.influxdb import (  # noqa: F401 - pytest fixtures
    InfluxForTests,
    influx_server,
    influx_target,
    own_influxd,
)

pytestmark = pytest.mark.integration

BACKENDS = ["sqlite", "influxdb"]
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def make_influx(target: InfluxTarget, **options: object) -> InfluxReadingStore:
    options.setdefault("write_retries", 1)
    options.setdefault("retry_backoff_s", 0.05)
    return InfluxReadingStore(target, **options)  # type: ignore[arg-type]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_store(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], ReadingStore]]:
    """Opens another store object on the same data (a second process would see the same)."""
    opened: list[ReadingStore] = []
    target = request.getfixturevalue("influx_target") if backend == "influxdb" else None

    def open_one() -> ReadingStore:
        store: ReadingStore
        if target is not None:
            store = make_influx(target)
        else:
            store = SqliteReadingStore(tmp_path / "readings.sqlite3")
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], ReadingStore]) -> ReadingStore:
    return open_store()


@pytest.fixture
def patient() -> str:
    """A fresh patient id per test (an external InfluxDB bucket is shared between tests)."""
    return f"pt-{uuid.uuid4().hex[:10]}"


def reading(
    patient_id: str,
    at: datetime | int,
    value: float = 100.0,
    *,
    metric: str = "glucose_isf",
    device_id: str = "cgm-1",
    reading_id: str | None = None,
    **fields: object,
) -> Reading:
    effective = from_epoch_ms(at) if isinstance(at, int) else at
    base = Reading(
        reading_id=reading_id or uuid.uuid4().hex,
        patient_id=patient_id,
        device_id=device_id,
        metric=metric,
        value=value,
        unit="mg/dL",
        effective_time=effective,
        receive_time=effective + timedelta(seconds=2),
        device_time=effective.strftime("%Y-%m-%dT%H:%M:%S"),
        time_source=TimeSource.DEVICE,
        source=Source.MQTT,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def cgm(
    patient_id: str, start: datetime, n: int, step_min: int = 5, seed: int = 1
) -> list[Reading]:
    values = np.random.default_rng(seed).normal(130, 35, n).clip(40, 400).round(1)
    return [
        reading(patient_id, start + timedelta(minutes=step_min * i), float(v))
        for i, v in enumerate(values)
    ]


def everything(store: ReadingStore, patient_id: str) -> list[Reading]:
    """Every reading of the patient, untrusted times included, in the store order."""
    return store.readings(
        patient_id,
        None,
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2200, 1, 1, tzinfo=UTC),
        limit=100_000,
        include_untrusted=True,
    )


def in_order(readings: list[Reading]) -> list[Reading]:
    return sorted(readings, key=cursor_of)


# -- idempotency ---------------------------------------------------------------------------


def test_writing_the_same_batch_twice_stores_it_once(store: ReadingStore, patient: str) -> None:
    batch = cgm(patient, T0, 20)
    first = store.write_batch(batch)
    again = store.write_batch(batch)
    assert (first.written, first.duplicates) == (20, 0)
    assert (again.written, again.duplicates) == (0, 20)
    assert store.count(patient) == 20
    assert everything(store, patient) == in_order(batch)


def test_a_reading_repeated_inside_a_batch_is_stored_once(
    store: ReadingStore, patient: str
) -> None:
    one = reading(patient, T0)
    result = store.write_batch([one, one, reading(patient, T0 + timedelta(minutes=5)), one])
    assert (result.written, result.duplicates) == (2, 2)
    assert store.count(patient) == 2


def test_distinct_readings_sharing_a_millisecond_are_all_kept(
    store: ReadingStore, patient: str
) -> None:
    at = epoch_ms(T0)
    same_device = [reading(patient, at, 100.0 + i, reading_id=f"r{i}") for i in range(3)]
    other_device = reading(patient, at, 200.0, device_id="meter-2", reading_id="r9")
    assert store.write_batch([*same_device, other_device]).written == 4
    assert store.write_batch([*same_device, other_device]).duplicates == 4
    # A later batch brings one more distinct reading into the same millisecond.
    late = reading(patient, at, 150.0, reading_id="r5")
    assert store.write_batch([late, same_device[1]]).written == 1
    stored = everything(store, patient)
    assert [r.reading_id for r in stored] == ["r0", "r1", "r2", "r5", "r9"]
    assert sorted(r.value for r in stored) == [100.0, 101.0, 102.0, 150.0, 200.0]
    series = store.series(patient, "glucose_isf", T0, T0 + timedelta(seconds=1))
    assert series.values.tolist() == [100.0, 101.0, 102.0, 150.0, 200.0]


def test_a_resend_with_a_later_receive_time_is_still_a_duplicate(
    store: ReadingStore, patient: str
) -> None:
    # No usable device clock: the effective time is the receive time, which moves on resend.
    first = reading(patient, T0, 90.0, time_source=TimeSource.RECEIVE, reading_id="skewed-1")
    resent = replace(
        first, effective_time=T0 + timedelta(hours=3), receive_time=T0 + timedelta(hours=3)
    )
    assert store.write_batch([first]).written == 1
    assert (store.write_batch([resent]).duplicates) == 1
    assert everything(store, patient) == [first]
    # Stored first under its device time; re-read a year later, the clock is no longer believed.
    on_time = reading(patient, T0 - timedelta(days=400), 91.0, reading_id="racp-7")
    reread = replace(
        on_time,
        effective_time=T0,
        receive_time=T0,
        time_source=TimeSource.RECEIVE,
        flags=("clock-skew", "time-corrected"),
    )
    assert store.write_batch([on_time]).written == 1
    assert store.write_batch([reread]).duplicates == 1
    assert store.count(patient) == 2


# -- reads ---------------------------------------------------------------------------------


def test_ranges_are_half_open(store: ReadingStore, patient: str) -> None:
    start, end = T0, T0 + timedelta(hours=1)
    ms = timedelta(milliseconds=1)
    batch = [reading(patient, t) for t in (start - ms, start, end - ms, end)]
    store.write_batch(batch)
    assert [r.effective_time for r in store.readings(patient, None, start, end)] == [
        start,
        end - ms,
    ]
    assert store.series(patient, "glucose_isf", start, end).times_ms.tolist() == [
        epoch_ms(start),
        epoch_ms(end - ms),
    ]
    assert store.count(patient, start=start, end=end) == 2
    assert store.count(patient, end=start) == 1
    assert store.count(patient, start=end) == 1


def test_metric_filters(store: ReadingStore, patient: str) -> None:
    batch = [
        reading(patient, T0, 120.0, metric="systolic_bp", device_id="cuff"),
        reading(patient, T0, 80.0, metric="diastolic_bp", device_id="cuff"),
        reading(patient, T0, 70.0, metric="pulse_rate", device_id="cuff"),
        reading(patient, T0, 72.5, metric="weight", device_id="scale"),
        reading(patient, T0, 110.0),
    ]
    store.write_batch(batch)
    end = T0 + timedelta(days=1)

    def metrics_of(selection: list[str] | None) -> list[str]:
        return sorted(r.metric for r in store.readings(patient, selection, T0, end))

    assert metrics_of(None) == sorted(r.metric for r in batch)
    assert metrics_of(["systolic_bp", "weight"]) == ["systolic_bp", "weight"]
    assert metrics_of(["spo2"]) == []
    assert store.count(patient, ["systolic_bp", "diastolic_bp", "glucose_isf"]) == 3
    assert store.series(patient, "weight", T0, end).values.tolist() == [72.5]


def test_cursor_paging_walks_every_reading_once_in_order(store: ReadingStore, patient: str) -> None:
    rng = np.random.default_rng(5)
    batch = []
    metrics = ["glucose_isf", "glucose", "heart_rate", "weight"]  # three measurements
    for i in range(60):
        at = T0 + timedelta(minutes=int(rng.integers(0, 20)))  # many readings share a minute
        # Sequence numbers that disagree with the identities' order; some readings have none.
        seq = None if i % 3 == 0 else int(rng.integers(0, 5))
        batch.append(
            reading(patient, at, float(i), metric=metrics[i % 4], device_id=f"d{i % 3}", seq=seq)
        )
    store.write_batch(batch)
    expected = in_order(batch)
    end = T0 + timedelta(hours=1)
    for limit in (1, 2, 7, 25):
        seen: list[Reading] = []
        after = None
        while True:
            page = store.readings(patient, None, T0, end, after=after, limit=limit)
            assert len(page) <= limit
            seen += page
            if len(page) < limit:
                break
            after = cursor_of(page[-1])
        assert seen == expected, f"limit {limit}"
    two = store.readings(patient, ["glucose", "weight"], T0, end, limit=1000)
    assert two == [r for r in expected if r.metric in ("glucose", "weight")]


def test_series_is_numpy_in_time_order(store: ReadingStore, patient: str) -> None:
    batch = cgm(patient, T0, 288)
    store.write_batch(list(reversed(batch)))
    series = store.series(patient, "glucose_isf", T0, T0 + timedelta(days=1))
    assert series.times_ms.dtype == np.int64
    assert series.values.dtype == np.float64
    assert len(series) == 288
    assert series.times_ms.tolist() == [epoch_ms(r.effective_time) for r in batch]
    assert series.values.tolist() == [r.value for r in batch]
    empty = store.series(patient, "spo2", T0, T0 + timedelta(days=1))
    assert len(empty) == 0
    assert empty.times_ms.dtype == np.int64
    assert empty.values.dtype == np.float64


def test_downsampling_matches_numpy(store: ReadingStore, patient: str) -> None:
    start = T0 + timedelta(minutes=2, seconds=30)  # not aligned on any bucket
    batch = cgm(patient, start, 3 * 288, seed=9)
    # A gap (an empty bucket is left out) and a few readings sharing a millisecond.
    batch = [r for i, r in enumerate(batch) if not 300 <= i < 340]
    batch += [reading(patient, batch[10].effective_time, 55.5, device_id="cgm-2")]
    store.write_batch(batch)
    times = np.array([epoch_ms(r.effective_time) for r in batch], np.int64)
    values = np.array([r.value for r in batch])
    for query_start, query_end, bucket in (
        (T0, T0 + timedelta(days=3), None),
        (T0 + timedelta(hours=5), T0 + timedelta(days=2, hours=1), timedelta(hours=1)),
        (T0, T0 + timedelta(days=1), timedelta(minutes=15)),
    ):
        lo, hi = epoch_ms(query_start), epoch_ms(query_end)
        bucket_ms = choose_bucket(lo, hi) if bucket is None else bucket // timedelta(milliseconds=1)
        inside = (times >= lo) & (times < hi)
        starts = times[inside] - times[inside] % bucket_ms
        keys = np.unique(starts)
        result = store.downsample(patient, "glucose_isf", query_start, query_end, bucket)
        assert result.bucket_ms == bucket_ms
        assert result.starts_ms.dtype == np.int64
        assert result.count.dtype == np.int64
        assert result.mean.dtype == np.float64
        assert result.starts_ms.tolist() == keys.tolist()
        in_bucket = [values[inside][starts == k] for k in keys]
        assert result.count.tolist() == [len(v) for v in in_bucket]
        np.testing.assert_allclose(result.mean, [v.mean() for v in in_bucket], rtol=1e-12)
        assert result.min.tolist() == [v.min() for v in in_bucket]
        assert result.max.tolist() == [v.max() for v in in_bucket]
    none = store.downsample(patient, "spo2", T0, T0 + timedelta(days=3))
    assert len(none) == 0


def test_latest_reading_of_each_metric(store: ReadingStore, patient: str) -> None:
    last = T0 + timedelta(hours=2)
    batch = [
        *cgm(patient, T0, 20),
        reading(patient, last, 1.0, reading_id="tie-a"),
        reading(patient, last, 2.0, reading_id="tie-c", device_id="cgm-2"),
        reading(patient, last, 3.0, reading_id="tie-b"),
        reading(patient, T0, 70.0, metric="weight", device_id="scale"),
        reading(patient, T0 + timedelta(days=1), 71.0, metric="weight", device_id="scale"),
        reading(patient, T0 - timedelta(days=30), 36.6, metric="body_temperature", device_id="th"),
    ]
    store.write_batch(batch)
    latest = store.latest(patient)
    assert sorted(latest) == ["body_temperature", "glucose_isf", "weight"]
    assert latest["glucose_isf"].reading_id == "tie-c"
    assert latest["weight"].value == 71.0
    assert latest["body_temperature"] == batch[-1]
    assert sorted(store.latest(patient, ["weight", "spo2"])) == ["weight"]
    assert store.latest(f"{patient}-nobody") == {}


def test_counts(store: ReadingStore, patient: str) -> None:
    other = f"{patient}-other"
    store.write_batch([*cgm(patient, T0, 30), *cgm(other, T0, 10)])
    store.write_batch([reading(patient, T0, 70.0, metric="weight", device_id="scale")])
    assert store.count(patient) == 31
    assert store.count(other) == 10
    assert store.count(patient, ["weight"]) == 1
    assert store.count(patient, start=T0 + timedelta(minutes=50)) == 20
    assert store.count(f"{patient}-nobody") == 0


# -- deletion ------------------------------------------------------------------------------


def test_retention_deletes_readings_older_than_the_cutoff(
    store: ReadingStore, patient: str
) -> None:
    old = datetime(1971, 6, 1, tzinfo=UTC)
    store.write_batch([*cgm(patient, old, 10), *cgm(patient, T0, 10)])
    assert store.apply_retention(datetime(1972, 1, 1, tzinfo=UTC)) == 10
    assert store.count(patient) == 10
    assert store.count(patient, end=datetime(1972, 1, 1, tzinfo=UTC)) == 0
    assert store.apply_retention(datetime(1972, 1, 1, tzinfo=UTC)) == 0


def test_erasure_removes_every_reading_of_one_patient_only(
    store: ReadingStore, patient: str, open_store: Callable[[], ReadingStore]
) -> None:
    other = f"{patient}-keep"
    mine = [
        *cgm(patient, T0, 50),
        reading(patient, T0, 120.0, metric="systolic_bp", device_id="cuff"),
        reading(patient, datetime(1980, 1, 1, tzinfo=UTC), 70.0, metric="weight", device_id="s"),
        reading(
            patient,
            datetime(2150, 1, 1, tzinfo=UTC),
            36.5,
            metric="body_temperature",
            device_id="t",
        ),
    ]
    kept = cgm(other, T0, 20)
    store.write_batch([*mine, *kept])
    assert store.erase_patient(patient) == len(mine)
    fresh = open_store()  # nothing cached anywhere
    for view in (store, fresh):
        assert view.count(patient) == 0
        assert everything(view, patient) == []
        assert view.latest(patient) == {}
        assert len(view.series(patient, "glucose_isf", T0, T0 + timedelta(days=1))) == 0
        assert view.count(other) == 20
        assert everything(view, other) == in_order(kept)
    assert store.erase_patient(patient) == 0
    # The erased readings can be written again (e.g. re-enrolment with a fresh import).
    assert store.write_batch(mine[:3]).written == 3


# -- fidelity ------------------------------------------------------------------------------


def test_every_field_round_trips(store: ReadingStore, patient: str) -> None:
    at = T0 + timedelta(milliseconds=123)
    batch = [
        reading(
            patient,
            at,
            123.456789012345,
            metric="glucose",
            device_id="meter-7",
            reading_id="a" * 32,
            receive_time=at + timedelta(minutes=3, milliseconds=7),
            device_time="2024-03-01T00:00:00+01:00",
            time_source=TimeSource.DEVICE_ZONE_ASSUMED,
            source=Source.GATEWAY,
            seq=2**40,
            flags=("HI", "time-corrected", "critical-high"),
            unit="mg/dL",
        ),
        reading(
            patient,
            at + timedelta(seconds=1),
            -0.0,
            metric="body_temperature",
            device_id="th",
            reading_id="b" * 32,
            unit="Cel",
            device_time=None,
            time_source=TimeSource.RECEIVE,
            source=Source.PROVIDER,
            seq=None,
            flags=(),
        ),
        reading(
            patient, at + timedelta(seconds=2), 1e-7, metric="spo2", unit="%", seq=0, device_time=""
        ),
        reading(
            patient, at + timedelta(seconds=3), 1.5e300, metric="weight", unit="kg", seq=2**63 - 1
        ),
    ]
    store.write_batch(batch)
    assert everything(store, patient) == batch
    assert store.latest(patient)["glucose"] == batch[0]


def test_provenance_round_trips(store: ReadingStore, patient: str) -> None:
    at = T0 + timedelta(milliseconds=7)
    batch = [
        reading(  # a BLE local time read in a named zone, value as sent in another unit
            patient,
            at,
            180.0,
            metric="glucose",
            value_sent="10.0",
            unit_sent="mmol/L",
            utc_offset_min=60,
            time_zone="Europe/Paris",
            time_source=TimeSource.DEVICE_ZONE_ASSUMED,
        ),
        reading(  # a clock corrected at upload, far west of UTC
            patient,
            at + timedelta(seconds=1),
            120.0,
            seq=17,
            clock_offset_ms=-3_600_123,
            utc_offset_min=-600,
            time_source=TimeSource.DEVICE_CORRECTED,
        ),
        reading(  # only some fields: the rest stays None
            patient, at + timedelta(seconds=2), 99.0, value_sent="99", clock_offset_ms=0
        ),
        reading(  # characters line protocol and JSON escape; extreme offsets
            patient,
            at + timedelta(seconds=3),
            98.0,
            value_sent='9"8\\',
            unit_sent="mg/dL ,=\\",
            time_zone="America/Argentina/Buenos_Aires é",
            utc_offset_min=-(24 * 60 - 1),
            clock_offset_ms=2**63 - 1,
        ),
        reading(patient, at + timedelta(seconds=4), 97.0),  # none at all
    ]
    store.write_batch(batch)
    assert everything(store, patient) == batch
    assert store.latest(patient)["glucose"] == batch[0]


HOSTILE = [
    "dev with spaces",
    "dev,with,commas",
    "dev=equals=",
    'dev"quoted"',
    "dev'single'",
    "back\\slash",
    "trailing\\",
    "\\\\double",
    "percent%25%",
    "unicodé-血糖-🩸",
    " leading and trailing ",
    "mix ,=\\\" '%",
]


def test_hostile_strings_round_trip(store: ReadingStore, patient: str) -> None:
    batch = [
        reading(
            patient,
            T0 + timedelta(minutes=i),
            float(i),
            device_id=text,
            reading_id=f"{i:02d}-{text}",
            flags=(text, "LO", ""),
            device_time=text,
            unit=text,
        )
        for i, text in enumerate(HOSTILE)
    ]
    assert store.write_batch(batch).written == len(batch)
    assert store.write_batch(batch).duplicates == len(batch)
    assert everything(store, patient) == batch
    for text in HOSTILE[:6]:  # hostile patient ids: stored, found, erased
        odd = f"{patient}{text}"
        store.write_batch([reading(odd, T0, 1.0, device_id=text)])
        assert [r.patient_id for r in everything(store, odd)] == [odd]
        assert store.latest(odd)["glucose_isf"].device_id == text
        assert store.erase_patient(odd) == 1
        assert store.count(odd) == 0
    assert store.count(patient) == len(batch)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("value", math.nan, "non-finite"),
        ("value", math.inf, "non-finite"),
        ("value", -math.inf, "non-finite"),
        ("metric", "glucose_nonsense", "unknown metric"),
        ("effective_time", datetime(1969, 12, 31, 23, 59, tzinfo=UTC), "outside"),
        ("effective_time", datetime(2200, 1, 1, tzinfo=UTC), "outside"),
        ("receive_time", datetime(2250, 1, 1, tzinfo=UTC), "outside"),
        ("effective_time", datetime(2024, 1, 1), "outside"),  # naive
        ("device_id", "line\nbreak", "control character"),
        ("flags", ("ok", "tab\there"), "control character"),
        ("patient_id", "", "no patient"),
        ("seq", 2**63, "outside 0..2"),
        ("seq", -1, "outside 0..2"),  # -1 is the order's "no seq": never a record number
        ("utc_offset_min", 24 * 60, "UTC offset"),
        ("utc_offset_min", -24 * 60, "UTC offset"),
        ("clock_offset_ms", 2**63, "clock offset"),
        ("value_sent", "1\n2", "control character"),
        ("unit_sent", "mg/dL\x00", "control character"),
        ("time_zone", "Europe/Paris\r", "control character"),
    ],
)
def test_invalid_readings_are_refused_before_anything_is_written(
    store: ReadingStore, patient: str, field: str, value: object, message: str
) -> None:
    good = cgm(patient, T0, 5)
    bad = replace(good[2], reading_id="bad", **{field: value})  # type: ignore[arg-type]
    with pytest.raises(StoreRejected, match=message) as caught:
        store.write_batch([*good[:2], bad, *good[2:]])
    assert caught.value.retryable is False
    assert store.count(patient) == 0
    assert store.count(bad.patient_id) == 0 if bad.patient_id else True


# -- concurrency and outages ---------------------------------------------------------------


def test_reads_run_while_a_writer_writes(
    backend: str, store: ReadingStore, patient: str, open_store: Callable[[], ReadingStore]
) -> None:
    batches = [cgm(patient, T0 + timedelta(days=d), 100, step_min=1, seed=d) for d in range(30)]
    errors: list[BaseException] = []
    done = threading.Event()
    reader_store = open_store()  # the API has its own store object; it may share threads too

    def write() -> None:
        try:
            for batch in batches:
                store.write_batch(batch)
        except BaseException as err:  # reported below
            errors.append(err)
        finally:
            done.set()

    def read(which: ReadingStore, counts: list[int]) -> None:
        end = T0 + timedelta(days=31)
        try:
            while not done.is_set():
                counts.append(which.count(patient))
                series = which.series(patient, "glucose_isf", T0, end)
                assert bool(np.all(np.diff(series.times_ms) > 0))
                page = which.readings(patient, None, T0, end, limit=50)
                assert page == in_order(page)
                which.latest(patient)
        except BaseException as err:  # reported below
            errors.append(err)

    counts: list[list[int]] = [[], [], []]
    threads = [
        threading.Thread(target=read, args=(s, c))
        for s, c in zip((store, reader_store, reader_store), counts, strict=True)
    ]
    threads.append(threading.Thread(target=write))  # readers first: they see it grow
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert store.count(patient) == 3000
    for seen in counts:
        assert seen == sorted(seen), "a reader saw the count go down"
        assert all(0 <= c <= 3000 for c in seen)
    assert any(0 < c < 3000 for seen in counts for c in seen), "no read overlapped the writes"
    if backend == "sqlite":
        # A reader sees whole transactions. InfluxDB makes no such promise for one write
        # request (points reach shards independently), so readers may see part of a batch.
        assert all(c % 100 == 0 for seen in counts for c in seen)
    expected = sorted((r for b in batches for r in b), key=lambda r: r.effective_time)
    series = reader_store.series(patient, "glucose_isf", T0, T0 + timedelta(days=31))
    assert series.values.tolist() == [r.value for r in expected]


def test_an_unreachable_backend_raises_store_unavailable(
    backend: str,
    tmp_path: Path,
    patient: str,
    request: pytest.FixtureRequest,
) -> None:
    batch = cgm(patient, T0, 10)
    if backend == "sqlite":
        path = tmp_path / "locked.sqlite3"
        store: ReadingStore = SqliteReadingStore(path, busy_timeout_s=0.2)
        store.write_batch(batch[:5])
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # e.g. a backup tool holding the file
        try:
            with pytest.raises(StoreUnavailable) as caught:
                store.write_batch(batch[5:])
            assert caught.value.retryable
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert store.write_batch(batch).written == 5  # the retry succeeds
        store.close()
        return
    server_info: InfluxForTests = request.getfixturevalue("influx_server")
    if server_info.shared:
        target = InfluxTarget(url=f"http://127.0.0.1:{free_port()}", database="nowhere")
        store = make_influx(target, write_retries=2, retry_backoff_s=0.01)
        for call in (lambda: store.write_batch(batch), lambda: store.count(patient), store.ping):
            with pytest.raises(StoreUnavailable):
                call()
        store.close()
        return
    server: InfluxServer = request.getfixturevalue("own_influxd")
    server.create_database("hub")
    store = make_influx(
        InfluxTarget(url=server.url, database="hub"), write_retries=2, retry_backoff_s=0.01
    )
    store.write_batch(batch[:5])
    store.ping()
    server.stop()
    calls: list[Callable[[], object]] = [
        lambda: store.write_batch(batch[5:]),
        lambda: store.readings(patient, None, T0, T0 + timedelta(days=1)),
        lambda: store.series(patient, "glucose_isf", T0, T0 + timedelta(days=1)),
        lambda: store.count(patient),
        lambda: store.latest(patient),
        lambda: store.erase_patient(patient),
        store.ping,
    ]
    for attempt in calls:
        with pytest.raises(StoreUnavailable, match="unreachable") as caught:
            attempt()
        assert caught.value.retryable
    server.start()
    assert store.write_batch(batch).written == 5  # nothing acknowledged was lost
    assert store.count(patient) == 10
    # A database that does not exist is an operator's problem, not the data's: retryable.
    missing = make_influx(InfluxTarget(url=server.url, database="missing"), write_retries=0)
    with pytest.raises(StoreUnavailable, match="database not found"):
        missing.write_batch(batch)
    store.close()
    missing.close()


# -- order ---------------------------------------------------------------------------------


def test_a_millisecond_is_ordered_by_seq_then_identity(store: ReadingStore, patient: str) -> None:
    at = epoch_ms(T0)
    # Identities deliberately in the opposite order of the sequence numbers.
    tied = [
        reading(patient, at, 3.0, reading_id="a", seq=3),
        reading(patient, at, 1.0, reading_id="b", seq=1),
        reading(patient, at, 2.0, reading_id="c", seq=2),
        reading(patient, at, 0.5, reading_id="z"),  # no seq: first
        reading(patient, at, 0.4, reading_id="y"),  # no seq: first, by identity
        reading(patient, at, 4.0, reading_id="d", seq=2**62, device_id="cgm-2"),
    ]
    store.write_batch(tied)
    expected = [0.4, 0.5, 1.0, 2.0, 3.0, 4.0]
    assert [r.value for r in everything(store, patient)] == expected
    series = store.series(patient, "glucose_isf", T0, T0 + timedelta(seconds=1))
    assert series.values.tolist() == expected
    assert store.latest(patient)["glucose_isf"].reading_id == "d"  # greatest seq, not identity
    # Paging one by one through the tie, with the cursor: every reading once, in order.
    seen: list[float] = []
    after: ReadingCursor | None = None
    while page := store.readings(
        patient, None, T0, T0 + timedelta(seconds=1), after=after, limit=1
    ):
        seen.append(page[0].value)
        after = cursor_of(page[0])
    assert seen == expected
    assert cursor_of(tied[4]) == ReadingCursor(at, -1, "y")


def test_a_cursor_no_reading_can_have_is_refused(store: ReadingStore, patient: str) -> None:
    store.write_batch(cgm(patient, T0, 3))
    end = T0 + timedelta(days=1)
    for bad in (
        ReadingCursor(10**23, 0, "x"),
        ReadingCursor(epoch_ms(T0), -2, "x"),
        ReadingCursor(epoch_ms(T0), 2**63, "x"),
        ReadingCursor(epoch_ms(T0), 0, ""),
    ):
        with pytest.raises(ValueError, match="cursor"):
            store.readings(patient, None, T0, end, after=bad)
    # Before the range: everything; at or after its end: nothing.
    early = ReadingCursor(0, -1, "x")
    assert len(store.readings(patient, None, T0, end, after=early)) == 3
    assert store.readings(patient, None, T0, end, after=ReadingCursor(epoch_ms(end), -1, "x")) == []


# -- untrusted times -----------------------------------------------------------------------


def untrusted(patient_id: str, at: datetime, value: float, **fields: Any) -> Reading:
    return reading(
        patient_id,
        at,
        value,
        time_source=TimeSource.UNTRUSTED,
        flags=("time-unknown",),
        **fields,
    )


def test_untrusted_readings_stay_out_of_time_based_views(store: ReadingStore, patient: str) -> None:
    trusted = cgm(patient, T0, 12)
    kept = [
        untrusted(patient, T0 + timedelta(minutes=5), 400.0),  # shares a trusted reading's ms
        untrusted(patient, T0 + timedelta(days=9000), 401.0),  # a clock decades ahead
        untrusted(patient, datetime(1970, 1, 1, tzinfo=UTC), 402.0, metric="weight"),  # reset
    ]
    assert store.write_batch([*trusted, *kept]).written == 15
    end = T0 + timedelta(days=1)
    series = store.series(patient, "glucose_isf", T0, end)
    assert series.values.tolist() == [r.value for r in trusted]
    down = store.downsample(patient, "glucose_isf", T0, end, timedelta(hours=1))
    assert down.count.tolist() == [12]
    assert down.max.tolist() == [max(r.value for r in trusted)]
    assert store.latest(patient) == {"glucose_isf": trusted[-1]}
    assert store.readings(patient, None, T0, end) == trusted
    assert store.readings(patient, None, T0, end, include_untrusted=True) == in_order(
        [*trusted, kept[0]]
    )
    assert everything(store, patient) == in_order([*trusted, *kept])
    # Counting (what erasure checks) sees them unless told otherwise.
    assert store.count(patient) == 15
    assert store.count(patient, include_untrusted=False) == 12
    assert store.count(patient, ["weight"]) == 1
    assert store.count(patient, start=T0 + timedelta(days=1)) == 1
    # Paging with them included walks both kinds in one order.
    seen: list[Reading] = []
    after: ReadingCursor | None = None
    while page := store.readings(
        patient, None, T0, end, after=after, limit=5, include_untrusted=True
    ):
        seen += page
        after = cursor_of(page[-1])
    assert seen == in_order([*trusted, kept[0]])


def test_retention_and_erasure_reach_untrusted_readings(store: ReadingStore, patient: str) -> None:
    old = untrusted(patient, datetime(1970, 6, 1, tzinfo=UTC), 1.0)
    future = untrusted(patient, datetime(2150, 1, 1, tzinfo=UTC), 2.0)
    store.write_batch([old, future, *cgm(patient, T0, 3)])
    assert store.apply_retention(datetime(1971, 1, 1, tzinfo=UTC)) == 1
    assert everything(store, patient)[-1] == future
    assert store.erase_patient(patient) == 4
    assert store.count(patient) == 0


def test_a_resend_judged_differently_is_still_one_reading(
    store: ReadingStore, patient: str
) -> None:
    ahead = T0 + timedelta(days=400)
    # Untrusted first (no clock reading), then the same record trusted as sent...
    first = untrusted(patient, ahead, 5.0, reading_id="rec-1")
    trusted_later = replace(first, time_source=TimeSource.DEVICE, flags=())
    # ... or corrected by the clock offset measured at a later upload.
    offset = timedelta(days=400)
    corrected = replace(
        first,
        effective_time=ahead - offset,
        time_source=TimeSource.DEVICE_CORRECTED,
        clock_offset_ms=-(offset // timedelta(milliseconds=1)),
        flags=("time-corrected",),
    )
    assert store.write_batch([first]).written == 1
    assert store.write_batch([trusted_later]).duplicates == 1
    assert store.write_batch([corrected]).duplicates == 1
    # And the other way round: corrected first, untrusted (no offset that time) later.
    second = replace(corrected, reading_id="rec-2", effective_time=T0)
    assert store.write_batch([second]).written == 1
    resent = replace(first, reading_id="rec-2")
    assert store.write_batch([resent]).duplicates == 1
    assert everything(store, patient) == [second, first]


# -- re-attribution ------------------------------------------------------------------------


def test_device_readings_cover_every_patient_of_a_device(store: ReadingStore, patient: str) -> None:
    other = f"{patient}-b"
    device = f"meter-{patient}"
    mine = [reading(patient, T0 + timedelta(hours=h), 1.0 + h, device_id=device) for h in range(3)]
    theirs = [
        reading(other, T0 + timedelta(hours=h), 10.0 + h, device_id=device, seq=h)
        for h in range(2, 5)
    ]
    odd = untrusted(other, T0 + timedelta(hours=4), 99.0, device_id=device, metric="weight")
    unrelated = cgm(patient, T0, 10)  # another device of the same patient
    store.write_batch([*mine, *theirs, odd, *unrelated])
    end = T0 + timedelta(hours=4)
    assert store.device_readings(device, T0, end) == in_order([*mine, *theirs[:2]])
    assert store.device_readings(device, T0, end + timedelta(hours=1)) == in_order(
        [*mine, *theirs, odd]
    )
    assert store.device_readings(device, end + timedelta(hours=1), end + timedelta(days=1)) == []
    assert store.device_readings("nobody's", T0, end) == []


def test_reassign_moves_readings_between_patients_once(store: ReadingStore, patient: str) -> None:
    right = f"{patient}-right"
    device = f"meter-{patient}"
    at = T0 + timedelta(hours=1)
    wrong = [
        *[
            reading(patient, T0 + timedelta(minutes=5 * i), float(i), device_id=device)
            for i in range(6)
        ],
        # Three distinct readings of one device in one millisecond (InfluxDB: slots 0-2; the
        # one that stays, in slot 3, is compacted into slot 0).
        *[
            reading(patient, at, 50.0 + i, device_id=device, seq=i, reading_id=f"k{i}")
            for i in range(3)
        ],
        untrusted(patient, T0 + timedelta(days=3000), 77.0, device_id=device),
    ]
    keep = reading(patient, at, 60.0, device_id=device, seq=9, reading_id="k9")  # same key, stays
    already = reading(right, T0, 5.0, device_id=device, reading_id="already-there")
    store.write_batch([*wrong, keep, already])
    moves = [(r, right) for r in wrong]
    assert store.reassign(moves) == len(wrong)
    moved = [replace(r, patient_id=right) for r in wrong]
    assert everything(store, patient) == [keep]
    assert everything(store, right) == in_order([*moved, already])
    assert store.count(patient) == 1
    assert store.count(right) == len(wrong) + 1
    # Idempotent: the same moves again find nothing at the old patient.
    assert store.reassign(moves) == 0
    assert store.reassign([]) == 0
    assert everything(store, right) == in_order([*moved, already])
    # A move to where the reading already is does nothing; a move back restores it.
    assert store.reassign([(m, right) for m in moved]) == 0
    assert store.reassign([(m, patient) for m in moved[6:8]]) == 2
    assert everything(store, patient) == in_order([*wrong[6:8], keep])
    assert store.device_readings(device, T0, T0 + timedelta(days=3001)) == in_order(
        [*wrong[6:8], keep, *moved[:6], moved[8], moved[9], already]
    )


@pytest.mark.parametrize("target", ["", "tab\there", "pt\n"])
def test_reassign_validates_the_new_patient_before_moving_anything(
    store: ReadingStore, patient: str, target: str
) -> None:
    batch = cgm(patient, T0, 3)
    store.write_batch(batch)
    with pytest.raises(StoreRejected):
        store.reassign([(batch[0], f"{patient}-ok"), (batch[1], target)])
    with pytest.raises(ValueError, match="two patients"):
        store.reassign([(batch[0], f"{patient}-ok"), (batch[0], f"{patient}-other")])
    assert everything(store, patient) == batch
    assert store.count(f"{patient}-ok") == 0
    # The same move twice is one move.
    assert store.reassign([(batch[2], f"{patient}-ok"), (batch[2], f"{patient}-ok")]) == 1


def test_delete_readings_removes_exactly_those(store: ReadingStore, patient: str) -> None:
    at = T0 + timedelta(minutes=30)
    batch = [
        *cgm(patient, T0, 10),
        # One key, four slots (InfluxDB): 0 and 2 go, 3 moves down to 0.
        *[reading(patient, at, 200.0 + i, seq=i, reading_id=f"s{i}") for i in range(4)],
        untrusted(patient, T0 + timedelta(days=2000), 3.0),
    ]
    store.write_batch(batch)
    gone = [batch[2], batch[3], batch[4], batch[10], batch[12], batch[14]]
    assert store.delete_readings(gone) == len(gone)
    remaining = [r for r in batch if r not in gone]
    assert everything(store, patient) == in_order(remaining)
    assert store.delete_readings(gone) == 0  # idempotent
    assert store.delete_readings([]) == 0
    assert store.delete_readings([replace(batch[0], patient_id=f"{patient}-x")]) == 0
    assert everything(store, patient) == in_order(remaining)
    # The identities can be stored again (a reading back from quarantine).
    assert store.write_batch(gone).written == len(gone)
    assert everything(store, patient) == in_order(batch)
