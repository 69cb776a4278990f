"""The bridge's callbacks, acknowledgements and watchdog, without a network (a real ingestor
on SQLite files, or ingestion whose futures the test completes, in the order it chooses)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from hub.adapters.bridge_client import BridgeClient
from hub.adapters.ingest_workers import InlineIngest
from hub.adapters.mqtt_bridge import BROKER_DROPPED_TOPIC, MqttBridge
from hub.config import Settings
from hub.core.batch import BatchReport, Incoming, IngestUnavailable
from hub.services.ingest import open_ingestor


class ExplodingMessage(mqtt.MQTTMessage):
    """A message whose topic cannot be read (as a corrupt packet might be)."""

    @property
    def topic(self) -> str:
        raise RuntimeError("boom")


@pytest.fixture
def bridge(settings: Settings) -> MqttBridge:
    return MqttBridge(settings.mqtt, InlineIngest(open_ingestor(settings)))


class HeldIngest:
    """Ingestion whose batches finish when the test says (a BatchSubmitter)."""

    capacity = 2

    def __init__(self) -> None:
        self.batches: list[list[Incoming]] = []
        self.futures: list[Future[BatchReport]] = []

    def submit(self, messages: Sequence[Incoming]) -> Future[BatchReport]:
        future: Future[BatchReport] = Future()
        self.batches.append(list(messages))
        self.futures.append(future)
        return future

    def close(self, *, wait: bool = True) -> None:
        pass


class RecordingClient(BridgeClient):
    def __init__(self) -> None:
        super().__init__(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
        self.acked: list[int] = []

    def ack_all(self, mids: Sequence[int]) -> MQTTErrorCode:
        self.acked.extend(mids)
        return MQTTErrorCode.MQTT_ERR_SUCCESS


@pytest.fixture
def held(settings: Settings) -> Iterator[tuple[MqttBridge, HeldIngest, RecordingClient]]:
    settings.mqtt.batch_size = 1  # one message, one batch
    ingest = HeldIngest()
    bridge = MqttBridge(settings.mqtt, ingest)
    client = RecordingClient()
    bridge._client = client
    bridge._batcher.start()
    bridge._acker.start()
    yield bridge, ingest, client
    bridge.request_stop()
    for future in ingest.futures:
        if not future.done():
            future.set_result(BatchReport())
    bridge._batcher.join(timeout=5)
    bridge._acker.join(timeout=5)


def receive(bridge: MqttBridge, *mids: int) -> None:
    for mid in mids:
        message = mqtt.MQTTMessage(mid=mid, topic=f"hs/v1/devices/d{mid}/readings".encode())
        message.payload = b"{}"
        message.qos = 1
        bridge._on_message(bridge._client, None, message)


def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


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
    assert bridge.stalled(now=0.0, limit=60) == "thread hub-batcher died"  # never started
    bridge._batcher.start()
    bridge._acker.start()
    bridge._network_stop.set()
    bridge._network.start()
    bridge._network.join(timeout=5)
    assert bridge.stalled(now=0.0, limit=60) == "thread hub-mqtt-network died"
    bridge.request_stop()
    bridge._batcher.join(timeout=5)
    bridge._acker.join(timeout=5)


def test_pubacks_leave_in_arrival_order_whichever_batch_commits_first(
    held: tuple[MqttBridge, HeldIngest, RecordingClient],
) -> None:
    bridge, ingest, client = held
    receive(bridge, 11, 12, 13)
    until(lambda: len(ingest.futures) == 3)  # capacity 2, plus one waiting: all three out
    ingest.futures[2].set_result(BatchReport())
    ingest.futures[1].set_result(BatchReport())
    time.sleep(0.2)
    assert client.acked == []  # committed, but the first batch is not: nothing leaves
    ingest.futures[0].set_result(BatchReport())
    until(lambda: len(client.acked) == 3)
    assert client.acked == [11, 12, 13]


def test_a_batch_the_store_could_not_take_is_submitted_again_whole_before_its_ack(
    held: tuple[MqttBridge, HeldIngest, RecordingClient],
) -> None:
    bridge, ingest, client = held
    receive(bridge, 21)
    until(lambda: len(ingest.futures) == 1)
    ingest.futures[0].set_exception(IngestUnavailable("store down"))
    until(lambda: len(ingest.futures) == 2, timeout=10)  # after the backoff
    assert client.acked == []
    assert ingest.batches[1] == ingest.batches[0]
    ingest.futures[1].set_result(BatchReport())
    until(lambda: client.acked == [21])
    assert value(bridge, "hub_store_errors_total") == 1


def test_a_dead_worker_process_stops_the_bridge_without_acknowledging(
    held: tuple[MqttBridge, HeldIngest, RecordingClient],
) -> None:
    bridge, ingest, client = held
    receive(bridge, 31)
    until(lambda: len(ingest.futures) == 1)
    ingest.futures[0].set_exception(BrokenProcessPool("a worker died"))
    until(lambda: bridge._fatal is not None)
    problem = bridge.stalled(time.monotonic(), 60)  # before any dead thread: the cause
    assert problem is not None and "ingest worker process died" in problem
    assert client.acked == []


def reconnect(bridge: MqttBridge, *, session_present: bool) -> None:
    success = ReasonCode(PacketTypes.CONNACK, "Success")
    flags = mqtt.ConnectFlags(session_present=session_present)
    bridge._on_connect(bridge._client, None, flags, success, None)


def test_a_resumed_session_leaves_the_old_connections_messages_to_the_brokers_redelivery(
    held: tuple[MqttBridge, HeldIngest, RecordingClient],
) -> None:
    bridge, ingest, client = held
    reconnect(bridge, session_present=False)  # generation 1
    receive(bridge, 41, 42, 43)
    until(lambda: len(ingest.futures) == 3)  # every slot taken: the next two wait
    receive(bridge, 44, 45)
    reconnect(bridge, session_present=True)  # generation 2: the broker resends 41..45
    for future in ingest.futures:
        future.set_result(BatchReport())
    until(lambda: value(bridge, "hub_messages_superseded_total") == 2)
    until(lambda: value(bridge, "hub_messages_unacknowledged") == 0)
    assert len(ingest.futures) == 3  # 44 and 45 were not ingested from the old connection
    assert client.acked == []  # their packet ids belonged to the dropped connection
    receive(bridge, 1, 2, 3, 4, 5)  # the redelivery, with this connection's packet ids
    until(lambda: len(ingest.futures) == 6)
    for future in ingest.futures[3:]:
        future.set_result(BatchReport())
    until(lambda: len(ingest.futures) == 8)
    for future in ingest.futures[6:]:
        future.set_result(BatchReport())
    until(lambda: client.acked == [1, 2, 3, 4, 5])
    assert value(bridge, "hub_messages_unacknowledged") == 0


def test_a_new_session_still_ingests_what_the_old_connection_delivered(
    held: tuple[MqttBridge, HeldIngest, RecordingClient],
) -> None:
    bridge, ingest, client = held
    reconnect(bridge, session_present=False)
    receive(bridge, 51, 52, 53)
    until(lambda: len(ingest.futures) == 3)
    receive(bridge, 54)
    reconnect(bridge, session_present=False)  # the broker lost the session: nothing resent
    for future in ingest.futures:
        future.set_result(BatchReport())
    until(lambda: len(ingest.futures) == 4)  # 54 is still ingested, only once
    ingest.futures[3].set_result(BatchReport())
    until(lambda: value(bridge, "hub_messages_unacknowledged") == 0)
    assert client.acked == []  # no packet id of the old connection is acknowledged on the new
    assert value(bridge, "hub_messages_superseded_total") == 0
