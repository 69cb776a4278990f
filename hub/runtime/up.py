"""``hub up``: the whole hub on one machine — broker, API, bridge and a simulated fleet, and
one home whose devices go through a simulated BlueZ, bleak and ``hub ble-gateway``.

Each part runs as its own child process (``python -m hub <part>``) with the same settings, so
what runs here is what runs in production, one process per role. The supervisor starts them in
dependency order, waits for each to be ready, stops everything cleanly on Ctrl-C (SIGINT) or
SIGTERM, and stops everything if any part dies.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

import httpx

from hub.adapters.mqtt_bridge import wait_online
from hub.adapters.tokens import Role, mint_token
from hub.config import Settings
from hub.runtime import ble_home
from hub.runtime.ble_home import BleHome
from hub.runtime.broker import mosquitto_binary, spawn_mosquitto

log = logging.getLogger(__name__)


def wait_for(
    check: Callable[[], bool], what: str, timeout: float, alive: Callable[[], bool] = lambda: True
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what} exited during start-up")
        if check():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.env = dict(os.environ)
        self._stopping = False
        self.ble_home = BleHome(settings)

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-m", "hub", *args], env=self.env)
        self.children.append((name, process))
        return process

    def _start_broker(self) -> None:
        settings = self.settings
        mode = settings.broker.mode
        if mode == "auto":
            mode = "mosquitto" if mosquitto_binary() else "embedded"
        if mode == "external":
            log.info(
                "using the external MQTT broker at %s:%d", settings.mqtt.host, settings.mqtt.port
            )
            return
        if port_open(settings.mqtt.host, settings.mqtt.port):
            raise RuntimeError(
                f"port {settings.mqtt.port} is taken: stop the other broker or set "
                "HUB_MQTT__PORT, or HUB_BROKER__MODE=external to use it"
            )
        if mode == "mosquitto":
            assert settings.broker.data_dir is not None
            process = spawn_mosquitto(
                settings.mqtt.host, settings.mqtt.port, settings.broker.data_dir
            )
            self.children.append(("mosquitto", process))
        else:
            log.warning(
                "Mosquitto not found: starting the embedded broker (MQTT 3.1.1, development only)"
            )
            self.env["HUB_MQTT__PROTOCOL"] = "3.1.1"
            process = self._spawn("embedded-broker", "broker")
        wait_for(
            lambda: port_open(settings.mqtt.host, settings.mqtt.port),
            "MQTT broker",
            30,
            lambda: process.poll() is None,
        )

    def _start_vault(self) -> None:
        """The reference document vault (``hub vault``), where the reports are filed; every
        role files to and reads from it at its address unless HUB_VAULT__URL names another."""
        vault_settings = self.settings.vault
        url = f"http://{vault_settings.host}:{vault_settings.port}"
        self.env.setdefault("HUB_VAULT__URL", url)
        vault = self._spawn("vault", "vault")
        wait_for(lambda: http_ok(f"{url}/healthz"), "vault", 60, lambda: vault.poll() is None)

    def start(self) -> None:
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._start_broker()
        self._start_vault()
        api = self._spawn("api", "api")
        base = f"http://{settings.api.host}:{settings.api.port}"
        wait_for(lambda: http_ok(f"{base}/healthz"), "API", 60, lambda: api.poll() is None)
        bridge = self._spawn("bridge", "bridge")
        # The fleet publishes only once the bridge's subscription exists (no lost first batch).
        wait_for(
            lambda: wait_online(
                settings.mqtt.host, settings.mqtt.port, settings.mqtt.client_id, 1.0
            ),
            "MQTT bridge",
            60,
            lambda: bridge.poll() is None,
        )
        self._spawn("reports", "reports", "serve")  # the report schedule and its deliveries
        if settings.sim.enabled and settings.sim.patients > 0:
            self._spawn("sim", "sim", "--api", base)
        if settings.sim.enabled:  # one home through the simulated BlueZ, bleak and hub ble-gateway
            gateway = self.ble_home.start(base, self.env)
            if gateway is not None:
                self.children.append(("ble-gateway", gateway))
        self._banner(base)

    def _banner(self, base: str) -> None:
        settings = self.settings
        token = mint_token(
            settings.auth, subject="pat-demo-0001", role=Role.PATIENT, now=datetime.now(UTC)
        )
        print(
            f"\nHub is up.\n  API      {base}  (OpenAPI: {base}/docs)\n"
            f"  MQTT     {settings.mqtt.host}:{settings.mqtt.port}\n"
            f"  data     {settings.data_dir.resolve()}\n\n"
            "The first simulated patient's page, signed in (the token stays in the link's\n"
            "fragment: never sent to the server):\n"
            f"  {base}/#token={token}\n\n"
            "Readings of the first simulated patient:\n"
            f"  curl -H 'Authorization: Bearer {token}' \\\n"
            f"    '{base}/v1/patients/pat-demo-0001/readings?limit=5'\n"
            f"(the devices of {ble_home.PATIENT} reach the hub through a simulated BlueZ, "
            "bleak and `hub ble-gateway`)\n\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            self.start()
            while not self._stopping:
                for name, process in self.children:
                    if process.poll() is not None:
                        log.error(
                            "%s exited with code %s: stopping the hub", name, process.returncode
                        )
                        return 1
                time.sleep(0.5)
            return 0
        except (RuntimeError, TimeoutError) as err:
            log.error("%s", err)
            return 1
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop children in reverse start order: SIGTERM, then SIGKILL after a grace period."""
        for _name, process in reversed(self.children):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, process in reversed(self.children):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time: killing it", name)
                process.kill()
                process.wait()
        self.children.clear()
        self.ble_home.close()
