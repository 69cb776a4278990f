"""`hub up` — what `make run` starts — serves the simulated fleet's readings, then stops cleanly.

Run once with Mosquitto and once with the embedded broker (the fallback on a machine without
Mosquitto), each as a real process tree on free ports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from hub.adapters.tokens import Role, mint_token
from hub.config import AuthSettings
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def children_of(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in out.split()]


@pytest.mark.parametrize("broker_mode", ["mosquitto", "embedded"])
def test_hub_up_serves_simulated_readings_within_60s_and_stops_cleanly(
    tmp_path: Path, broker_mode: str
) -> None:
    api_port, mqtt_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_DATA_DIR": str(tmp_path / "var"),
            "HUB_API__PORT": str(api_port),
            "HUB_MQTT__PORT": str(mqtt_port),
            "HUB_MQTT__METRICS_PORT": str(free_port()),
            "HUB_REPORTS__METRICS_PORT": str(free_port()),
            "HUB_BROKER__MODE": broker_mode,
            "HUB_SIM__PATIENTS": "2",
            "HUB_VAULT__PORT": str(free_port()),
        }
    )
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "hub", "up"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    started = time.monotonic()
    token = mint_token(
        AuthSettings(), subject="pat-demo-0001", role=Role.PATIENT, now=datetime.now(UTC)
    )
    url = f"http://127.0.0.1:{api_port}/v1/patients/pat-demo-0001/readings"
    items: list[dict[str, object]] = []
    try:
        while time.monotonic() - started < 60 and not items:
            assert up.poll() is None, (tmp_path / "up.log").read_text()
            try:
                response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=2)
                if response.status_code == 200:
                    items = response.json()["items"]
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert items, "no simulated reading within 60 s:\n" + (tmp_path / "up.log").read_text()
        assert {item["device_id"] for item in items} <= {
            "sim-cgm-0001",
            "sim-bp-0001",
            "sim-scale-0001",
            "sim-oxi-0001",
        }
        # the BLE home: through the simulated BlueZ, bleak and hub ble-gateway
        home = f"http://127.0.0.1:{api_port}/v1/patients/pat-ble-home/readings"
        home_token = mint_token(
            AuthSettings(), subject="pat-ble-home", role=Role.PATIENT, now=datetime.now(UTC)
        )
        ble: list[dict[str, object]] = []
        while time.monotonic() - started < 90 and not ble:
            response = httpx.get(home, headers={"Authorization": f"Bearer {home_token}"}, timeout=5)
            ble = response.json()["items"] if response.status_code == 200 else []
            time.sleep(0.5)
        assert ble, "no reading of the BLE home:\n" + (tmp_path / "up.log").read_text()
        assert {item["source"] for item in ble} == {"gateway"}
        children = children_of(up.pid)
        # broker, vault, api, bridge, reports, sim, ble-gateway, the simulated BlueZ's bus
        assert len(children) == 8
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=30)
    assert code == 0, (tmp_path / "up.log").read_text()
    for pid in children:
        assert (
            not Path(f"/proc/{pid}").exists()
            or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
        )
