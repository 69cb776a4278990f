"""A throwaway InfluxDB 1.x server for tests and benchmarks: ``influxd`` on free loopback ports.

The test fixtures (``tests/fixtures/influxdb.py``) and the store benchmark (``bench/store.py``)
both start one with :func:`start_influxd`. Everything the server writes lives under the
directory it is given: the generated config file sets the meta, data and WAL directories, the
HTTP and RPC bind addresses, and turns off usage reporting and the ``_internal`` monitor
database. Debian's ``influxdb`` package (1.6.7, the one the tests install) serves the v1
API only.

The WAL is fsynced on every write (``wal-fsync-delay = "0s"``, the default, written out here
because the store's durability promise depends on it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

INSTALL_HINT = "influxd is not installed: run `make test` as root or `apt-get install influxdb`"


def influxd_binary() -> str | None:
    return shutil.which("influxd") or next(
        (p for p in ("/usr/bin/influxd", "/usr/local/bin/influxd") if Path(p).exists()), None
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def influxd_config(root: Path, http_port: int, rpc_port: int) -> str:
    """A test/bench configuration for influxd 1.x with every path under ``root``."""
    root = root.resolve()
    return f"""\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root / "meta"}"

[data]
  dir = "{root / "data"}"
  wal-dir = "{root / "wal"}"
  wal-fsync-delay = "0s"
  query-log-enabled = false
  trace-logging-enabled = false

[coordinator]
  log-queries-after = "0s"

[retention]
  enabled = true

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
  write-tracing = false
  max-row-limit = 0
  max-body-size = 0

[logging]
  level = "warn"
  suppress-logo = true

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false
"""


@dataclass
class InfluxServer:
    """A running ``influxd`` child process and its v1 HTTP endpoint."""

    root: Path
    http_port: int
    rpc_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 30.0) -> None:
        binary = influxd_binary()
        if binary is None:
            raise FileNotFoundError(INSTALL_HINT)
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "influxdb.conf"
        config.write_text(influxd_config(self.root, self.http_port, self.rpc_port))
        log = (self.root / "influxd.log").open("ab")
        try:
            self.process = subprocess.Popen(
                [binary, "run", "-config", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"influxd exited early; see {self.root / 'influxd.log'}")
            if self.ping():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"influxd did not answer /ping in {timeout}s")

    def ping(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ping", timeout=1).status_code == 204
        except httpx.HTTPError:
            return False

    def query(self, statement: str) -> None:
        """Run an administrative InfluxQL statement (``CREATE DATABASE``...); raise on error."""
        response = httpx.post(f"{self.url}/query", data={"q": statement}, timeout=30)
        response.raise_for_status()
        for result in response.json().get("results", []):
            if "error" in result:
                raise RuntimeError(f"{statement}: {result['error']}")

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"')

    def drop_database(self, name: str) -> None:
        self.query(f'DROP DATABASE "{name}"')

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_influxd(root: Path, timeout: float = 30.0) -> InfluxServer:
    """Start influxd with its files under ``root``; raises FileNotFoundError if not installed."""
    http_port = free_port()
    rpc_port = free_port()
    while rpc_port == http_port:
        rpc_port = free_port()
    server = InfluxServer(root, http_port, rpc_port)
    server.start(timeout)
    return server
