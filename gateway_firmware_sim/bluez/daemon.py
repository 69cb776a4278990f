"""A private D-Bus daemon of type "system", for the simulated BlueZ and its clients.

Rules: one ``dbus-daemon`` (Debian package ``dbus``) per :class:`PrivateBus`, in a fresh
temporary directory holding its configuration, its socket and its log. It listens on that
unix socket only, authenticates with EXTERNAL (the caller's uid) and lets every client own
any name and call anything: a test bus, never the machine's system bus. Clients reach it
through ``DBUS_SYSTEM_BUS_ADDRESS`` set to :attr:`PrivateBus.address`. Stopping terminates the
daemon (killed after 5 s), reaps it and removes the directory, whatever happened before.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from xml.sax.saxutils import escape

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0
_SUN_PATH_MAX = 107  # bytes of a unix socket path (sockaddr_un.sun_path, NUL excluded)


def dbus_daemon_binary() -> str:
    found = shutil.which("dbus-daemon") or shutil.which("dbus-daemon", path="/usr/bin")
    if found is None:
        raise FileNotFoundError("dbus-daemon not found: install the Debian package 'dbus'")
    return found


class PrivateBus:
    """A running private bus. Use :func:`private_system_bus`, or :meth:`start` and
    :meth:`stop` (blocking: not from an event loop)."""

    def __init__(self) -> None:
        self.address = ""
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        directory = Path(tempfile.mkdtemp(prefix="sim-bluez-"))
        self._dir = directory
        socket_path = directory / "system_bus_socket"
        if len(str(socket_path).encode()) > _SUN_PATH_MAX:
            self.stop()
            raise OSError(f"socket path too long for a unix socket: {socket_path}")
        config = directory / "bus.conf"
        config.write_text(_CONFIG.format(socket=escape(str(socket_path))))
        with (directory / "dbus-daemon.log").open("wb") as log:
            self._process = subprocess.Popen(
                [
                    dbus_daemon_binary(),
                    f"--config-file={config}",
                    "--nofork",
                    "--nopidfile",
                    "--print-address=1",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        try:
            self.address = self._read_address(self._process)
        except BaseException:
            self.stop()
            raise
        return self.address

    def _read_address(self, process: subprocess.Popen[bytes]) -> str:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], _START_TIMEOUT_S)
        line = process.stdout.readline() if ready else b""
        if not line.startswith(b"unix:"):
            log = self._dir / "dbus-daemon.log" if self._dir else None
            detail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"dbus-daemon did not start: {line!r} {detail}")
        return line.decode().strip()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        directory, self._dir = self._dir, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


@contextlib.asynccontextmanager
async def private_system_bus() -> AsyncIterator[str]:
    """A private system bus for the duration of the context; yields its address."""
    bus = PrivateBus()
    starting = asyncio.ensure_future(asyncio.to_thread(bus.start))
    try:
        yield await asyncio.shield(starting)
    finally:
        await asyncio.wait({starting})  # a cancelled start still ends in its thread: wait
        await asyncio.to_thread(bus.stop)
