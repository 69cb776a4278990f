"""The bridge's promises under failure, against real processes (docs/architecture.md: 1-3, 6).

* SIGKILL the bridge at random moments during a 20,000-message QoS 1 stream: every reading
  is stored exactly once (ack only after commit + persistent session + reading identity).
* The store unavailable for 30 s mid-stream: nothing lost, nothing duplicated, the number of
  unacknowledged messages stays bounded by the receive maximum, and the bridge drains after.
* Two bridges sharing the stream through an MQTT 5 shared subscription: every reading stored
  once, and both did work.
"""

from __future__ import annotations

import json
import random
import re
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.adapters.tokens import Role
from hub.core.wire import device_readings_topic
from tests.conftest import free_port
from tests.integration.conftest import Broker, HubProcesses, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEVICES = 20


def enroll_devices(hub: HubProcesses) -> None:
    with hub.http(Role.ADMIN, "ops-test") as http:
        for d in range(DEVICES):
            response = http.post(
                "/v1/enrollments",
                json={
                    "device_id": f"load-{d:03d}",
                    "patient_id": f"pat-load-{d:03d}",
                    "start": "2026-01-01T00:00:00Z",
                },
            )
            assert response.status_code == 201, response.text


class Stream(threading.Thread):
    """Publishes ``count`` distinct readings at QoS 1, at about ``rate`` messages/s."""

    def __init__(self, broker: Broker, count: int, rate: float) -> None:
        super().__init__(daemon=True)
        self.broker, self.count, self.rate = broker, count, rate
        self.count_offset = 0  # readings [offset, count) are published
        self.published = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id="load-publisher", protocol=mqtt.MQTTv5
            )
            client.max_inflight_messages_set(500)
            client.max_queued_messages_set(0)
            client.connect(self.broker.host, self.broker.port)
            client.loop_start()
            started = time.monotonic()
            infos = []
            for i in range(self.count_offset, self.count):
                device = i % DEVICES
                minute = i // DEVICES
                payload = json.dumps(
                    {
                        "metric": "glucose_isf",
                        "value": 70 + (i * 7) % 200,
                        "unit": "mg/dL",
                        "time": f"2026-11-{1 + minute // 1440:02d}T{(minute // 60) % 24:02d}:"
                        f"{minute % 60:02d}:00Z",
                        "seq": minute,
                    }
                )
                infos.append(
                    client.publish(device_readings_topic(f"load-{device:03d}"), payload, qos=1)
                )
                ahead = (i + 1) / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            for info in infos:
                info.wait_for_publish(timeout=120)
                self.published += 1
            client.loop_stop()
            client.disconnect()
        except BaseException as err:
            self.error = err


def stored(data_dir: Path) -> tuple[int, int]:
    """(rows, distinct identities) in the SQLite time-series file."""
    with sqlite3.connect(data_dir / "readings.sqlite3", timeout=30) as conn:
        rows, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT reading_id) FROM readings"
        ).fetchone()
    return int(rows), int(distinct)


def metric(url: str, name: str) -> float:
    text = httpx.get(url, timeout=5).text
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    assert match, f"{name} not in metrics"
    return float(match[1])


def test_sigkill_during_a_20000_message_stream_loses_and_duplicates_nothing(
    mosquitto: Broker, hub: HubProcesses
) -> None:
    total = 20_000
    hub.start("api")
    enroll_devices(hub)
    hub.start("bridge")
    stream = Stream(mosquitto, total, rate=1500)
    stream.start()
    rng = random.Random(20261128)
    kills = 0
    while stream.is_alive() or kills < 5:
        time.sleep(rng.uniform(0.5, 2.0))
        hub.stop("bridge", signal.SIGKILL)
        kills += 1
        hub.start("bridge")
    stream.join()
    assert stream.error is None, stream.error
    assert stream.published == total
    data_dir = Path(hub.env["HUB_DATA_DIR"])
    wait_until(lambda: stored(data_dir)[0] >= total, "every reading stored", timeout=180)
    time.sleep(1)  # anything still arriving would be a duplicate
    assert kills >= 5
    assert stored(data_dir) == (total, total)


def test_store_outage_of_30s_loses_nothing_and_keeps_memory_bounded(
    mosquitto: Broker, hub: HubProcesses
) -> None:
    total, receive_maximum = 6_000, 500
    hub.env["HUB_MQTT__RECEIVE_MAXIMUM"] = str(receive_maximum)
    hub.env["HUB_MQTT__BATCH_SIZE"] = "200"
    hub.env["HUB_STORE__SQLITE_BUSY_TIMEOUT_S"] = "1"
    metrics_url = f"http://127.0.0.1:{hub.env['HUB_MQTT__METRICS_PORT']}/metrics"
    hub.start("api")
    enroll_devices(hub)
    bridge = hub.start("bridge")
    data_dir = Path(hub.env["HUB_DATA_DIR"])
    stream = Stream(mosquitto, total, rate=400)
    stream.start()
    wait_until(lambda: stored(data_dir)[0] > 500, "the stream flowing")

    # The outage: another process holds the database's write lock for 30 s.
    blocker = sqlite3.connect(data_dir / "readings.sqlite3", timeout=30, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    before = stored(data_dir)[0]
    in_flight, rss = [], []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        in_flight.append(metric(metrics_url, "hub_messages_unacknowledged"))
        status = Path(f"/proc/{bridge.pid}/status").read_text()
        rss.append(int(re.search(r"VmRSS:\s+(\d+)", status)[1]))  # type: ignore[index]
        time.sleep(1)
    during = stored(data_dir)[0]
    blocker.execute("ROLLBACK")
    blocker.close()

    stream.join()
    assert stream.error is None, stream.error
    wait_until(lambda: stored(data_dir)[0] >= total, "the backlog drained", timeout=120)
    time.sleep(1)
    assert during == before  # nothing could be written during the outage...
    assert metric(metrics_url, "hub_store_errors_total") > 0  # ...and the bridge noticed
    assert max(in_flight) <= receive_maximum  # the broker held the rest
    assert max(rss) - min(rss) < 50_000  # kB: memory did not grow with the backlog
    assert stored(data_dir) == (total, total)


def test_two_bridges_share_the_stream(mosquitto: Broker, hub: HubProcesses) -> None:
    total = 4_000
    hub.env["HUB_MQTT__SHARE_GROUP"] = "hub"
    hub.start("api")
    enroll_devices(hub)
    hub.start("bridge")
    first_metrics = f"http://127.0.0.1:{hub.env['HUB_MQTT__METRICS_PORT']}/metrics"
    # A second bridge process: its own client id (session) and metrics port.
    hub.env["HUB_MQTT__CLIENT_ID"] += "-b"
    hub.env["HUB_MQTT__METRICS_PORT"] = str(free_port())
    second = hub.start("bridge-b")
    second_metrics = f"http://127.0.0.1:{hub.env['HUB_MQTT__METRICS_PORT']}/metrics"
    assert second.poll() is None
    stream = Stream(mosquitto, total, rate=2000)
    stream.start()
    stream.join()
    assert stream.error is None, stream.error
    data_dir = Path(hub.env["HUB_DATA_DIR"])
    wait_until(lambda: stored(data_dir)[0] >= total, "every reading stored", timeout=120)
    time.sleep(1)
    assert stored(data_dir) == (total, total)
    first = metric(first_metrics, "hub_messages_acknowledged_total")
    second_count = metric(second_metrics, "hub_messages_acknowledged_total")
    assert first > 0
    assert second_count > 0
    assert first + second_count == total


def test_bridge_reconnects_after_a_broker_restart(mosquitto: Broker, hub: HubProcesses) -> None:
    metrics_url = f"http://127.0.0.1:{hub.env['HUB_MQTT__METRICS_PORT']}/metrics"
    hub.start("api")
    enroll_devices(hub)
    hub.start("bridge")
    data_dir = Path(hub.env["HUB_DATA_DIR"])
    first = Stream(mosquitto, 500, rate=5000)
    first.run()
    wait_until(lambda: stored(data_dir)[0] == 500, "the first readings")
    mosquitto.stop()
    time.sleep(3)  # the bridge retries with backoff meanwhile
    mosquitto.start()
    wait_until(
        lambda: metric(metrics_url, "hub_mqtt_reconnects_total") >= 1, "a reconnect", timeout=60
    )
    second = Stream(mosquitto, 1000, rate=5000)
    second.count_offset = 500
    second.run()
    assert second.error is None, second.error
    wait_until(lambda: stored(data_dir)[0] == 1000, "readings after the restart", timeout=60)
