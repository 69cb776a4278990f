"""Prometheus metrics of the ingestion path (prometheus-client), one registry per process.

Names follow Prometheus conventions (``_total`` counters, base units). No label carries a
patient or device identifier: cardinality stays bounded and metrics stay non-sensitive.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class BridgeMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        collectors = self.registry
        self.received = Counter(
            "hub_messages_received", "MQTT messages received", registry=collectors
        )
        self.acknowledged = Counter(
            "hub_messages_acknowledged",
            "MQTT messages acknowledged after commit",
            registry=collectors,
        )
        self.stored = Counter("hub_readings_stored", "new readings stored", registry=collectors)
        self.duplicates = Counter(
            "hub_readings_duplicate", "readings already stored (same identity)", registry=collectors
        )
        self.dead_lettered = Counter(
            "hub_dead_letters", "messages or items dead-lettered", ["kind"], registry=collectors
        )
        self.quarantined = Counter(
            "hub_readings_quarantined",
            "readings of devices no enrollment covers",
            registry=collectors,
        )
        self.batch_size = Histogram(
            "hub_batch_size_messages",
            "messages per committed batch",
            buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000),
            registry=collectors,
        )
        self.commit_seconds = Histogram(
            "hub_commit_seconds",
            "time to commit one batch",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=collectors,
        )
        self.store_errors = Counter(
            "hub_store_errors",
            "failed commits (batch kept unacknowledged, retried)",
            registry=collectors,
        )
        self.in_flight = Gauge(
            "hub_messages_unacknowledged",
            "received messages not yet acknowledged",
            registry=collectors,
        )
        self.reconnects = Counter("hub_mqtt_reconnects", "MQTT reconnections", registry=collectors)
        self.superseded = Counter(
            "hub_messages_superseded",
            "messages of a dropped connection left to the broker's redelivery (session resumed)",
            registry=collectors,
        )
        self.callback_errors = Counter(
            "hub_callback_errors", "exceptions caught in paho callbacks", registry=collectors
        )
        self.gateway_acks = Counter(
            "hub_gateway_acks_published",
            "end-to-end ack messages published to gateways",
            registry=collectors,
        )
        self.broker_dropped = Gauge(
            "hub_broker_dropped_messages",
            "the broker's own count of dropped messages ($SYS/broker/publish/messages/dropped)",
            registry=collectors,
        )
        # Gateway health, from their retained statuses (hs/v1/gateways/+/status): totals
        # over gateways, never one series per gateway.
        self.gateway_statuses = Counter(
            "hub_gateway_status_messages",
            "gateway status messages by outcome (online, offline, malformed, unregistered)",
            ["outcome"],
            registry=collectors,
        )
        self.gateways_online = Gauge(
            "hub_gateways_online", "gateways whose latest status is online", registry=collectors
        )
        self.gateway_outbox_pending = Gauge(
            "hub_gateway_outbox_pending_frames",
            "frames waiting in online gateways' outboxes for the hub's ack, as they report",
            registry=collectors,
        )
        self.gateway_outbox_refused = Gauge(
            "hub_gateway_outbox_refused_frames",
            "frames online gateways refused because their outbox was full, as they report",
            registry=collectors,
        )
        self.gateway_devices_low_battery = Gauge(
            "hub_gateway_devices_low_battery",
            "devices of online gateways reporting a battery level under 20 %",
            registry=collectors,
        )
