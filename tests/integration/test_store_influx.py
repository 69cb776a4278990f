"""InfluxDB backend specifics, on a real server: the stored layout, erasure down to the series
index, configuration through the settings, foreign points."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.adapters.store import StoreError, StoreUnavailable, open_store
from hub.adapters.store.influx import InfluxReadingStore
from hub.adapters.store.influx_http import InfluxTarget
from hub.config import Settings
from hub.core.model import Reading, Source, TimeSource
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
