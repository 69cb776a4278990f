"""The retained gateway status (``hs/v1/gateways/{id}/status``): parsed strictly, encoded back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from hub.core.wire import (
    DeviceHealth,
    GatewayStatus,
    OutboxHealth,
    TopicKind,
    WireError,
    encode_gateway_status,
    gateway_status_topic,
    parse_gateway_status,
    parse_topic,
)

NOW = datetime.now(UTC).replace(microsecond=0)


def test_a_last_will_alone_is_a_status() -> None:
    assert parse_gateway_status(b'{"status": "offline"}') == GatewayStatus("offline")
    assert parse_gateway_status(b'{"status": "online"}').online
    topic = parse_topic(gateway_status_topic("gw-1"))
    assert (topic.kind, topic.sender_id) == (TopicKind.GATEWAY_STATUS, "gw-1")


def test_the_full_status_round_trips() -> None:
    status = GatewayStatus(
        "online",
        NOW,
        "Europe/Paris",
        "hub-ble-gateway/0.1.0",
        OutboxHealth(pending=12, bytes=4567, refused=3),
        (
            DeviceHealth(
                "ble-gm-0001",
                "C0:26:DA:00:00:02",
                "generic-ble-glucose-meter",
                connected=True,
                last_seen=NOW - timedelta(seconds=5),
                battery_percent=87,
                clock_offset_s=Decimal("-12.5"),
            ),
            DeviceHealth("ble-hr-0001"),
        ),
    )
    assert parse_gateway_status(encode_gateway_status(status)) == status


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"status": "asleep"}, "status"),
        ({"status": "online", "colour": "red"}, "colour"),
        ({"status": "online", "zone": "Mars/Olympus"}, "zone"),
        ({"status": "online", "time": "2026-11-28T10:00:00"}, "time"),
        ({"status": "online", "outbox": {"pending": 1}}, "outbox"),
        (
            {"status": "online", "outbox": {"pending": -1, "bytes": 0, "refused": 0}},
            "outbox.pending",
        ),
        ({"status": "online", "devices": [{"id": "a", "battery": 101}]}, "devices[0].battery"),
        ({"status": "online", "devices": [{"id": "a", "battery": True}]}, "devices[0].battery"),
        ({"status": "online", "devices": [{"id": "a/b"}]}, "devices[0].id"),
        ({"status": "online", "devices": [{"id": "a", "connected": 1}]}, "devices[0].connected"),
        ({"status": "online", "devices": [{"id": "a", "x": 1}]}, "devices[0].x"),
        ({"status": "online", "devices": [{}] * 65}, "devices"),
        (
            {"status": "online", "devices": [{"id": "a", "clock_offset_s": "3"}]},
            "devices[0].clock_offset_s",
        ),
    ],
)
def test_a_hostile_status_is_refused_with_its_field(document: object, field: str) -> None:
    with pytest.raises(WireError) as refused:
        parse_gateway_status(json.dumps(document).encode())
    assert refused.value.field == field


def test_not_json_and_nan_are_refused() -> None:
    for payload in (
        b"online",
        b'{"status": "online", "devices": [{"id": "a", "clock_offset_s": NaN}]}',
    ):
        with pytest.raises(WireError):
            parse_gateway_status(payload)
