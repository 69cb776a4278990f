"""The bridge's callbacks and watchdog, without a network (real ingestor on SQLite files)."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest

from hub.adapters.mqtt_bridge import BROKER_DROPPED_TOPIC, MqttBridge
from hub.config import Settings
from hub.services.ingest import open_ingestor


class ExplodingMessage(mqtt.MQTTMessage):
    """A message whose topic cannot be read (as a corrupt packet might be)."""

    @property
    def topic(self) -> str:
        raise RuntimeError("boom")


@pytest.fixture
def bridge(settings: Settings) -> MqttBridge:
    return MqttBridge(settings.mqtt, open_ingestor(settings))


def value(bridge: MqttBridge, name: str) -> float:
    sample = bridge.metrics.registry.get_sample_value(name)
    assert sample is not None
    return sample


def test_a_callback_exception_is_caught_and_counted(bridge: MqttBridge) -> None:
    message = ExplodingMessage(topic=b"hs/v1/devices/d/readings")
    bridge._on_message(bridge._client, None, message)  # must not raise into paho
    assert value(bridge, "hub_callback_errors_total") == 1
    good = mqtt.MQTTMessage(mid=7, topic=b"hs/v1/devices/d/readings")
    good.payload = b"{}"
    bridge._on_message(bridge._client, None, good)
    assert value(bridge, "hub_messages_received_total") == 1
    assert value(bridge, "hub_messages_unacknowledged") == 1


def test_broker_drop_counter_is_exposed(bridge: MqttBridge) -> None:
    for payload in (b"0", b"not a number", b"12"):
        message = mqtt.MQTTMessage(topic=BROKER_DROPPED_TOPIC.encode())
        message.payload = payload
        bridge._on_message(bridge._client, None, message)
    assert value(bridge, "hub_broker_dropped_messages") == 12
    assert value(bridge, "hub_messages_received_total") == 0  # not a device message


def test_watchdog_reports_dead_threads_and_stalls(bridge: MqttBridge) -> None:
    assert bridge.stalled(now=0.0, limit=60) == "batch worker died"  # never started
    bridge._worker.start()
    bridge._network_stop.set()
    bridge._network.start()
    bridge._network.join(timeout=5)
    assert bridge.stalled(now=0.0, limit=60) == "MQTT network thread died"
    bridge.request_stop()
    bridge._worker.join(timeout=5)
