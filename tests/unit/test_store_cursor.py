"""The stores' reading order and its cursor (``hub.adapters.store.base``), and the cursor's opaque
form in the readings API (``api/routes/readings.py``): what a client sends back is untrusted."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.errors import Problem
from api.routes.readings import decode_cursor, encode_cursor
from hub.adapters.store import NO_SEQ, ReadingCursor, cursor_of
from hub.adapters.tokens import Role, mint_token
from hub.config import Settings
from hub.core.model import Reading, Source, TimeSource, epoch_ms
from tests.conftest import TEST_AUTH

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def reading(rid: str, at: datetime = T0, seq: int | None = None, **fields: Any) -> Reading:
    base = Reading(
        reading_id=rid,
        patient_id="pat-1",
        device_id="cgm-1",
        metric="glucose_isf",
        value=100.0,
        unit="mg/dL",
        effective_time=at,
        receive_time=at,
        device_time=None,
        time_source=TimeSource.DEVICE,
        source=Source.MQTT,
        seq=seq,
    )
    return replace(base, **fields)


def opaque(raw: str | bytes) -> str:
    data = raw.encode() if isinstance(raw, str) else raw
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_the_cursor_is_the_order() -> None:
    later = T0 + timedelta(milliseconds=1)
    readings = [
        reading("z", later, None),
        reading("b", T0, 7),
        reading("a", T0, 8),
        reading("y", T0, None),
        reading("x", T0, 0),
    ]
    ordered = sorted(readings, key=cursor_of)
    assert [r.reading_id for r in ordered] == ["y", "x", "b", "a", "z"]
    assert cursor_of(readings[3]) == ReadingCursor(epoch_ms(T0), NO_SEQ, "y")


@pytest.mark.parametrize(
    "cursor",
    [
        ReadingCursor(-1, 0, "x"),
        ReadingCursor(epoch_ms(datetime(2200, 1, 1, tzinfo=UTC)), 0, "x"),
        ReadingCursor(10**23, 0, "x"),
        ReadingCursor(0, -2, "x"),
        ReadingCursor(0, 2**63, "x"),
        ReadingCursor(0, 0, ""),
        ReadingCursor(0, 0, "a\nb"),
    ],
)
def test_a_position_no_reading_can_have_is_refused(cursor: ReadingCursor) -> None:
    with pytest.raises(ValueError, match="cursor"):
        cursor.checked()


@pytest.mark.parametrize(
    "one",
    [
        reading("40e7aa"),
        reading("with:colons:inside", seq=2**63 - 1),
        reading("unicodé-血糖", datetime(1970, 1, 1, tzinfo=UTC), seq=0),
        reading("last", datetime(2199, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
    ],
)
def test_the_api_cursor_round_trips(one: Reading) -> None:
    assert decode_cursor(encode_cursor(one)) == cursor_of(one)


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        opaque("1709251200000:40e7aa"),  # the (time, identity) form of the previous release
        opaque(f"{10**23}:0:x"),  # a 24-digit time
        opaque("1709251200000:-2:x"),
        opaque(f"1709251200000:{2**63}:x"),
        opaque("1709251200000:99999999999999999999:x"),
        opaque("1709251200000:0:"),
        opaque("+1709251200000:0:x"),
        opaque("١٧٠٩:0:x"),  # digits, but not ASCII ones
        opaque("1709251200000:0:a\tb"),
        opaque(b"\xff\xfe:0:x"),
    ],
)
def test_a_cursor_the_api_did_not_give_is_a_400(cursor: str) -> None:
    with pytest.raises(Problem) as caught:
        decode_cursor(cursor)
    assert (caught.value.status, caught.value.kind, caught.value.field) == (
        400,
        "invalid-cursor",
        "cursor",
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_the_readings_route_pages_ties_and_hides_untrusted_times(client: TestClient) -> None:
    store = client.app.state.hub.store  # type: ignore[attr-defined]
    tied = [reading(f"r{i}", seq=3 - i) for i in range(4)]  # identities against seq order
    odd = reading(
        "odd", T0 + timedelta(minutes=1), time_source=TimeSource.UNTRUSTED, flags=("time-unknown",)
    )
    store.write_batch([*tied, odd])
    token = mint_token(TEST_AUTH, subject="pat-1", role=Role.PATIENT, now=datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}
    url = "/v1/patients/pat-1/readings"
    window = {"from": T0.isoformat(), "to": (T0 + timedelta(hours=1)).isoformat()}

    def walk(**params: Any) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            query = {**window, "limit": 1, **params, **({"cursor": cursor} if cursor else {})}
            body = client.get(url, headers=headers, params=query).json()
            seen += [item["id"] for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return seen

    assert walk() == ["r3", "r2", "r1", "r0"]
    assert walk(include_untrusted="true") == ["r3", "r2", "r1", "r0", "odd"]
    for bad in (opaque(f"{10**23}:0:x"), opaque("1709251200000:-5:x")):
        response = client.get(url, headers=headers, params={**window, "cursor": bad})
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "cursor"
