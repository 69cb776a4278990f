"""paho-mqtt wrapped once: one MQTT connection of a simulated gateway or device.

Threads and ownership: each :class:`MqttLink` has one network thread that owns the
connection — connect, ``Client.loop()`` until the connection drops, wait a
:class:`~gateway_firmware_sim.backoff.Backoff` delay, connect again — a plain loop. Every
socket write happens on that thread (paho's write-register callbacks are set, so a publish
from another thread only queues the packet and wakes the loop). Each connection uses a fresh
paho client: paho's in-memory queue never resends anything behind the outbox's back — the
outbox is the only source of (re)sends.

What crosses threads is :class:`LinkEvent` values, handed to the ``events`` callback (a
queue's ``put``): :class:`Connected`, :class:`Disconnected`, :class:`Delivered` (PUBACK) and
:class:`Received`. paho types never leave this module; a callback exception never reaches
paho's loop.

Faults the simulation needs: :meth:`MqttLink.set_network` (the home's internet goes down: the
TCP connection dies without DISCONNECT, so the broker publishes the last will) and
:meth:`MqttLink.abort` (power cut: the same, and the link is gone).
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway_firmware_sim.realtime import SYSTEM_CLOCK, Clock
from hub.config import MqttSettings
from hub.core.backoff import Backoff

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Connected:
    link: str
    generation: int


@dataclass(frozen=True, slots=True)
class Disconnected:
    link: str
    generation: int
    reason: str


@dataclass(frozen=True, slots=True)
class Delivered:
    """The broker acknowledged (PUBACK) message ``mid`` of connection ``generation``."""

    link: str
    generation: int
    mid: int


@dataclass(frozen=True, slots=True)
class Received:
    link: str
    topic: str
    payload: bytes


LinkEvent = Connected | Disconnected | Delivered | Received


@dataclass(frozen=True, slots=True)
class Presence:
    """Retained presence: ``online`` on connect, ``offline`` on stop and as the last will."""

    topic: str
    online: bytes
    offline: bytes


class MqttLink:
    def __init__(
        self,
        name: str,
        settings: MqttSettings,
        client_id: str,
        events: Callable[[LinkEvent], None],
        *,
        presence: Presence | None = None,
        subscriptions: Sequence[str] = (),
        persistent_session: bool = False,
        session_expiry_s: int = 86400,
        backoff: Backoff | None = None,
        keepalive: int = 30,
    ) -> None:
        self.name = name
        self.settings = settings
        self.client_id = client_id
        self._events = events
        self.presence = presence
        self.subscriptions = tuple(subscriptions)
        self.persistent_session = persistent_session
        self.session_expiry_s = session_expiry_s
        self.backoff = backoff or Backoff(base=0.5, cap=8.0, jitter=0.3)
        self.keepalive = keepalive
        self._rand = random.Random(client_id)
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._connected = False
        self.generation = 0
        self._network_up = threading.Event()
        self._network_up.set()
        self._stopping = threading.Event()
        self._aborted = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{name}", daemon=True)
        self.connections = 0
        self.failures = 0

    # --- public, any thread ---------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    @property
    def connected(self) -> bool:
        return self._connected

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> int | None:
        """Queue a message on the current connection; its mid, or None when not connected."""
        with self._lock:
            client = self._client
            if client is None or not self._connected:
                return None
            info = client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return None
        return int(info.mid)

    def set_network(self, up: bool) -> None:
        """The way to the broker is up or down (down: the connection dies uncleanly)."""
        if up:
            self._network_up.set()
        else:
            self._network_up.clear()
            self._drop_socket()

    def abort(self) -> None:
        """Power cut: the connection dies uncleanly (last will) and the link is finished."""
        self._aborted.set()
        self._stopping.set()
        self._drop_socket()
        self._thread.join(timeout=10)

    def request_stop(self) -> None:
        """Begin a clean stop without waiting (then :meth:`stop` joins)."""
        self._stopping.set()
        self._network_up.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Clean stop: retained ``offline``, DISCONNECT, thread joined."""
        self._stopping.set()
        self._network_up.set()  # wake a thread waiting for the network
        self._thread.join(timeout=timeout + 5)

    # --- network thread -------------------------------------------------------------------

    def _drop_socket(self) -> None:
        with self._lock:
            client = self._client
            self._connected = False
        if client is not None:
            sock = client.socket()
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _emit(self, event: LinkEvent) -> None:
        try:
            self._events(event)
        except Exception:  # never into paho
            log.exception("%s: event handler failed", self.name)

    def _make_client(self) -> mqtt.Client:
        v5 = self.settings.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else not self.persistent_session,
        )
        if self.settings.username:
            client.username_pw_set(self.settings.username, self.settings.password)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        if self.presence is not None:
            client.will_set(self.presence.topic, self.presence.offline, qos=1, retain=True)
        # Socket writes stay on the network thread (see the module docstring).
        client.on_socket_register_write = lambda *_: None
        client.on_socket_unregister_write = lambda *_: None
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _connect(self, client: mqtt.Client) -> None:
        settings = self.settings
        if settings.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = (
                self.session_expiry_s if self.persistent_session else 0
            )
            client.connect(
                settings.host,
                settings.port,
                keepalive=self.keepalive,
                clean_start=not self.persistent_session,
                properties=properties,
            )
        else:
            client.connect(settings.host, settings.port, keepalive=self.keepalive)

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        try:
            if reason.is_failure:
                log.warning("%s: connection refused: %s", self.name, reason)
                return
            for topic in self.subscriptions:
                client.subscribe(topic, qos=1)
            if self.presence is not None:
                client.publish(self.presence.topic, self.presence.online, qos=1, retain=True)
            with self._lock:
                self.generation += 1
                self._connected = True
                generation = self.generation
            self.connections += 1
            self._emit(Connected(self.name, generation))
        except Exception:
            log.exception("%s: error in on_connect", self.name)

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        with self._lock:
            self._connected = False

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, reason: ReasonCode, _p: object
    ) -> None:
        if not reason.is_failure:
            self._emit(Delivered(self.name, self.generation, mid))

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        self._emit(Received(self.name, message.topic, bytes(message.payload)))

    def _serve(self, client: mqtt.Client) -> str:
        """Loop on one connection until it ends; why it ended."""
        while True:
            if self._aborted.is_set():
                return "power lost"
            if not self._network_up.is_set():
                return "network down"
            if self._stopping.is_set():
                self._goodbye(client)
                return "stopped"
            rc = client.loop(timeout=0.2)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                return f"connection lost ({mqtt.error_string(rc)})"

    def _goodbye(self, client: mqtt.Client) -> None:
        deadline = time.monotonic() + 3.0
        if self._connected and self.presence is not None:
            info = client.publish(self.presence.topic, self.presence.offline, qos=1, retain=True)
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
            if not self._network_up.wait(timeout=0.2):
                continue
            client = self._make_client()
            with self._lock:
                self._client = client
            connections_before = self.connections
            reason = "not connected"
            try:
                self._connect(client)
                reason = self._serve(client)
            except (OSError, mqtt.WebsocketConnectionError) as err:
                reason = f"cannot connect: {err}"
            except Exception:
                log.exception("%s: error in the network loop", self.name)
                reason = "error"
            was_connected = self.connections > connections_before
            with self._lock:
                self._client = None
                self._connected = False
                generation = self.generation
            with contextlib.suppress(Exception):
                sock = client.socket()
                if isinstance(sock, socket.socket):
                    sock.close()
            self._emit(Disconnected(self.name, generation, reason))
            if self._stopping.is_set():
                return
            if was_connected:
                attempt = 0
            else:
                self.failures += 1
            delay = self.backoff.delay(attempt, self._rand.random())
            attempt += 1
            log.debug("%s: %s; reconnecting in %.1fs", self.name, reason, delay)
            self._stopping.wait(delay)


def wait_for_retained(
    settings: MqttSettings,
    topic: str,
    accept: Callable[[dict[str, object]], bool],
    timeout: float,
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> bool:
    """Whether a retained JSON message on ``topic`` satisfying ``accept`` shows up in time
    (the bridge's ``{"status": "online"}``, before a fleet's first message); the deadline and
    the waits are ``clock``'s."""
    found = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with contextlib.suppress(ValueError, AttributeError):
            document = json.loads(message.payload)
            if isinstance(document, dict) and accept(document):
                found.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline:
        try:
            client.connect(settings.host, settings.port)
            break
        except OSError:
            clock.sleep(0.5)
    else:
        return False
    client.loop_start()
    try:
        return clock.wait(found, max(0.0, deadline - clock.monotonic()))
    finally:
        client.disconnect()
        client.loop_stop()
