"""A D-Bus writer that waits when the socket is full, instead of dropping the connection.

dbus-fast's asyncio writer (like python-dbus-next's, altdesktop/python-dbus-next#153) treats
``EAGAIN`` from a non-blocking ``send`` — the socket's buffer is full because the bus daemon
has not read it yet — as a fatal error and closes the connection. bluetoothd (libdbus) waits
for the socket to be writable. A simulated BlueZ that delivers a control point transfer of a
thousand notifications to several collectors at once fills that buffer, so the service's bus
uses :class:`PatientWriter`: on ``EAGAIN`` it keeps the rest of the message and resumes when
the socket is writable. Everything else is dbus-fast's own behaviour.
"""

from __future__ import annotations

import array
import socket

from dbus_fast.aio import MessageBus
from dbus_fast.aio.message_bus import _MessageWriter


class PatientWriter(_MessageWriter):
    def write_callback(self, remove_writer: bool = True) -> None:
        sock, fd = self.sock, self.fd
        assert sock is not None and fd is not None  # a connected bus's writer
        try:
            while True:
                if self.buf is None:
                    if not self.messages:
                        if remove_writer:
                            self.loop.remove_writer(fd)
                        return
                    buf, unix_fds, fut = self.messages.popleft()
                    self.unix_fds = unix_fds
                    self.buf = memoryview(buf)
                    self.offset = 0
                    self.fut = fut
                try:
                    if self.unix_fds and self.negotiate_unix_fd:
                        ancillary = [
                            (socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", self.unix_fds))
                        ]
                        self.offset += sock.sendmsg([self.buf[self.offset :]], ancillary)
                        self.unix_fds = None
                    else:
                        self.offset += sock.send(self.buf[self.offset :])
                except BlockingIOError:
                    self.loop.add_writer(fd, self.write_callback)  # resume when writable
                    return
                if self.offset < len(self.buf):
                    self.loop.add_writer(fd, self.write_callback)
                    return
                self.buf = None
                if self.fut is not None and not self.fut.done():
                    self.fut.set_result(None)
        except Exception as err:
            if self.fut is not None and not self.fut.done():
                if self.bus._user_disconnect:
                    self.fut.set_result(None)
                else:
                    self.fut.set_exception(err)
            self.bus._finalize(err)


def patient(bus: MessageBus) -> MessageBus:
    """``bus`` (connected) with a :class:`PatientWriter`, taking over what is queued."""
    old = bus._writer
    assert old is not None and old.buf is None, "swap the writer between messages only"
    writer = PatientWriter(bus)
    writer.messages = old.messages
    bus._writer = writer
    return bus
