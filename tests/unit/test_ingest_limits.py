"""Provider pushes at the limits: a poison number, too many items, a flood of bad items.

In-process app on real SQLite stores; what a dead letter costs is measured on the files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.adapters.tokens import Role
from hub.config import Settings
from tests.conftest import api_client, bearer, enroll_device

NOW = datetime.now(UTC).replace(microsecond=0)


def auth(role: Role, subject: str) -> dict[str, str]:
    return bearer(role, subject, NOW)


MAKER = auth(Role.DEVICE_MAKER, "acme")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with api_client(settings, NOW) as test_client:
        enroll_device(test_client, NOW, "cuff-1", "acme-bp-wifi", "pat-1", NOW - timedelta(days=2))
        yield test_client


def push(client: TestClient, body: bytes) -> Any:
    headers = {**MAKER, "Content-Type": "application/json"}
    return client.post("/v1/ingest", headers=headers, content=body)


def reading(value: str, minutes_ago: int = 5, device: str = "cuff-1") -> str:
    time = (NOW - timedelta(minutes=minutes_ago)).isoformat()
    return (
        f'{{"device_id": "{device}", "metric": "systolic_bp", "value": {value},'
        f' "unit": "mm[Hg]", "time": "{time}"}}'
    )


def test_a_number_of_4400_digits_is_a_clear_refusal_not_a_500(client: TestClient) -> None:
    poison = push(client, f'{{"readings": [{reading("1" + "0" * 4400)}]}}'.encode())
    assert poison.status_code == 422
    problem = poison.json()
    assert problem["type"] == "/problems/invalid-document"
    assert "more than 30 digits" in problem["detail"]
    assert problem["errors"][0]["field"] == "$.readings.0.value"
    good = push(client, f'{{"readings": [{reading("121")}]}}'.encode())
    assert (good.status_code, good.json()["accepted"]) == (200, 1)


def test_more_than_5000_items_is_413_as_documented(client: TestClient) -> None:
    items = ",".join(reading("120", minutes_ago=1 + i % 60) for i in range(5001))
    answer = push(client, f'{{"readings": [{items}]}}'.encode())
    assert answer.status_code == 413
    assert answer.json()["type"] == "/problems/payload-too-large"


def registry_bytes(settings: Settings) -> int:
    url = settings.registry.url
    assert url is not None
    path = Path(url.removeprefix("sqlite:///"))
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def test_a_5000_item_bad_request_costs_kilobytes_not_gigabytes(
    client: TestClient, settings: Settings
) -> None:
    # 5,000 implausible values for somebody else's device: each item is refused and kept as a
    # dead letter of *that item* — never a copy of the whole 0.8 MB request per item.
    items = ",".join(reading("900", minutes_ago=1 + i, device="cuff-1") for i in range(5000))
    body = f'{{"readings": [{items}]}}'.encode()
    before = registry_bytes(settings)
    answer = push(client, body)
    assert answer.status_code == 200
    assert len(answer.json()["rejected"]) == 5000
    grown = registry_bytes(settings) - before
    dead = client.app.state.hub.registry.rejects.dead_letters(limit=5000)  # type: ignore[attr-defined]
    assert len(dead) == 5000
    assert max(len(d.payload) for d in dead) < 200
    assert json.loads(dead[0].payload)["device_id"] == "cuff-1"
    # ~5,000 rows of ~200 bytes, indexes and WAL included: a few MB at most, not 2.4 GB.
    assert grown < 8 * len(body), f"{grown} bytes written for a {len(body)}-byte request"
