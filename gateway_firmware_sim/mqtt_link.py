"""paho-mqtt wrapped once: the MQTT connections of simulated gateways and devices.

Threads and ownership: every :class:`MqttLink` of a process is served by one
:class:`LinkLoop` — one thread running a :mod:`selectors` loop over all the links' sockets,
through paho's external event loop API (``socket()``, ``loop_read()``, ``loop_write()``,
``want_write()``, ``loop_misc()`` and the ``on_socket_open`` / ``on_socket_close`` /
``on_socket_register_write`` callbacks). Ten thousand links cost one thread, not ten thousand.

The loop thread owns every paho client: it connects (paced: at most
:attr:`LinkLoop.connects_per_tick` new TCP connections per turn, so a fleet starting or
coming back together does not flood the broker), reads, writes, sends keepalive pings
(``loop_misc`` once a second per client) and disconnects. A reconnection after a
:class:`~hub.core.backoff.Backoff` delay is a timer on the loop's heap, not a sleeping
thread. Other threads only publish — paho's ``publish`` queues the packet and calls the
register-write callback; the link then asks the loop to write, waking its ``select`` through
a socket pair — and post commands (start, stop, network down or up, abort) that the loop
thread carries out. Each connection uses a fresh paho client: paho's in-memory queue never
resends anything behind the outbox's back — the outbox is the only source of (re)sends.

What crosses threads is :class:`LinkEvent` values, handed to the ``events`` callback (a
queue's ``put``) on the loop thread: :class:`Connected`, :class:`Disconnected`,
:class:`Delivered` (PUBACK) and :class:`Received`. paho types never leave this module; a
callback exception never reaches paho or stops the loop.

Faults the simulation needs: :meth:`MqttLink.set_network` (the home's internet goes down: the
TCP connection dies without DISCONNECT, so the broker publishes the last will) and
:meth:`MqttLink.abort` (power cut: the same, and the link is gone).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import random
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum, auto

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


class _State(Enum):
    IDLE = auto()  # not started
    WAITING = auto()  # for a reconnect timer, a connect slot, or the network
    CONNECTING = auto()  # socket open, no CONNACK yet
    CONNECTED = auto()
    CLOSING = auto()  # saying goodbye (offline presence, DISCONNECT)
    DONE = auto()


MISC_EVERY_S = 1.0  # each client's loop_misc (keepalive, pings), this often
GOODBYE_S = 3.0  # a clean stop waits this long for its offline PUBACK and DISCONNECT


class LinkLoop:
    """One thread serving many :class:`MqttLink`: a :mod:`selectors` loop, a timer heap, a
    queue of links waiting to connect (paced), and the commands other threads post.

    Everything about a link's connection happens on this thread; :meth:`post` (any thread)
    queues a callable for it and wakes the ``select``. The thread starts with the first link
    and runs until :meth:`close` (a daemon: it never holds a process open).
    """

    _shared: LinkLoop | None = None
    _shared_lock = threading.Lock()

    def __init__(self, *, name: str = "mqtt-links", connects_per_tick: int = 64) -> None:
        self.name = name
        self.connects_per_tick = connects_per_tick
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._commands: deque[Callable[[], None]] = deque()
        self._writes: set[MqttLink] = set()  # links whose client has something to write
        self._woken = False
        self._timers: list[tuple[float, int, MqttLink, int]] = []
        self._seq = itertools.count()
        self._connects: deque[MqttLink] = deque()
        self._links: set[MqttLink] = set()
        self._closed: list[MqttLink] = []  # links whose socket paho closed this turn
        self._next_misc = 0.0
        self._thread: threading.Thread | None = None
        self._running = False
        self._shut = False  # closed for good
        self.turns = 0  # turns of the loop so far
        self.longest_turn_s = 0.0  # the longest turn so far (the loop's worst latency)

    @classmethod
    def shared(cls) -> LinkLoop:
        """The process's loop (made on first use)."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    # --- any thread -----------------------------------------------------------------------

    def post(self, command: Callable[[], None]) -> None:
        """Run ``command`` on the loop thread, soon."""
        with self._lock:
            if self._shut:
                raise RuntimeError(f"{self.name} is closed")
            self._commands.append(command)
            self._ensure_thread()
        self._wake()

    def want_write(self, link: MqttLink) -> None:
        """``link``'s client queued a packet: the loop writes it."""
        with self._lock:
            self._writes.add(link)
        if threading.current_thread() is not self._thread:
            self._wake()

    @property
    def links(self) -> int:
        """Links the loop serves (started and not finished)."""
        return len(self._links)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread for good (links still open are dropped without goodbye, and
        finished) and release the selector."""
        with self._lock:
            self._running = False
            self._shut = True
            thread = self._thread
        self._wake()
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _ensure_thread(self) -> None:  # under self._lock
        if self._thread is None or not self._thread.is_alive():
            self._running = True
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def _wake(self) -> None:
        with self._lock:
            if self._woken:
                return
            self._woken = True
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    # --- the loop thread: services for links ------------------------------------------------

    def _add(self, link: MqttLink) -> None:
        self._links.add(link)

    def _remove(self, link: MqttLink) -> None:
        self._links.discard(link)

    def _timer(self, delay: float, link: MqttLink) -> None:
        link._timer_token += 1
        entry = (time.monotonic() + delay, next(self._seq), link, link._timer_token)
        heapq.heappush(self._timers, entry)

    def _queue_connect(self, link: MqttLink) -> None:
        self._connects.append(link)

    def _socket_opened(self, link: MqttLink, sock: object) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.register(sock, selectors.EVENT_READ, link)  # type: ignore[arg-type]
            link._interest = selectors.EVENT_READ

    def _socket_closing(self, link: MqttLink, sock: object) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(sock)  # type: ignore[arg-type]
        self._ending(link)

    def _ending(self, link: MqttLink) -> None:
        link._interest = 0
        if link not in self._closed:
            self._closed.append(link)

    def _sync_write(self, link: MqttLink) -> None:
        """Write what ``link``'s client holds; watch for writability while some remains."""
        client = link._client
        if client is None:
            return
        sock = client.socket()
        if sock is None:
            return
        if client.want_write():
            link._guard(client.loop_write)
        if link._client is not client or client.socket() is not sock:
            return
        interest = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.want_write() else 0)
        if interest != link._interest:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.modify(sock, interest, link)
                link._interest = interest

    # --- the loop thread: the loop --------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._running:
                    break
            began = time.monotonic()
            try:
                self._turn()
            except Exception:  # the loop outlives any one link's error
                log.exception("%s: error in the link loop", self.name)
                time.sleep(0.01)
            self.longest_turn_s = max(self.longest_turn_s, time.monotonic() - began)
        for link in list(self._links):
            with contextlib.suppress(Exception):
                link._stopping = True
                link._reason = "link loop closed"
                link._drop()
                if link._client is None:
                    link._finish()
        with contextlib.suppress(Exception):
            self._after()

    def _timeout(self, now: float) -> float:
        with self._lock:
            if self._commands or self._writes:
                return 0.0
        if self._connects:
            return 0.005
        due = min(self._next_misc, self._timers[0][0] if self._timers else self._next_misc)
        return max(0.0, min(0.5, due - now))

    def _turn(self) -> None:
        self.turns += 1
        ready = self._selector.select(self._timeout(time.monotonic()))
        for key, mask in ready:
            link = key.data
            if link is None:
                with self._lock:
                    self._woken = False
                with contextlib.suppress(BlockingIOError, OSError):
                    while self._wake_r.recv(4096):
                        pass
                continue
            assert isinstance(link, MqttLink)
            client = link._client
            if client is None or client.socket() is not key.fileobj:
                continue
            if mask & selectors.EVENT_READ:
                link._guard(client.loop_read)
            if mask & selectors.EVENT_WRITE and link._client is client:
                link._guard(client.loop_write)
            if link._client is client:
                self._sync_write(link)
        self._after()
        with self._lock:
            commands, self._commands = self._commands, deque()
        for command in commands:
            try:
                command()
            except Exception:
                log.exception("%s: a link command failed", self.name)
        self._after()
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, link, token = heapq.heappop(self._timers)
            if token == link._timer_token:
                link._timer_due()
        self._after()
        for _ in range(min(self.connects_per_tick, len(self._connects))):
            self._connects.popleft()._connect_now()
            self._after()
        if now >= self._next_misc:
            self._next_misc = now + MISC_EVERY_S
            for link in list(self._links):
                client = link._client
                if client is not None and client.socket() is not None:
                    link._guard(client.loop_misc)
                    if link._client is client and client.want_write():
                        self._sync_write(link)
            self._after()

    def _after(self) -> None:
        """Write what callbacks and other threads queued so far; end the connections paho
        closed. One pass over the writes: what a publisher adds meanwhile waits for the next
        turn (the select then does not wait), so a busy publisher never starves the reads."""
        with self._lock:
            writes, self._writes = self._writes, set()
        for link in writes:
            self._sync_write(link)
        while self._closed:
            closed, self._closed = self._closed, []
            for link in closed:
                link._ended()


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
        loop: LinkLoop | None = None,
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
        self.loop = loop or LinkLoop.shared()
        self._rand = random.Random(client_id)
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._connected = False
        self.generation = 0
        self._network_up = True
        self._stopping = False
        self._aborted = False
        self._done = threading.Event()
        self.connections = 0
        self.failures = 0
        # loop-thread state
        self._state = _State.IDLE
        self._attempt = 0
        self._timer_token = 0
        self._interest = 0
        self._reason = ""
        self._was_connected = False
        self._goodbye_mid: int | None = None
        self._parked = False  # waiting for the network to come back

    # --- public, any thread ---------------------------------------------------------------

    def start(self) -> None:
        self.loop.post(self._start)

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
        self.loop.want_write(self)
        return int(info.mid)

    def set_network(self, up: bool) -> None:
        """The way to the broker is up or down (down: the connection dies uncleanly)."""
        with self._lock:
            self._network_up = up
            if not up:
                self._connected = False
        self.loop.post(self._network_changed)

    def abort(self) -> None:
        """Power cut: the connection dies uncleanly (last will) and the link is finished."""
        with self._lock:
            self._aborted = True
            self._stopping = True
            self._connected = False
        self.loop.post(self._stop_now)
        self._done.wait(timeout=10)

    def request_stop(self) -> None:
        """Begin a clean stop without waiting (then :meth:`stop` joins)."""
        with self._lock:
            self._stopping = True
        self.loop.post(self._stop_now)

    def stop(self, timeout: float = 5.0) -> None:
        """Clean stop: retained ``offline``, DISCONNECT, the link finished."""
        self.request_stop()
        if self._state is not _State.IDLE:
            self._done.wait(timeout=timeout + 5)

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    # --- the loop thread ------------------------------------------------------------------

    def _guard(self, step: Callable[[], object]) -> None:
        """One paho call; an exception in it drops this connection, never the loop."""
        try:
            step()
        except Exception:
            log.exception("%s: error in the network loop", self.name)
            self._reason = "error"
            self._drop()

    def _emit(self, event: LinkEvent) -> None:
        try:
            self._events(event)
        except Exception:  # never into paho or the loop
            log.exception("%s: event handler failed", self.name)

    def _start(self) -> None:
        if self._state is not _State.IDLE:
            return
        if self._stopping:
            self._finish()
            return
        self.loop._add(self)
        self._state = _State.WAITING
        self.loop._queue_connect(self)

    def _network_changed(self) -> None:
        if not self._network_up:
            if self._state in (_State.CONNECTING, _State.CONNECTED, _State.CLOSING):
                self._drop()
        elif self._parked:  # waiting for the network: connect now
            self._parked = False
            if self._state is _State.WAITING:
                self.loop._queue_connect(self)

    def _stop_now(self) -> None:
        if self._state is _State.DONE:
            return
        if self._state in (_State.IDLE, _State.WAITING):
            self._finish()
            return
        if self._aborted:
            self._reason = "power lost"
            self._drop()
            return
        if self._state is _State.CLOSING:
            return
        self._state = _State.CLOSING
        self.loop._timer(GOODBYE_S, self)  # the goodbye's deadline
        client = self._client
        assert client is not None
        if self._connected and self.presence is not None:
            with self._lock:
                self._connected = False
            info = client.publish(self.presence.topic, self.presence.offline, qos=1, retain=True)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                self._goodbye_mid = info.mid
                self.loop._sync_write(self)
                return
        self._disconnect()

    def _disconnect(self) -> None:
        client = self._client
        if client is not None and self._state is _State.CLOSING:
            self._reason = "stopped"
            self._guard(client.disconnect)
            self.loop._sync_write(self)

    def _timer_due(self) -> None:
        if self._state is _State.CLOSING:  # the goodbye took too long
            self._reason = "stopped"
            self._drop()
        elif self._state is _State.WAITING:
            if self._stopping:
                self._finish()
            elif not self._network_up:
                self._parked = True
            else:
                self.loop._queue_connect(self)

    def _drop(self) -> None:
        """The connection dies here and now, without DISCONNECT (the broker sends the will);
        :meth:`_ended` follows on this turn."""
        client = self._client
        if client is None:
            return
        sock = client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.loop._selector.unregister(sock)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.loop._ending(self)

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
        # The loop thread does every socket operation (see the module docstring).
        client.on_socket_open = lambda _c, _u, sock: self.loop._socket_opened(self, sock)
        client.on_socket_close = lambda _c, _u, sock: self.loop._socket_closing(self, sock)
        client.on_socket_register_write = lambda *_: self.loop.want_write(self)
        client.on_socket_unregister_write = lambda *_: None  # the loop checks want_write()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _connect_now(self) -> None:
        if self._state is not _State.WAITING:
            return
        if self._stopping:
            self._finish()
            return
        if not self._network_up:
            self._parked = True
            return
        client = self._make_client()
        with self._lock:
            self._client = client
        self._state = _State.CONNECTING
        self._reason = "not connected"
        self._was_connected = False
        settings = self.settings
        try:
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
        except (OSError, mqtt.WebsocketConnectionError) as err:
            self._reason = f"cannot connect: {err}"
            self._drop()
            return
        except Exception:
            log.exception("%s: error connecting", self.name)
            self._reason = "error"
            self._drop()
            return
        self.loop._sync_write(self)

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        try:
            if reason.is_failure:
                log.warning("%s: connection refused: %s", self.name, reason)
                self._reason = f"refused: {reason}"
                return
            if self._state is not _State.CONNECTING:
                return
            for topic in self.subscriptions:
                client.subscribe(topic, qos=1)
            if self.presence is not None:
                client.publish(self.presence.topic, self.presence.online, qos=1, retain=True)
            with self._lock:
                self.generation += 1
                self._connected = self._network_up and not self._stopping
                generation = self.generation
            self._state = _State.CONNECTED
            self._was_connected = True
            self._reason = ""
            self.connections += 1
            self._emit(Connected(self.name, generation))
        except Exception:
            log.exception("%s: error in on_connect", self.name)

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        with self._lock:
            self._connected = False
        if self._state is not _State.CLOSING and self._reason in ("", "not connected"):
            self._reason = f"connection lost ({reason})"

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, reason: ReasonCode, _p: object
    ) -> None:
        if not reason.is_failure:
            self._emit(Delivered(self.name, self.generation, mid))
        if self._state is _State.CLOSING and mid == self._goodbye_mid:
            self._goodbye_mid = None
            # Not from inside a paho callback: paho's loop calls are not reentrant.
            self.loop.post(self._disconnect)

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        self._emit(Received(self.name, message.topic, bytes(message.payload)))

    def _ended(self) -> None:
        """paho closed this connection's socket (or it never opened): what comes next."""
        client = self._client
        if client is None:
            return
        with self._lock:
            self._client = None
            self._connected = False
            generation = self.generation
        # A discarded client calls nothing back (its __del__ closes its socket again).
        client.on_socket_open = client.on_socket_close = None
        client.on_socket_register_write = client.on_socket_unregister_write = None
        client.on_connect = client.on_disconnect = None
        client.on_publish = client.on_message = None
        sock = client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.loop._selector.unregister(sock)
            sock.close()
        if self._aborted:
            reason = "power lost"
        elif self._state is _State.CLOSING:
            reason = "stopped"
        elif not self._network_up:
            reason = "network down"
        else:
            reason = self._reason or "connection lost"
        self._emit(Disconnected(self.name, generation, reason))
        if self._stopping:
            self._finish()
            return
        if self._was_connected:
            self._attempt = 0
        else:
            self.failures += 1
        delay = self.backoff.delay(self._attempt, self._rand.random())
        self._attempt += 1
        log.debug("%s: %s; reconnecting in %.1fs", self.name, reason, delay)
        self._state = _State.WAITING
        self._reason = ""
        self.loop._timer(delay, self)

    def _finish(self) -> None:
        self._state = _State.DONE
        self._timer_token += 1
        self.loop._remove(self)
        self._done.set()


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
