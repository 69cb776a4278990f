"""A provider's JSON push may carry each device's clock as the provider read it: its offset
corrects that device's readings, like a gateway's clock frame (in-process app, real SQLite).
Times are relative to the app's pinned clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.adapters.tokens import Role
from hub.config import Settings
from hub.core.provider import parse_json_batch
from hub.core.wire import WireError
from tests.conftest import api_client, bearer, enroll_device

NOW = datetime.now(UTC).replace(microsecond=0)
PARIS_WINTER = timezone(timedelta(hours=1))
# The cuff's clock reset to 2015; it has counted 40 minutes since.
RESET = datetime(2015, 1, 1, 0, 0, tzinfo=PARIS_WINTER)


def auth(role: Role, subject: str) -> dict[str, str]:
    return bearer(role, subject, NOW)


MAKER = auth(Role.DEVICE_MAKER, "acme")
PATIENT = auth(Role.PATIENT, "pat-1")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with api_client(settings, NOW) as test_client:
        enroll_device(test_client, NOW, "cuff-1", "acme-bp-wifi", "pat-1", NOW - timedelta(days=2))
        yield test_client


def systolic(value: int, at: datetime, seq: int) -> dict[str, Any]:
    return {
        "device_id": "cuff-1",
        "metric": "systolic_bp",
        "value": value,
        "unit": "mm[Hg]",
        "time": at.isoformat(),
        "seq": seq,
    }


def push(client: TestClient, body: dict[str, Any]) -> Any:
    headers = {**MAKER, "Content-Type": "application/json"}
    return client.post("/v1/ingest", headers=headers, content=json.dumps(body))


def stored(client: TestClient) -> list[dict[str, Any]]:
    query = {"from": (NOW - timedelta(days=2)).isoformat(), "to": NOW.isoformat()}
    answer = client.get("/v1/patients/pat-1/readings", headers=PATIENT, params=query)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def history() -> list[dict[str, Any]]:
    """Three readings 10 minutes apart on the reset clock, the last 10 minutes before the read."""
    return [systolic(120 + n, RESET + timedelta(minutes=10 * (n + 1)), n + 1) for n in range(3)]


def test_a_reset_clock_read_by_the_provider_corrects_every_reading_of_the_push(
    client: TestClient,
) -> None:
    read_at = NOW - timedelta(minutes=5)
    clock = {"device_id": "cuff-1", "device_time": (RESET + timedelta(minutes=40)).isoformat()}
    answer = push(
        client, {"readings": history(), "clocks": [{**clock, "read_at": read_at.isoformat()}]}
    )
    assert (answer.status_code, answer.json()["accepted"]) == (200, 3), answer.text
    items = sorted(stored(client), key=lambda r: r["seq"])
    # The offset (true time - device clock) moves the history as a whole: spacing and order kept.
    expected = [read_at - timedelta(minutes=30 - 10 * n) for n in range(3)]
    assert [datetime.fromisoformat(r["effective_time"]) for r in items] == expected
    assert [r["value"] for r in items] == [120, 121, 122]
    for item in items:
        assert item["time_source"] == "device-corrected"
        assert {"clock-skew", "time-corrected"} <= set(item["flags"])


def test_without_read_at_the_clock_is_compared_with_the_hub_receive_time(
    client: TestClient,
) -> None:
    clock = {"device_id": "cuff-1", "device_time": (RESET + timedelta(minutes=40)).isoformat()}
    answer = push(client, {"readings": history(), "clocks": [clock]})
    assert answer.status_code == 200, answer.text
    times = sorted(datetime.fromisoformat(r["effective_time"]) for r in stored(client))
    assert times == [NOW - timedelta(minutes=30 - 10 * n) for n in range(3)]


@pytest.mark.parametrize(
    ("clocks", "field"),
    [
        ([{"device_id": "cuff-1", "device_time": "2015-01-01T00:40:00"}], "clocks[0].device_time"),
        ([{"device_id": "cuff-1", "device_time": 1420069200}], "clocks[0].device_time"),
        (
            [{"device_id": "cuff-1", "device_time": "2015-01-01T00:40:00Z", "read_at": "soon"}],
            "clocks[0].read_at",
        ),
        ([{"device_id": "cuff-1", "device_time": "2015-01-01T00:40Z", "tz": 1}], "clocks[0].tz"),
        (
            [{"device_id": "cuff-1", "device_time": "2015-01-01T00:40:00Z"}] * 2,
            "clocks[1].device_id",
        ),
        ([{"device_id": "../cuff", "device_time": "2015-01-01T00:40:00Z"}], "clocks[0].device_id"),
        ({"cuff-1": "2015-01-01T00:40:00Z"}, "clocks"),
    ],
)
def test_a_malformed_clock_refuses_the_push_naming_the_field(
    client: TestClient, clocks: Any, field: str
) -> None:
    answer = push(client, {"readings": history(), "clocks": clocks})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field
    assert stored(client) == []  # a wrong clock would misdate every reading of its device


def test_the_clocks_are_parsed_beside_the_readings() -> None:
    body = {
        "readings": history(),
        "clocks": [{"device_id": "cuff-1", "device_time": "2015-01-01T00:40:00+01:00"}],
    }
    batch = parse_json_batch(json.dumps(body).encode(), max_bytes=1 << 20)
    assert len(batch.items) == 3 and batch.errors == []
    clock = batch.clocks["cuff-1"]
    assert (clock.device_time, clock.read_at) == (RESET + timedelta(minutes=40), None)
    assert clock.device_time_raw == "2015-01-01T00:40:00+01:00"
    with pytest.raises(WireError, match="optionally"):
        parse_json_batch(b'{"readings": [], "clock": []}', max_bytes=1 << 20)


def test_a_year_old_record_from_a_right_clock_keeps_its_date_and_is_not_the_latest(
    client: TestClient,
) -> None:
    """A 62 mg/dL of 13 months ago arrives after today's 110: the patient's latest glucose is
    still 110, and the hypo of last year is stored at its own time, to its then-holder."""
    enroll_device(client, NOW, "meter-9", "hub-canonical", "pat-1", NOW - timedelta(days=500))
    year_ago = NOW - timedelta(days=396)
    today = NOW - timedelta(hours=1)
    for value, at in ((110, today), (62, year_ago)):
        item = {
            "device_id": "meter-9",
            "metric": "glucose",
            "value": value,
            "unit": "mg/dL",
            "time": at.isoformat(),
        }
        assert push(client, {"readings": [item]}).json()["accepted"] == 1
    summaries = client.get("/v1/patients/pat-1/summaries", headers=PATIENT)
    assert summaries.status_code == 200, summaries.text
    latest = summaries.json()["latest"]["glucose"]
    assert (latest["value"], datetime.fromisoformat(latest["time"])) == (110, today)
    query = {"from": (year_ago - timedelta(days=1)).isoformat(), "to": NOW.isoformat()}
    listed = client.get("/v1/patients/pat-1/readings", headers=PATIENT, params=query).json()
    old = next(r for r in listed["items"] if r["value"] == 62)
    assert datetime.fromisoformat(old["effective_time"]) == year_ago
    assert old["time_source"] == "device"
