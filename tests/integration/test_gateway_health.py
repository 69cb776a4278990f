"""Gateway statuses in the registry (SQLite and PostgreSQL) and as the bridge's metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from hub.adapters.gateway_health import GatewayHealthBook
from hub.adapters.metrics import BridgeMetrics
from hub.adapters.registry import Registry
from hub.core.wire import (
    DeviceHealth,
    GatewayStatus,
    OutboxHealth,
    encode_gateway_status,
)
from tests.fixtures.registry import (  # noqa: F401 - pytest fixtures
    postgres_server_fixture,
    postgres_url_fixture,
    registry_fixture,
    registry_url_fixture,
)

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


def online(battery: int, pending: int) -> GatewayStatus:
    return GatewayStatus(
        "online",
        NOW,
        "Europe/Paris",
        "hub-ble-gateway/0.1.0",
        OutboxHealth(pending, 100 * pending, 2),
        (
            DeviceHealth(
                "ble-gm-1",
                "C0:26:DA:00:00:01",
                "generic-ble-glucose-meter",
                True,
                NOW - timedelta(seconds=3),
                battery,
                Decimal("-1.5"),
            ),
        ),
    )


def test_the_state_its_since_and_its_details_survive_a_last_will(registry: Registry) -> None:
    registry.gateways.register("gw-1", owner="maker", zone="Europe/Paris", now=NOW)
    assert registry.gateways.get("gw-1").health is None  # type: ignore[union-attr]
    assert registry.gateways.record_status("gw-1", online(80, 4), received=NOW)
    later = NOW + timedelta(minutes=1)
    assert registry.gateways.record_status("gw-1", online(79, 0), received=later)
    health = registry.gateways.get("gw-1").health  # type: ignore[union-attr]
    assert health is not None
    assert (health.status, health.since) == ("online", NOW)  # the same state: since kept
    assert health.details == online(79, 0)
    gone = NOW + timedelta(minutes=5)
    assert registry.gateways.record_status("gw-1", GatewayStatus("offline"), received=gone)
    health = registry.gateways.get("gw-1").health  # type: ignore[union-attr]
    assert health is not None
    assert (health.status, health.since, health.reported) == ("offline", gone, None)
    assert health.details == online(79, 0)  # what it said last is still known
    assert not registry.gateways.record_status("gw-404", online(1, 1), received=NOW)


def test_the_bridge_counts_and_totals_without_a_series_per_gateway(registry: Registry) -> None:
    metrics = BridgeMetrics()
    book = GatewayHealthBook(registry.gateways, metrics)
    for name in ("gw-1", "gw-2"):
        registry.gateways.register(name, owner="maker", zone=None, now=NOW)
    book.record("gw-1", encode_gateway_status(online(10, 4)), NOW)
    book.record("gw-2", encode_gateway_status(online(90, 6)), NOW)
    book.record("gw-3", encode_gateway_status(online(90, 6)), NOW)  # not registered
    book.record("gw-2", b'{"status": "asleep"}', NOW)  # malformed: counted, kept out
    value = metrics.registry.get_sample_value
    assert value("hub_gateways_online") == 2
    assert value("hub_gateway_outbox_pending_frames") == 10
    assert value("hub_gateway_outbox_refused_frames") == 4
    assert value("hub_gateway_devices_low_battery") == 1
    book.record("gw-1", b'{"status": "offline"}', NOW)
    assert value("hub_gateways_online") == 1
    assert value("hub_gateway_outbox_pending_frames") == 6
    for outcome, count in (("online", 2), ("offline", 1), ("malformed", 1), ("unregistered", 1)):
        assert value("hub_gateway_status_messages_total", {"outcome": outcome}) == count
    # A registry that cannot answer: tests/integration/test_registry_outage.py.


def test_a_batch_of_statuses_is_one_transaction_read_in_order(registry: Registry) -> None:
    for name in ("gw-1", "gw-2"):
        registry.gateways.register(name, owner="maker", zone=None, now=NOW)
    commits: list[int] = []
    event.listen(registry.db.engine, "commit", lambda _conn: commits.append(1))
    first, gone, back = NOW, NOW + timedelta(minutes=1), NOW + timedelta(minutes=2)
    known = registry.gateways.record_statuses(
        [
            ("gw-1", online(80, 4), first),
            ("gw-2", online(50, 1), first),
            ("gw-404", online(1, 1), first),
            ("gw-1", GatewayStatus("offline"), gone),
            ("gw-1", online(70, 2), back),
        ]
    )
    assert known == [True, True, False, True, True]
    assert len(commits) == 1  # one transaction for the whole batch
    health = registry.gateways.get("gw-1").health  # type: ignore[union-attr]
    assert health is not None
    assert (health.status, health.since, health.details) == ("online", back, online(70, 2))
    health = registry.gateways.get("gw-2").health  # type: ignore[union-attr]
    assert health is not None and (health.status, health.since) == ("online", first)
