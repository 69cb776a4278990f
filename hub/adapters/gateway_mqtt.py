"""paho-mqtt wrapped once for the BLE gateway: one connection to the hub's broker, events
handed to an asyncio event loop.

Threads and ownership: one network thread owns the connection — connect, ``Client.loop()``
until the connection drops, wait a :class:`~hub.core.backoff.Backoff` delay, connect again.
Every socket write happens on that thread (paho's write-register callbacks are set, so a
publish from the event loop only queues the packet). Each connection uses a fresh paho
client, so paho never resends anything behind the outbox's back: the gateway's outbox is
the only source of (re)sends. What crosses threads is :data:`MqttEvent` values, handed to
the loop with ``call_soon_threadsafe``; paho types never leave this module; a callback
exception never reaches paho's loop.

The session is persistent (MQTT 5 ``clean_start`` off with a session expiry; 3.1.1
``clean_session`` off), so acks the hub publishes while the gateway is away are delivered when
it returns — except the very first connection of a new outbox (``fresh``), which starts a
clean session: a broker that makes the username the client id (``use_username_as_clientid``)
would otherwise hand a new outbox, whose seqs start again at 1, the acks of the old one. The
last will (retained, QoS 1) says the gateway is offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hub.core.backoff import Backoff

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password: str | None = None
    keepalive: int = 30
    tls_ca_file: Path | None = None  # TLS with this CA bundle (port 8883 in production)


@dataclass(frozen=True, slots=True)
class Connected:
    generation: int


@dataclass(frozen=True, slots=True)
class Disconnected:
    generation: int
    reason: str


@dataclass(frozen=True, slots=True)
class Delivered:
    """The broker acknowledged (PUBACK) message ``mid`` of connection ``generation``."""

    generation: int
    mid: int


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    payload: bytes


MqttEvent = Connected | Disconnected | Delivered | Received


@dataclass(frozen=True, slots=True)
class Retained:
    """A retained QoS 1 message: the status published on connection, and the last will."""

    topic: str
    payload: bytes


class GatewayMqtt:
    def __init__(
        self,
        broker: BrokerAddress,
        client_id: str,
        *,
        will: Retained,
        subscriptions: Sequence[str],
        session_expiry_s: int,
        backoff: Backoff,
        fresh: bool,
    ) -> None:
        self.broker = broker
        self.client_id = client_id
        self.will = will
        self.subscriptions = tuple(subscriptions)
        self.session_expiry_s = session_expiry_s
        self.backoff = backoff
        self._clean = fresh  # until a connection is accepted
        self._rand = random.Random(client_id)
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._connected = False
        self.generation = 0
        self._stopping = threading.Event()
        self._farewell: Retained | None = None
        self._thread = threading.Thread(target=self._run, name="gateway-mqtt", daemon=True)
        self._deliver: Callable[[MqttEvent], None] = lambda _event: None

    # --- from the event loop ----------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop, events: Callable[[MqttEvent], None]) -> None:
        def deliver(event: MqttEvent) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                loop.call_soon_threadsafe(events, event)

        self._deliver = deliver
        self._thread.start()

    @property
    def connected(self) -> bool:
        return self._connected

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int | None:
        """Queue a QoS 1 message on the current connection: its mid, or None if not connected."""
        with self._lock:
            client = self._client
            if client is None or not self._connected:
                return None
            info = client.publish(topic, payload, qos=1, retain=retain)
        return int(info.mid) if info.rc == mqtt.MQTT_ERR_SUCCESS else None

    async def stop(self, farewell: Retained | None = None) -> None:
        """Clean stop: ``farewell`` (retained) if connected, DISCONNECT, thread joined."""
        self._farewell = farewell
        self._stopping.set()
        await asyncio.to_thread(self._thread.join, 15)

    # --- network thread ---------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        broker = self.broker
        v5 = broker.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else self._clean,
        )
        if broker.username:
            client.username_pw_set(broker.username, broker.password)
        if broker.tls_ca_file is not None:
            client.tls_set(ca_certs=str(broker.tls_ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        client.will_set(self.will.topic, self.will.payload, qos=1, retain=True)
        client.on_socket_register_write = lambda *_: None
        client.on_socket_unregister_write = lambda *_: None
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _connect(self, client: mqtt.Client) -> None:
        broker = self.broker
        if broker.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.session_expiry_s
            client.connect(
                broker.host,
                broker.port,
                keepalive=broker.keepalive,
                clean_start=self._clean,
                properties=properties,
            )
        else:
            client.connect(broker.host, broker.port, keepalive=broker.keepalive)

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        try:
            if reason.is_failure:
                log.warning("MQTT connection refused: %s", reason)
                return
            for topic in self.subscriptions:
                client.subscribe(topic, qos=1)
            with self._lock:
                self.generation += 1
                self._connected = True
                self._clean = False
                generation = self.generation
            self._deliver(Connected(generation))
        except Exception:
            log.exception("error in on_connect")

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, _reason: ReasonCode, _p: object
    ) -> None:
        with self._lock:
            self._connected = False

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, reason: ReasonCode, _p: object
    ) -> None:
        if not reason.is_failure:
            self._deliver(Delivered(self.generation, mid))

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        self._deliver(Received(message.topic, bytes(message.payload)))

    def _serve(self, client: mqtt.Client) -> str:
        while True:
            if self._stopping.is_set():
                self._goodbye(client)
                return "stopped"
            rc = client.loop(timeout=0.2)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                return f"connection lost ({mqtt.error_string(rc)})"

    def _goodbye(self, client: mqtt.Client) -> None:
        deadline = time.monotonic() + 3.0
        farewell = self._farewell
        if self._connected and farewell is not None:
            info = client.publish(farewell.topic, farewell.payload, qos=1, retain=True)
            while not info.is_published() and time.monotonic() < deadline:
                if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:
                    break
        client.disconnect()
        while client.want_write() and time.monotonic() < deadline:
            if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:
                break

    def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            client = self._make_client()
            with self._lock:
                self._client = client
            before = self.generation
            try:
                self._connect(client)
                reason = self._serve(client)
            except (OSError, mqtt.WebsocketConnectionError) as err:
                reason = f"cannot connect: {err}"
            except Exception:
                log.exception("error in the MQTT network loop")
                reason = "error"
            with self._lock:
                self._client = None
                self._connected = False
                generation = self.generation
            with contextlib.suppress(Exception):
                sock = client.socket()
                if isinstance(sock, socket.socket):
                    sock.close()
            self._deliver(Disconnected(generation, reason))
            if self._stopping.is_set():
                return
            attempt = 0 if self.generation > before else attempt + 1
            delay = self.backoff.delay(attempt, self._rand.random())
            log.info("MQTT %s; reconnecting in %.1f s", reason, delay)
            self._stopping.wait(delay)
