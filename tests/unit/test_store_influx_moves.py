"""Removing chosen points from InfluxDB (pure planning, the statements it becomes, and the v2
refusal when a server cannot delete); the server-side behaviour is in the conformance suite."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from hub.adapters.store.base import StoreError
from hub.adapters.store.influx import InfluxReadingStore, _v1_deletion, _v2_deletion
from hub.adapters.store.influx_http import InfluxTarget
from hub.adapters.store.influx_moves import Deletion, SeriesKey, Snapshot, StoredPoint
from hub.adapters.store.influx_schema import point_line
from hub.core.model import Reading, Source, TimeSource, epoch_ms
from tests.unit.test_store_influx_http import _Recorder, recorder  # noqa: F401 - fixture

T0 = datetime(2024, 3, 1, tzinfo=UTC)
T0_MS = epoch_ms(T0)
SERIES: SeriesKey = ("glucose", "pt-1", "glucose_isf", "cgm")


def point(rid: str, slot: int = 0, at_ms: int = T0_MS) -> StoredPoint:
    return StoredPoint(
        slot,
        Reading(
            reading_id=rid,
            patient_id="pt-1",
            device_id="cgm",
            metric="glucose_isf",
            value=100.0,
            unit="mg/dL",
            effective_time=T0 + timedelta(milliseconds=at_ms - T0_MS),
            receive_time=T0,
            device_time=None,
            time_source=TimeSource.DEVICE,
            source=Source.MQTT,
        ),
    )


def snapshot(*points: StoredPoint, spans: list[tuple[int, int]] | None = None) -> Snapshot:
    shot = Snapshot(spans={SERIES[1:]: spans or [(T0_MS, T0_MS + 10_000)]})
    for p in points:
        shot.at(SERIES, epoch_ms(p.reading.effective_time)).append(p)
    return shot


def test_nothing_doomed_plans_nothing() -> None:
    plan, removed = snapshot(point("a"), point("b", 1)).plan({SERIES: {"zz"}})
    assert (plan.rewrites, plan.deletions, removed) == ([], [], 0)


def test_consecutive_milliseconds_where_nothing_stays_are_one_deletion() -> None:
    points = [point(f"r{i}", at_ms=T0_MS + i) for i in range(5)]
    keep = point("keep", at_ms=T0_MS + 3)  # shares ms 3: the run stops there
    plan, removed = snapshot(*points, replace(keep, slot=1)).plan(
        {SERIES: {p.reading.reading_id for p in points}}
    )
    assert removed == 5
    # At ms 3 the survivor (slot 1) moves down to slot 0, over the doomed r3; slot 1 goes.
    assert plan.rewrites == [point_line(keep.reading, 0, T0_MS + 3)]
    assert plan.deletions == [
        Deletion(SERIES, T0_MS, T0_MS + 2),
        Deletion(SERIES, T0_MS + 3, T0_MS + 3, slot=1),
        Deletion(SERIES, T0_MS + 4, T0_MS + 4),
    ]


def test_a_deletion_never_spans_two_reads() -> None:
    spans = [(T0_MS, T0_MS + 10), (T0_MS + 1000, T0_MS + 1010)]
    shot = snapshot(point("a"), point("b", at_ms=T0_MS + 1000), spans=spans)
    plan, removed = shot.plan({SERIES: {"a", "b"}})
    assert removed == 2
    assert plan.deletions == [
        Deletion(SERIES, T0_MS, T0_MS),
        Deletion(SERIES, T0_MS + 1000, T0_MS + 1000),
    ]
    with pytest.raises(ValueError, match="outside the spans"):
        shot.at(SERIES, T0_MS + 500)


def test_slot_zero_is_never_deleted_alone() -> None:
    # a (0) goes; b (1) and c (2) stay: c is rewritten into slot 0, slot 2 is deleted.
    plan, removed = snapshot(point("a"), point("b", 1), point("c", 2)).plan({SERIES: {"a"}})
    assert removed == 1
    assert plan.rewrites == [point_line(point("c").reading, 0, T0_MS)]
    assert plan.deletions == [Deletion(SERIES, T0_MS, T0_MS, slot=2)]
    # b (1) goes: c (2) moves down into slot 1, slot 2 goes.
    plan, _ = snapshot(point("a"), point("b", 1), point("c", 2)).plan({SERIES: {"b"}})
    assert plan.rewrites == [point_line(point("c").reading, 1, T0_MS)]
    assert plan.deletions == [Deletion(SERIES, T0_MS, T0_MS, slot=2)]


def test_a_repeated_identity_keeps_its_lowest_slot() -> None:
    # What a crash between a rewrite and its deletion leaves: c in slots 0 and 2.
    plan, removed = snapshot(point("c"), point("b", 1), point("c", 2)).plan({})
    assert removed == 0
    assert plan.rewrites == []
    assert plan.deletions == [Deletion(SERIES, T0_MS, T0_MS, slot=2)]


def test_deletions_as_statements() -> None:
    series: SeriesKey = ("untrusted_time", "pt 'x'\\", "weight", 'sc"ale')
    whole = Deletion(series, T0_MS, T0_MS + 5)
    one = Deletion(series, T0_MS, T0_MS, slot=3)
    ns = T0_MS * 1_000_000
    assert _v1_deletion(whole) == (
        "DELETE FROM \"untrusted_time\" WHERE \"patient\" = 'pt \\'x\\'%5C'"  # noqa: S608
        ' AND "metric" = \'weight\' AND "device" = \'sc"ale\''
        f" AND time >= {ns} AND time <= {ns + 5_000_000}"
    )
    assert _v1_deletion(one).endswith(f"AND \"slot\" = '3' AND time >= {ns} AND time <= {ns}")
    assert _v2_deletion(whole) == (
        "2024-03-01T00:00:00.000000000Z",
        "2024-03-01T00:00:00.005999999Z",  # the last ns of the last ms: nothing after it
        '_measurement="untrusted_time" AND patient="pt \'x\'%5C" AND metric="weight"'
        ' AND device="sc\\"ale"',
    )
    assert _v2_deletion(one)[2].endswith(' AND slot="3"')


def test_a_v2_server_that_cannot_delete_is_refused_before_any_write(
    recorder: tuple[str, type[_Recorder]],  # noqa: F811
) -> None:
    url, handler = recorder
    handler.reply = (501, json.dumps({"code": "not implemented", "message": "no"}).encode())
    store = InfluxReadingStore(
        InfluxTarget(url=url, api="v2", database="hub", bucket="readings", org="acme"),
        write_retries=0,
    )
    moved = replace(point("a").reading, patient_id="pt-2")
    with pytest.raises(StoreError, match="cannot delete points"):
        store.reassign([(point("a").reading, "pt-2")])
    with pytest.raises(StoreError, match="cannot delete points"):
        store.delete_readings([moved])
    store.close()
    paths = [urlsplit(path) for path, _, _ in handler.requests]
    assert [p.path for p in paths] == ["/api/v2/delete", "/api/v2/delete"]  # nothing written
    assert parse_qs(paths[0].query) == {"org": ["acme"], "bucket": ["readings"]}
    probe = json.loads(handler.requests[0][2])
    assert probe["predicate"] == '_measurement="untrusted_time" AND patient="%"'
    assert (probe["start"], probe["stop"]) == (
        "1970-01-01T00:00:00.000000000Z",
        "1970-01-01T00:00:00.000000001Z",
    )
