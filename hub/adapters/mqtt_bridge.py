"""The MQTT bridge: paho-mqtt wrapped once; messages acknowledged only after the commit.

Threads and ownership:

* the network thread owns the connection: connect, then ``Client.loop()`` until the connection
  drops, then reconnect after a capped exponential backoff with jitter (``hub.core.backoff``)
  — reconnection is a plain loop around one reusable paho client. paho runs the callbacks on
  this thread: ``_on_message`` only enqueues — a callback never does IO and never raises into
  paho (an exception is logged and counted).
* the batcher thread takes messages from the queue, closes a batch on size or time and
  submits it to ingestion (:class:`hub.core.batch.BatchSubmitter`: worker processes, or a
  thread of this process — ``hub.adapters.ingest_workers``), keeping up to one batch more
  than ingestion works on in flight, so that receiving, decoding and committing overlap;
* the acknowledger thread takes the submitted batches **in submission order**, waits for each
  one's durable commit, and only then sends its PUBACKs (paho manual ack) — so PUBACKs leave
  in the order the PUBLISH packets arrived (MQTT 5 §4.6), whichever worker finished first.
* If a commit fails (:class:`~hub.core.batch.IngestUnavailable`), nothing of that batch is
  acknowledged: the acknowledger submits the same batch again after a capped exponential
  backoff; meanwhile the broker stops sending once ``receive_maximum`` unacknowledged messages
  are in flight (MQTT 5 §3.3.4 flow control), so memory stays bounded.
* Gateways' retained statuses (``hs/v1/gateways/+/status``, never shared) travel in the same
  batches: the acknowledger records them in the registry (``hub.adapters.gateway_health``)
  before their PUBACK.

A PUBACK is only sent on the connection that received the message: after a reconnect the
broker redelivers what was not acknowledged (persistent session: ``clean_start`` off, session
expiry set), and reading identity makes the redelivery a duplicate the store ignores.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import queue
import random
import threading
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from hub.adapters.bridge_client import BridgeClient
from hub.adapters.gateway_health import GatewayHealthBook, StatusStore
from hub.adapters.metrics import BridgeMetrics
from hub.config import MqttSettings
from hub.core.backoff import Backoff
from hub.core.batch import BatchReport, BatchSubmitter, Incoming, IngestUnavailable
from hub.core.wire import (
    STATUS_SUBSCRIPTIONS,
    SUBSCRIPTIONS,
    TopicKind,
    WireError,
    bridge_status_topic,
    gateway_acks_topic,
    parse_topic,
    shared,
)

log = logging.getLogger(__name__)

BROKER_DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
# Reconnection and commit retries: 0.5 s doubling to 30 s, +/- 20 %.
_BACKOFF = Backoff(base=0.5, cap=30.0, jitter=0.2)


def _status_sender(topic: str) -> str | None:
    """The gateway whose status ``topic`` is, or None for any other topic."""
    try:
        parsed = parse_topic(topic)
    except WireError:
        return None
    return parsed.sender_id if parsed.kind is TopicKind.GATEWAY_STATUS else None


def _status(state: str) -> str:
    return json.dumps({"status": state})


def wait_online(host: str, port: int, client_id: str, timeout: float) -> bool:
    """Whether the bridge ``client_id`` announces itself online within ``timeout`` seconds."""
    online = threading.Event()

    def on_message(_client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        with contextlib.suppress(ValueError):
            if json.loads(msg.payload).get("status") == "online":
                online.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.on_connect = lambda connected, *_: connected.subscribe(
        bridge_status_topic(client_id), qos=1
    )
    try:
        client.connect(host, port)
    except OSError:
        return False
    client.loop_start()
    try:
        return online.wait(timeout)
    finally:
        client.loop_stop()
        client.disconnect()


class BridgeStalled(RuntimeError):
    """The watchdog found the bridge stuck; the process should exit and be restarted."""


@dataclass(frozen=True, slots=True)
class _Received:
    message: Incoming
    generation: int
    mid: int
    qos: int


@dataclass(slots=True)
class _Submitted:
    """A batch on its way to ingestion: its gateway statuses and the other messages."""

    batch: list[_Received]
    statuses: list[tuple[str, Incoming]]  # (gateway id, message)
    messages: list[Incoming]
    future: Future[BatchReport] | None  # None: nothing but statuses
    submitted: float = field(default_factory=time.monotonic)


class MqttBridge:
    def __init__(
        self,
        settings: MqttSettings,
        ingest: BatchSubmitter,
        metrics: BridgeMetrics | None = None,
        *,
        gateway_statuses: StatusStore | None = None,
    ) -> None:
        self.settings = settings
        self.ingest = ingest
        # From the network thread to the batcher: a deque (append and popleft are atomic) and
        # an event set only when the batcher may be waiting. A queue.Queue took a lock per
        # message that the batcher's timed get held: 44 % of on_message in a py-spy profile.
        self._inbox: collections.deque[_Received] = collections.deque()
        self._arrived = threading.Event()
        self._stop = threading.Event()
        self._generation = 0
        # Messages of a generation below this one are the broker's to redeliver: the session
        # was resumed, so it still holds every message this bridge has not acknowledged.
        self._redelivered_below = 0
        self._connected = threading.Event()
        self.totals = BatchReport()
        self.metrics = metrics or BridgeMetrics()
        # Gateway statuses, recorded in the registry (None: not read).
        self._statuses = (
            None if gateway_statuses is None else GatewayHealthBook(gateway_statuses, self.metrics)
        )
        self.broker_dropped: int | None = None
        self._heartbeat = time.monotonic()  # the batcher's: it loops at least every 0.5 s
        self._ack_heartbeat = time.monotonic()  # the acknowledger's: idle, or a batch done
        self._fatal: str | None = None  # why ingestion cannot go on (a worker process died)
        # Batches submitted, not yet acknowledged, in submission order; the slots bound them.
        self._submitted: queue.Queue[_Submitted] = queue.Queue()
        self._slots = threading.Semaphore(ingest.capacity + 1)
        self._connections = 0
        self._status_topic = bridge_status_topic(settings.client_id)
        self._client = self._make_client()
        self._batcher = threading.Thread(target=self._batch_loop, name="hub-batcher", daemon=True)
        self._acker = threading.Thread(target=self._ack_loop, name="hub-acker", daemon=True)
        self._network = threading.Thread(
            target=self._run_network, name="hub-mqtt-network", daemon=True
        )
        self._network_stop = threading.Event()
        self._attempt = 0

    # --- paho adapter -----------------------------------------------------------------------

    def _make_client(self) -> BridgeClient:
        settings = self.settings
        v5 = settings.protocol == "5"
        client = BridgeClient(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        if settings.username:
            client.username_pw_set(settings.username, settings.password)
        # Presence: retained "online" once subscribed, "offline" as last will or on stop.
        client.will_set(self._status_topic, _status("offline"), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _props: object,
    ) -> None:
        try:
            if reason.is_failure:
                log.error("MQTT connection refused: %s", reason)
                return
            self._generation += 1
            if flags.session_present:
                # MQTT 5 §4.4: on a resumed session the broker resends every unacknowledged
                # QoS 1 PUBLISH, so what the inbox still holds of earlier connections would
                # be ingested twice and never acknowledged (its packet ids are gone). Held
                # on when the session is new: ingesting is then what keeps them.
                self._redelivered_below = self._generation
            self._attempt = 0
            self._connections += 1
            if self._connections > 1:
                self.metrics.reconnects.inc()
            topics = [
                (shared(topic, self.settings.share_group), SubscribeOptions(qos=1))
                for topic in SUBSCRIPTIONS
            ]
            if self._statuses is not None:  # every bridge reads every retained status
                topics += [(topic, SubscribeOptions(qos=1)) for topic in STATUS_SUBSCRIPTIONS]
            if self.settings.protocol == "5":
                client.subscribe(topics)
            else:
                client.subscribe([(topic, 1) for topic, _ in topics])
            # The broker's drop counter: Mosquitto drops silently when its queues overflow.
            client.subscribe(BROKER_DROPPED_TOPIC, qos=0)
            log.info(
                "MQTT connected (generation %d), subscribing to %s",
                self._generation,
                ", ".join(topic for topic, _ in topics),
            )
        except Exception:  # never let an exception into paho's loop
            self.metrics.callback_errors.inc()
            log.exception("error in on_connect")

    def _on_subscribe(
        self,
        client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reasons: list[ReasonCode],
        _props: object,
    ) -> None:
        try:
            failed = [reason for reason in reasons if reason.is_failure]
            if failed:
                log.error("subscription refused by the broker: %s", failed)
                return
            client.publish(self._status_topic, _status("online"), qos=1, retain=True)
            self._connected.set()
        except Exception:
            self.metrics.callback_errors.inc()
            log.exception("error in on_subscribe")

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: object,
        reason: ReasonCode,
        _props: object,
    ) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("MQTT disconnected: %s", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            if msg.topic == BROKER_DROPPED_TOPIC:
                self._on_broker_dropped(msg.payload)
                return
            self.metrics.received.inc()
            self.metrics.in_flight.inc()
            incoming = Incoming(
                topic=msg.topic, payload=bytes(msg.payload), receive_time=datetime.now(UTC)
            )
            self._inbox.append(_Received(incoming, self._generation, msg.mid, msg.qos))
            if not self._arrived.is_set():
                self._arrived.set()
        except Exception:
            self.metrics.callback_errors.inc()
            log.exception("error in on_message")

    def _on_broker_dropped(self, payload: bytes | bytearray) -> None:
        try:
            dropped = int(payload)
        except ValueError:
            return
        if self.broker_dropped is not None and dropped > self.broker_dropped:
            log.error(
                "the MQTT broker dropped %d messages: size its queues "
                "(deploy/mosquitto/mosquitto.conf)",
                dropped - self.broker_dropped,
            )
        self.broker_dropped = dropped
        self.metrics.broker_dropped.set(dropped)

    # --- batching -------------------------------------------------------------------------

    def _next_batch(self) -> list[_Received]:
        if not self._wait_for_messages(0.5):
            return []
        batch: list[_Received] = []
        deadline = time.monotonic() + self.settings.batch_window_ms / 1000
        while len(batch) < self.settings.batch_size:
            try:
                received = self._inbox.popleft()
            except IndexError:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._wait_for_messages(remaining):
                    break
                continue
            if received.generation < self._redelivered_below:
                self.metrics.in_flight.dec()
                self.metrics.superseded.inc()
                continue
            batch.append(received)
        return batch

    def _wait_for_messages(self, timeout: float) -> bool:
        """Whether a message is waiting, within ``timeout``. Cleared, then the inbox looked at
        again: a message appended in between sets the event, so no wake-up is lost."""
        deadline = time.monotonic() + timeout
        while True:
            if self._inbox:
                return True
            self._arrived.clear()
            if self._inbox:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._arrived.wait(remaining):
                return bool(self._inbox)

    def _submit(self, batch: list[_Received]) -> _Submitted:
        """Gateway statuses aside (the acknowledger records them), the rest to ingestion."""
        statuses: list[tuple[str, Incoming]] = []
        messages: list[Incoming] = []
        for received in batch:
            message = received.message
            gateway_id = _status_sender(message.topic) if self._statuses is not None else None
            if gateway_id is None:
                messages.append(message)
            else:
                statuses.append((gateway_id, message))
        future = self.ingest.submit(messages) if messages else None
        return _Submitted(batch, statuses, messages, future)

    def _batch_loop(self) -> None:
        while not self._stop.is_set():
            self._heartbeat = time.monotonic()
            if not self._slots.acquire(timeout=0.5):
                continue  # ingestion is busy: wait for a batch to be acknowledged
            batch = self._next_batch()
            if not batch:
                self._slots.release()
                continue
            try:
                self._submitted.put(self._submit(batch))
            except Exception as err:  # the pool is shut down or broken: nothing to retry on
                self._slots.release()
                self._fail(f"cannot submit a batch to ingestion: {err!r}")
                return

    def _fail(self, why: str) -> None:
        """Ingestion cannot go on in this process: the watchdog makes the bridge exit."""
        if self._fatal is None:
            self._fatal = why
            log.error("%s; the bridge stops without acknowledging what it holds", why)

    def _ack_loop(self) -> None:
        while True:
            try:
                submitted = self._submitted.get(timeout=0.5)
            except queue.Empty:
                self._ack_heartbeat = time.monotonic()  # idle is not stuck
                if self._stop.is_set() and not self._batcher.is_alive():
                    return
                continue
            report = self._commit(submitted)
            if report is None:
                return  # stopping or failed: unacknowledged messages will be redelivered
            self._acknowledge(submitted.batch, report)
            self._add(report)
            self._slots.release()
            self._ack_heartbeat = time.monotonic()

    def _commit(self, submitted: _Submitted) -> BatchReport | None:
        """The report of ``submitted`` once durable, retrying what was unavailable; None if
        the bridge stops first or ingestion broke."""
        attempt = 0
        while self._fatal is None:
            try:
                with self.metrics.commit_seconds.time():
                    return self._commit_once(submitted)
            except IngestUnavailable as err:
                self.metrics.store_errors.inc()
                delay = _BACKOFF.delay(attempt, random.random())
                log.warning(
                    "commit of %d messages failed (%s); retrying in %.1fs, not acknowledging",
                    len(submitted.batch),
                    err,
                    delay,
                )
                # Waiting for a store that is down is progress, not a stall.
                self._ack_heartbeat = time.monotonic()
            except BrokenProcessPool as err:
                self._fail(f"an ingest worker process died ({err})")
                return None
            except Exception:
                # The ingestor dead-letters what an input makes fail; an error here is the
                # bridge's own. Keep the messages unacknowledged and retry, but let the
                # watchdog see no progress: if it repeats, the process exits and restarts.
                self.metrics.callback_errors.inc()
                delay = _BACKOFF.delay(attempt, random.random())
                log.exception("unexpected error committing a batch; retrying in %.1fs", delay)
            attempt += 1
            if self._stop.wait(delay):
                return None
            if submitted.messages:  # the same batch again, whole
                submitted.future = self.ingest.submit(submitted.messages)
        return None

    def _commit_once(self, submitted: _Submitted) -> BatchReport:
        """Gateway statuses to the registry, then the batch's report from ingestion."""
        if submitted.statuses:  # recorded once, all together, even when the batch is retried
            assert self._statuses is not None
            self._statuses.record_all(
                [(gateway, m.payload, m.receive_time) for gateway, m in submitted.statuses]
            )
            submitted.statuses.clear()
        if submitted.future is None:
            return BatchReport(messages=len(submitted.batch))
        report = submitted.future.result()
        report.messages = len(submitted.batch)
        return report

    def _acknowledge(self, batch: list[_Received], report: BatchReport) -> None:
        generation = self._generation  # subscriptions are QoS 1 at most: no QoS 2 flow
        self._client.ack_all([r.mid for r in batch if r.qos == 1 and r.generation == generation])
        self.metrics.acknowledged.inc(len(batch))
        self.metrics.in_flight.dec(len(batch))
        # End-to-end acks: the gateways may now release these frames from their outboxes.
        for gateway_id, devices in report.gateway_acks.items():
            payload = json.dumps(
                {
                    "acks": [
                        {"device_id": device, "seqs": sorted(set(seqs))}
                        for device, seqs in devices.items()
                    ]
                }
            )
            self._client.publish(gateway_acks_topic(gateway_id), payload, qos=1)
            self.metrics.gateway_acks.inc()

    def _add(self, report: BatchReport) -> None:
        metrics = self.metrics
        metrics.batch_size.observe(report.messages)
        metrics.stored.inc(report.stored)
        metrics.duplicates.inc(report.duplicates)
        metrics.quarantined.inc(report.quarantined)
        for kind, count in report.dead_letter_kinds.items():
            metrics.dead_lettered.labels(kind=kind).inc(count)
        totals = self.totals
        totals.messages += report.messages
        totals.stored += report.stored
        totals.duplicates += report.duplicates
        totals.dead_lettered += report.dead_lettered
        totals.quarantined += report.quarantined

    # --- lifecycle ------------------------------------------------------------------------

    def _connect(self) -> None:
        settings = self.settings
        if settings.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = settings.session_expiry
            properties.ReceiveMaximum = settings.receive_maximum
            self._client.connect(
                settings.host,
                settings.port,
                keepalive=settings.keepalive,
                clean_start=False,
                properties=properties,
            )
        else:  # MQTT 3.1.1: clean_session=False was set on the client
            self._client.connect(settings.host, settings.port, keepalive=settings.keepalive)

    def _run_network(self) -> None:
        """Connect, serve the connection until it drops, back off, reconnect; until stopped."""
        while not self._network_stop.is_set():
            try:
                self._connect()
                while not self._network_stop.is_set():
                    if self._client.loop(timeout=0.5) != mqtt.MQTT_ERR_SUCCESS:
                        break
            except (OSError, mqtt.WebsocketConnectionError) as err:
                log.warning(
                    "MQTT connection to %s:%d failed: %s",
                    self.settings.host,
                    self.settings.port,
                    err,
                )
            except Exception:
                self.metrics.callback_errors.inc()
                log.exception("error in the MQTT network loop")
            if self._network_stop.is_set():
                return
            delay = _BACKOFF.delay(self._attempt, random.random())
            self._attempt += 1
            log.info("reconnecting to MQTT in %.1fs", delay)
            self._network_stop.wait(delay)

    def start(self) -> None:
        self._network.start()
        self._batcher.start()
        self._acker.start()

    def request_stop(self) -> None:
        """Ask :meth:`run_forever` to return (safe from a signal handler)."""
        self._stop.set()

    def stop(self) -> None:
        """Acknowledge the batches that ingestion finishes, then disconnect; unacknowledged
        messages are redelivered. The caller closes ingestion afterwards."""
        self._stop.set()
        self._batcher.join(timeout=5)
        self._acker.join(timeout=30)
        if self._connected.is_set():
            self._client.publish(
                self._status_topic, _status("offline"), qos=1, retain=True
            ).wait_for_publish(timeout=5)
        self._client.disconnect()
        self._network_stop.set()
        self._network.join(timeout=10)

    def stalled(self, now: float, limit: float) -> str | None:
        """Why the bridge cannot go on (ingestion broke, a dead thread, or no progress for
        ``limit`` s), or None."""
        if self._fatal is not None:
            return self._fatal
        for thread in (self._batcher, self._acker, self._network):
            if not thread.is_alive():
                return f"thread {thread.name} died"
        if now - self._heartbeat > limit:
            return f"the batcher made no progress for {now - self._heartbeat:.0f}s"
        if now - self._ack_heartbeat > limit:
            return f"no batch was committed for {now - self._ack_heartbeat:.0f}s"
        return None

    def run_forever(self, *, watchdog_s: float = 120.0) -> None:
        """Run until :meth:`request_stop`; raise :class:`BridgeStalled` if the watchdog trips.

        A stalled bridge exits (non-zero) rather than hang: its supervisor restarts it, and the
        broker redelivers every message it had not acknowledged.
        """
        self.start()
        try:
            while not self._stop.wait(1.0):
                problem = self.stalled(time.monotonic(), watchdog_s)
                if problem:
                    raise BridgeStalled(problem)
        finally:
            self.stop()
