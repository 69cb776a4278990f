"""Real processes for integration tests: Mosquitto and the hub's own roles, on free ports.

Nothing here is mocked: a Mosquitto binary from Debian's package, ``python -m hub api`` and
``python -m hub bridge`` as child processes, talking over loopback. A missing binary fails the
test with the command that installs it (``make test`` installs it when run as root).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.adapters.mqtt_bridge import wait_online
from hub.adapters.tokens import Role, mint_token
from hub.config import AuthSettings
from hub.runtime.broker import mosquitto_binary, spawn_mosquitto
from hub.runtime.up import http_ok, port_open
from tests.conftest import TEST_AUTH, free_port, hub_environment


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Broker:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    data_dir: Path

    def client(self, client_id: str = "", protocol: int = mqtt.MQTTv5) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        client.connect(self.host, self.port)
        client.loop_start()
        return client

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def start(self) -> None:
        self.process = spawn_mosquitto(self.host, self.port, self.data_dir)
        wait_until(lambda: port_open(self.host, self.port), "mosquitto")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    if mosquitto_binary() is None:
        pytest.fail(
            "mosquitto is not installed: run `make test` (as root it installs it) "
            "or `apt-get install mosquitto`"
        )
    port = free_port()
    data_dir = tmp_path / "broker"
    process = spawn_mosquitto("127.0.0.1", port, data_dir)
    broker = Broker("127.0.0.1", port, process, data_dir)
    wait_until(lambda: port_open("127.0.0.1", port), "mosquitto")
    yield broker
    broker.stop()


@dataclass
class HubProcesses:
    """``hub api`` and ``hub bridge`` as child processes sharing one data directory."""

    env: dict[str, str]
    api_url: str
    auth: AuthSettings
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str) -> subprocess.Popen[bytes]:
        """Start ``name``: "api", "bridge", or "bridge-<x>" for another bridge process."""
        role = name.split("-")[0]
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "hub", role],
            env=dict(self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes[name] = process
        if role == "api":
            wait_until(lambda: http_ok(f"{self.api_url}/healthz"), "hub api")
        if role == "bridge":
            assert wait_online(
                self.env["HUB_MQTT__HOST"],
                int(self.env["HUB_MQTT__PORT"]),
                self.env["HUB_MQTT__CLIENT_ID"],
                30,
            ), "bridge never came online"
        return process

    def stop(self, role: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(role)
        if process.poll() is None:
            process.send_signal(sig)
            process.wait(timeout=30)

    def log(self, role: str) -> str:
        return (self.log_dir / f"{role}.log").read_text(errors="replace")

    def token(self, role: Role, subject: str) -> str:
        return mint_token(self.auth, subject=subject, role=role, now=datetime.now(UTC))

    def http(self, role: Role, subject: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url,
            timeout=10,
            headers={"Authorization": f"Bearer {self.token(role, subject)}"},
        )


@pytest.fixture
def hub(mosquitto: Broker, tmp_path: Path) -> Iterator[HubProcesses]:
    api_port = free_port()
    env = hub_environment(
        {
            "HUB_DATA_DIR": str(tmp_path / "var"),
            "HUB_API__PORT": str(api_port),
            "HUB_MQTT__HOST": mosquitto.host,
            "HUB_MQTT__PORT": str(mosquitto.port),
            "HUB_MQTT__CLIENT_ID": f"hub-bridge-test-{api_port}",
            "HUB_MQTT__BATCH_WINDOW_MS": "50",
            "HUB_MQTT__METRICS_PORT": str(free_port()),
            "HUB_REPORTS__METRICS_PORT": str(free_port()),
            "HUB_LOG_LEVEL": "DEBUG",
        }
    )
    processes = HubProcesses(env, f"http://127.0.0.1:{api_port}", TEST_AUTH, tmp_path)
    yield processes
    for role in list(processes.processes):
        processes.stop(role)
