"""The bridge's paho client against a real Mosquitto: chunked reads give every packet whole and
in order, and one write of a batch's PUBACKs acknowledges exactly those messages."""

from __future__ import annotations

import hashlib
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.adapters.bridge_client import CHUNK_BYTES, BridgeClient
from tests.integration.conftest import Broker, wait_until

TOPIC = "bench/client"


def payload(number: int) -> bytes:
    """Sizes from 1 byte to beyond a chunk, so packets straddle chunk boundaries."""
    size = (1, 37, 300, 4_000, CHUNK_BYTES - 3, CHUNK_BYTES + 1_000, 200_000)[number % 7]
    seed = hashlib.sha256(str(number).encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


class Subscriber:
    """A BridgeClient with a persistent session and manual acknowledgement."""

    def __init__(self, broker: Broker, client_id: str) -> None:
        self.client = BridgeClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        self.received: list[tuple[int, bytes]] = []  # (mid, payload)
        self.subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_connect = lambda c, *_: c.subscribe(TOPIC, qos=1)
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 600
        properties.ReceiveMaximum = 2000
        self.client.connect(broker.host, broker.port, clean_start=False, properties=properties)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        assert self.subscribed.wait(10)

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        self.received.append((message.mid, bytes(message.payload)))

    def _loop(self) -> None:  # the bridge's loop: paho's loop() on its own thread
        while not self._stop.is_set():
            self.client.loop(timeout=0.2)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.client.disconnect()


def publish(broker: Broker, count: int) -> None:
    publisher = broker.client("publisher")
    try:
        for number in range(count):
            publisher.publish(TOPIC, payload(number), qos=1).wait_for_publish(timeout=10)
    finally:
        publisher.loop_stop()
        publisher.disconnect()


def test_chunked_reads_give_every_packet_whole_and_in_order(mosquitto: Broker) -> None:
    Subscriber(mosquitto, "reader").close()  # the session holds what comes meanwhile
    count = 700
    publish(mosquitto, count)
    subscriber = Subscriber(mosquitto, "reader")  # a backlog: many packets per chunk
    wait_until(lambda: len(subscriber.received) == count, "every message", timeout=60)
    assert [p for _, p in subscriber.received] == [payload(n) for n in range(count)]
    subscriber.client.ack_all([mid for mid, _ in subscriber.received])
    subscriber.close()


def test_one_write_acknowledges_exactly_the_batch(mosquitto: Broker) -> None:
    subscriber = Subscriber(mosquitto, "acker")
    publish(mosquitto, 300)
    wait_until(lambda: len(subscriber.received) == 300, "every message", timeout=60)
    acknowledged = subscriber.received[:200]
    subscriber.client.ack_all([mid for mid, _ in acknowledged])  # written before DISCONNECT
    subscriber.close()

    again = Subscriber(mosquitto, "acker")  # the same session: the broker resends the rest
    wait_until(lambda: len(again.received) == 100, "the redelivery", timeout=30)
    time.sleep(1.0)  # nothing more comes
    assert [p for _, p in again.received] == [payload(n) for n in range(200, 300)]
    again.client.ack_all([mid for mid, _ in again.received])
    again.close()

    last = Subscriber(mosquitto, "acker")
    time.sleep(1.5)
    assert last.received == []  # every message acknowledged once: none comes back
    last.close()
