"""Who listens to one characteristic's notifications or indications (BlueZ
doc/org.bluez.GattCharacteristic.rst: StartNotify, StopNotify, AcquireNotify; src/gatt-client.c).

Rules, as bluetoothd applies them:

* StartNotify opens one session per D-Bus client (unique name); a second one from the same
  client succeeds and changes nothing. ``Notifying`` is true while any session exists. A
  client's sessions end with StopNotify (``Failed: No notify session started`` without one)
  or when it leaves the bus; they survive a disconnection and listen again on the next
  connection.
* AcquireNotify hands one client a ``SOCK_SEQPACKET`` socket: each value is one packet, and
  ``Value``/``Notifying`` are left alone. It needs a connection (``Failed: Not connected``) and
  no StartNotify session (``InProgress``); while it is held StartNotify answers
  ``NotPermitted: Notify acquired``. ``NotifyAcquired`` is true while held. It ends when the
  client closes its end (hang-up), calls StopNotify, leaves the bus, or the link drops.
* A characteristic without "notify" or "indicate" answers ``NotSupported``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

from gateway_firmware_sim.bluez import errors


class AcquiredSocket:
    """The server end of an AcquireNotify socket pair; calls ``on_hangup`` once the client's
    end is closed."""

    def __init__(self, sock: socket.socket, on_hangup: Callable[[], object]) -> None:
        self._sock = sock
        self._on_hangup = on_hangup
        self._closed = False
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        # The client never writes: readability means hang-up (or a stray packet, dropped).
        try:
            data = self._sock.recv(1)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            self._on_hangup()

    def send(self, value: bytes) -> bool:
        """One notification, one packet; a full or closed socket drops it (as bluetoothd)."""
        if self._closed:
            return False
        try:
            self._sock.send(value)
        except OSError:
            return False
        return True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
        self._sock.close()


class NotifySessions:
    """The sessions of one characteristic. Methods return whether ``Notifying`` changed."""

    def __init__(self, subscribable: bool) -> None:
        self._subscribable = subscribable
        self._clients: set[str] = set()
        self.acquired: AcquiredSocket | None = None
        self._acquired_by: str | None = None

    @property
    def notifying(self) -> bool:
        return bool(self._clients)

    @property
    def active(self) -> bool:
        """Whether a value sent now reaches someone."""
        return bool(self._clients) or self.acquired is not None

    def start(self, client: str) -> bool:
        if self.acquired is not None:
            raise errors.not_permitted("Notify acquired")
        if not self._subscribable:
            raise errors.not_supported()
        was = self.notifying
        self._clients.add(client)
        return not was

    def stop(self, client: str) -> bool:
        if self.acquired is not None:
            self.release()
            return False
        if client not in self._clients:
            raise errors.failed("No notify session started")
        self._clients.discard(client)
        return not self.notifying

    def acquire(self, client: str, on_hangup: Callable[[], object]) -> socket.socket:
        """A new socket pair: keeps the server end, returns the client's end (to send over
        D-Bus and close)."""
        if self.acquired is not None:
            raise errors.not_permitted("Notify acquired")
        if self._clients:
            raise errors.in_progress()
        if not self._subscribable:
            raise errors.not_supported()
        server, client_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        server.setblocking(False)
        self.acquired = AcquiredSocket(server, on_hangup)
        self._acquired_by = client
        return client_end

    def release(self) -> bool:
        """Close an acquired socket; whether there was one."""
        if self.acquired is None:
            return False
        self.acquired.close()
        self.acquired = None
        self._acquired_by = None
        return True

    def forget(self, client: str) -> tuple[bool, bool]:
        """``client`` left the bus: (``Notifying`` changed, the acquired socket was released)."""
        released = self._acquired_by == client and self.release()
        if client not in self._clients:
            return False, released
        self._clients.discard(client)
        return not self.notifying, released
