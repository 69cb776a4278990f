"""Many simulated MQTT links served by one network thread, against a real Mosquitto.

* 600 links from one process: all connect, each publishes at QoS 1 and gets its PUBACK
  (``Delivered``), and the process has as many threads with 600 links as with 10;
* the broker restarted: every link comes back on its own, with a new generation;
* a home's internet down (``set_network(False)``): the broker publishes the last will; back
  up, the link reconnects and says ``online`` again;
* a clean stop leaves ``offline`` retained; a power cut (``abort``) ends the link at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
import pytest

from gateway_firmware_sim.mqtt_link import (
    Connected,
    Delivered,
    Disconnected,
    LinkEvent,
    LinkLoop,
    MqttLink,
    Presence,
)
from hub.config import MqttSettings
from hub.core.backoff import Backoff
from tests.integration.conftest import Broker, wait_until

pytestmark = pytest.mark.integration

FAST = Backoff(base=0.05, cap=0.5, jitter=0.3)


@dataclass
class Events:
    """Every link event, collected from the loop thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: list[LinkEvent] = field(default_factory=list)

    def put(self, event: LinkEvent) -> None:
        with self.lock:
            self.seen.append(event)

    def of(self, kind: type[LinkEvent]) -> list[LinkEvent]:
        with self.lock:
            return [event for event in self.seen if isinstance(event, kind)]

    def generations(self) -> dict[str, int]:
        """The latest connected generation of each link."""
        latest: dict[str, int] = {}
        for event in self.of(Connected):
            assert isinstance(event, Connected)
            latest[event.link] = max(latest.get(event.link, 0), event.generation)
        return latest


@pytest.fixture
def loop() -> Iterator[LinkLoop]:
    link_loop = LinkLoop(name="mqtt-links-test")
    yield link_loop
    link_loop.close()


def make_links(
    broker: Broker, loop: LinkLoop, events: Events, count: int, prefix: str = "gw"
) -> list[MqttLink]:
    settings = MqttSettings(host=broker.host, port=broker.port)
    return [
        MqttLink(
            f"{prefix}-{index}",
            settings,
            f"{prefix}-{index}",
            events.put,
            presence=Presence(f"test/{prefix}-{index}/status", b"online", b"offline"),
            subscriptions=[f"test/{prefix}-{index}/acks"],
            persistent_session=True,
            backoff=FAST,
            loop=loop,
        )
        for index in range(count)
    ]


def stop_all(links: list[MqttLink]) -> None:
    for link in links:
        link.request_stop()
    for link in links:
        link.stop()


class Retained:
    """The latest payload on each topic of a filter, as a subscriber sees it."""

    def __init__(self, broker: Broker, topic_filter: str) -> None:
        self.lock = threading.Lock()
        self.latest: dict[str, bytes] = {}
        self.client = broker.client(f"watch-{topic_filter.replace('/', '-').strip('#+-')}")
        self.client.on_message = self._on_message
        self.client.subscribe(topic_filter, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.latest[message.topic] = bytes(message.payload)

    def get(self, topic: str) -> bytes | None:
        with self.lock:
            return self.latest.get(topic)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_600_links_share_one_thread_and_each_gets_its_puback(
    mosquitto: Broker, loop: LinkLoop
) -> None:
    events = Events()
    few = make_links(mosquitto, loop, events, 10, prefix="few")
    for link in few:
        link.start()
    wait_until(lambda: len(events.of(Connected)) == 10, "10 links connected")
    threads_with_few = threading.active_count()

    many = make_links(mosquitto, loop, events, 600, prefix="many")
    for link in many:
        link.start()
    wait_until(lambda: len(events.of(Connected)) == 610, "610 links connected", timeout=120)
    assert loop.links == 610
    # The structure, not a timing: the links share the loop's one thread.
    assert threading.active_count() == threads_with_few
    assert [t.name for t in threading.enumerate()].count("mqtt-links-test") == 1

    mids = {link.name: link.publish(f"test/{link.name}/frames", b"{}") for link in many}
    assert all(mid is not None for mid in mids.values())
    wait_until(
        lambda: (
            {(e.link, e.mid) for e in events.of(Delivered) if isinstance(e, Delivered)}
            >= set(mids.items())
        ),
        "every publish acknowledged",
        timeout=120,
    )
    stop_all(few + many)
    assert all(link.finished for link in few + many)
    assert loop.links == 0
    stopped = [e for e in events.of(Disconnected) if isinstance(e, Disconnected)]
    assert len(stopped) == 610
    assert {e.reason for e in stopped} == {"stopped"}


def test_after_a_broker_restart_every_link_reconnects_with_a_new_generation(
    mosquitto: Broker, loop: LinkLoop
) -> None:
    events = Events()
    links = make_links(mosquitto, loop, events, 200)
    for link in links:
        link.start()
    wait_until(lambda: len(events.generations()) == 200, "200 links connected", timeout=60)
    assert set(events.generations().values()) == {1}

    mosquitto.stop()
    names = {link.name for link in links}
    wait_until(
        lambda: {e.link for e in events.of(Disconnected)} == names,
        "every link sees the broker gone",
    )
    assert not any(link.connected for link in links)
    mosquitto.start()
    wait_until(
        lambda: set(events.generations().values()) == {2},
        "every link reconnected",
        timeout=120,
    )
    assert all(link.connected for link in links)
    mids = {link.name: link.publish(f"test/{link.name}/frames", b"{}") for link in links}
    wait_until(
        lambda: (
            {(e.link, e.mid) for e in events.of(Delivered) if isinstance(e, Delivered)}
            >= set(mids.items())
        ),
        "every publish after the restart acknowledged",
        timeout=60,
    )
    stop_all(links)


def test_network_down_makes_the_broker_publish_the_will_and_up_reconnects(
    mosquitto: Broker, loop: LinkLoop
) -> None:
    events = Events()
    watcher = Retained(mosquitto, "test/+/status")
    try:
        links = make_links(mosquitto, loop, events, 20, prefix="home")
        for link in links:
            link.start()
        status = [f"test/{link.name}/status" for link in links]
        wait_until(lambda: all(watcher.get(t) == b"online" for t in status), "all online")

        down = links[:5]
        for link in down:
            link.set_network(False)
        wait_until(
            lambda: all(watcher.get(t) == b"offline" for t in status[:5]),
            "the broker published the wills",
        )
        assert all(watcher.get(t) == b"online" for t in status[5:])
        assert not any(link.connected for link in down)
        wait_until(lambda: len(events.of(Disconnected)) == 5, "five links ended")
        lost = [e for e in events.of(Disconnected) if isinstance(e, Disconnected)]
        assert {(e.link, e.reason) for e in lost} == {(link.name, "network down") for link in down}

        for link in down:
            link.set_network(True)
        wait_until(lambda: all(watcher.get(t) == b"online" for t in status), "back online")
        assert {name: g for name, g in events.generations().items() if g > 1} == {
            link.name: 2 for link in down
        }

        links[0].abort()
        assert links[0].finished
        wait_until(lambda: watcher.get(status[0]) == b"offline", "the power cut's will")
        last = events.of(Disconnected)[-1]
        assert isinstance(last, Disconnected) and last.reason == "power lost"

        stop_all(links[1:])
        wait_until(
            lambda: all(watcher.get(t) == b"offline" for t in status), "offline after a stop"
        )
    finally:
        watcher.close()
