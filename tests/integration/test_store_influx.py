"""InfluxDB backend specifics, on a real server: the stored layout, erasure down to the series
index, configuration through the settings, foreign points, re-attribution interrupted."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.adapters.store import StoreError, StoreUnavailable, cursor_of, open_store
from hub.adapters.store.influx import InfluxReadingStore
from hub.adapters.store.influx_http import InfluxTarget, ResultSeries
from hub.adapters.store.influx_schema import point_line
from hub.config import Settings
from hub.core.model import Reading, Source, TimeSource
from tests.conftest import TEST_AUTH
from tests.fixtures.influxdb import (  # noqa: F401 - pytest fixtures
    InfluxForTests,
    influx_server,
    influx_target,
)

pytestmark = pytest.mark.integration

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def reading(
    patient: str, at: datetime, value: float, reading_id: str, device: str = "cgm"
) -> Reading:
    return Reading(
        reading_id=reading_id,
        patient_id=patient,
        device_id=device,
        metric="glucose_isf",
        value=value,
        unit="mg/dL",
        effective_time=at,
        receive_time=at,
        device_time=None,
        time_source=TimeSource.DEVICE,
        source=Source.MQTT,
    )


@pytest.fixture
def store(influx_target: InfluxTarget) -> InfluxReadingStore:  # noqa: F811
    return InfluxReadingStore(influx_target, write_retries=0)


def series_keys(store: InfluxReadingStore, patient: str) -> list[str]:
    result = store.http.query(f"SHOW SERIES WHERE \"patient\" = '{patient}'")
    return sorted(str(row[0]) for s in result for row in s.values)


def test_the_stored_layout(store: InfluxReadingStore) -> None:
    patient = f"pt-{uuid.uuid4().hex[:8]}"
    store.write_batch(
        [
            reading(patient, T0, 100.0, "r1"),
            reading(patient, T0, 101.0, "r2"),  # same device, same ms: a second slot
            reading(patient, T0 + timedelta(minutes=5), 102.0, "r3"),
        ]
    )
    assert series_keys(store, patient) == [
        f"glucose,device=cgm,metric=glucose_isf,patient={patient}",
        f"glucose,device=cgm,metric=glucose_isf,patient={patient},slot=1",
    ]
    (series,) = store.http.query(f'SELECT * FROM "glucose" WHERE "patient" = \'{patient}\'')  # noqa: S608
    assert sorted(series.columns) == sorted(
        ["time", "device", "meta", "metric", "patient", "rid", "slot", "value"]
    )


def test_erasure_leaves_no_series_behind(store: InfluxReadingStore) -> None:
    patient = f"pt-{uuid.uuid4().hex[:8]}"
    other = f"{patient}-other"
    store.write_batch([reading(patient, T0, 1.0, "a"), reading(other, T0, 2.0, "b")])
    assert series_keys(store, patient)
    store.erase_patient(patient)
    assert series_keys(store, patient) == []
    assert series_keys(store, other)


def test_open_store_builds_the_influx_backend(
    influx_server: InfluxForTests,  # noqa: F811
    influx_target: InfluxTarget,  # noqa: F811
    tmp_path: Path,
) -> None:
    if influx_server.shared:
        pytest.skip("configured through HUB_TEST_INFLUX_*; this test covers the v1 settings")
    settings = Settings(
        environment="test",
        auth=TEST_AUTH,
        data_dir=tmp_path,
        store={
            "backend": "influxdb",
            "influx_url": influx_target.url,
            "influx_database": influx_target.database,
            "influx_batch_size": 2,
        },
    )
    store = open_store(settings)
    assert isinstance(store, InfluxReadingStore)
    store.ping()
    batch = [reading("pt-open", T0 + timedelta(minutes=i), float(i), f"o{i}") for i in range(5)]
    assert store.write_batch(batch).written == 5  # in three requests of at most two lines
    assert store.count("pt-open") == 5
    store.close()


def test_v2_writes_to_a_1x_server_are_retryable_and_say_why(
    influx_server: InfluxForTests,  # noqa: F811
    influx_target: InfluxTarget,  # noqa: F811
) -> None:
    if influx_server.shared:
        pytest.skip("needs the local InfluxDB 1.6, which has no /api/v2/write")
    target = InfluxTarget(url=influx_target.url, api="v2", database=influx_target.database)
    store = InfluxReadingStore(target, write_retries=0)
    with pytest.raises(StoreUnavailable, match="404"):
        store.write_batch([reading("pt-v2", T0, 1.0, "v2")])
    store.close()


def test_a_foreign_point_is_a_store_error(store: InfluxReadingStore) -> None:
    patient = f"pt-{uuid.uuid4().hex[:8]}"
    store.http.write(f"glucose,device=x,metric=glucose_isf,patient={patient} value=1.0 1000")
    with pytest.raises(StoreError, match="not a reading this hub wrote"):
        store.readings(patient, None, datetime(1970, 1, 1, tzinfo=UTC), T0)


def stored_rids(store: InfluxReadingStore, patient: str) -> list[str]:
    """Every point of the patient, all measurements, as identities (repeats included)."""
    result = store.http.query(
        f'SELECT "rid" FROM /.*/ WHERE "patient" = \'{patient}\''  # noqa: S608
        " AND time >= 0 AND time < 7258118400000000000"
    )
    return sorted(str(row[1]) for s in result for row in s.values)


def test_untrusted_readings_have_a_measurement_of_their_own(store: InfluxReadingStore) -> None:
    patient = f"pt-{uuid.uuid4().hex[:8]}"
    trusted = reading(patient, T0, 100.0, "ok")
    odd = replace(
        reading(patient, T0, 101.0, "odd"),
        time_source=TimeSource.UNTRUSTED,
        value_sent="5.6",
        unit_sent="mmol/L",
        utc_offset_min=-90,
        clock_offset_ms=12,
        time_zone="America/St_Johns",
    )
    store.write_batch([trusted, odd])
    assert series_keys(store, patient) == [
        f"glucose,device=cgm,metric=glucose_isf,patient={patient}",
        f"untrusted_time,device=cgm,metric=glucose_isf,patient={patient}",
    ]
    (series,) = store.http.query(
        f'SELECT "meta" FROM "untrusted_time" WHERE "patient" = \'{patient}\''  # noqa: S608
    )
    meta = json.loads(series.values[0][1])
    assert {k: meta[k] for k in ("ts", "vs", "us", "uo", "co", "tz")} == {
        "ts": "device-untrusted",
        "vs": "5.6",
        "us": "mmol/L",
        "uo": -90,
        "co": 12,
        "tz": "America/St_Johns",
    }


def test_a_move_interrupted_after_its_write_converges(store: InfluxReadingStore) -> None:
    wrong, right = f"pt-{uuid.uuid4().hex[:8]}", f"pt-{uuid.uuid4().hex[:8]}"
    batch = [reading(wrong, T0 + timedelta(minutes=5 * i), float(i), f"m{i}") for i in range(4)]
    store.write_batch(batch)
    # The state a crash leaves between writing the new copies and deleting the old ones.
    store.http.write("\n".join(point_line(replace(r, patient_id=right)) for r in batch[:3]))
    assert stored_rids(store, right) == ["m0", "m1", "m2"]
    assert store.reassign([(r, right) for r in batch]) == 4
    assert stored_rids(store, wrong) == []
    assert stored_rids(store, right) == ["m0", "m1", "m2", "m3"]  # one copy each
    assert store.reassign([(r, right) for r in batch]) == 0


def test_a_removal_interrupted_between_rewrite_and_delete_converges(
    store: InfluxReadingStore,
) -> None:
    patient = f"pt-{uuid.uuid4().hex[:8]}"
    key = [reading(patient, T0, 100.0 + i, f"k{i}") for i in range(3)]  # slots 0, 1, 2
    store.write_batch(key)
    # Removing k0 rewrites k2 into slot 0, then deletes slot 2. A crash in between leaves k2
    # twice at its key; the next removal over that key deletes the extra copy.
    store.http.write(point_line(key[2], slot=0))
    assert stored_rids(store, patient) == ["k1", "k2", "k2"]
    assert store.delete_readings([key[0]]) == 0  # k0 is gone already
    assert stored_rids(store, patient) == ["k1", "k2"]
    assert store.readings(patient, None, T0, T0 + timedelta(seconds=1)) == key[1:]


def test_a_removal_deletes_nothing_between_the_spans_it_read(store: InfluxReadingStore) -> None:
    patient = f"pt-{uuid.uuid4().hex[:8]}"
    first, between, last = (
        reading(patient, T0 + timedelta(days=d), float(d), f"d{d}") for d in (0, 1, 2)
    )
    store.write_batch([first, between, last])
    # Two days apart, first and last are read as two spans: a deletion must not join them.
    assert store.delete_readings([first, last]) == 2
    assert stored_rids(store, patient) == ["d1"]


def test_moving_a_month_of_cgm_takes_a_few_deletions(
    store: InfluxReadingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong, right = f"pt-{uuid.uuid4().hex[:8]}", f"pt-{uuid.uuid4().hex[:8]}"
    month = [
        reading(wrong, T0 + timedelta(minutes=5 * i), float(i % 300), f"c{i:05d}")
        for i in range(30 * 288)
    ]
    store.write_batch(month)
    statements: list[str] = []
    query = store.http.query

    def counting(statement: str, what: str = "query") -> list[ResultSeries]:
        statements.extend(s for s in statement.split("; ") if s.startswith("DELETE"))
        return query(statement, what)

    monkeypatch.setattr(store.http, "query", counting)
    assert store.reassign([(r, right) for r in month]) == len(month)
    assert len(statements) == 5  # one per week-long span read, not one per reading
    assert store.count(wrong) == 0
    moved = store.readings(right, None, T0, T0 + timedelta(days=31), limit=10_000)
    assert moved == sorted((replace(r, patient_id=right) for r in month), key=cursor_of)
