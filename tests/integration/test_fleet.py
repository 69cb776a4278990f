"""The simulated fleet against real processes: Mosquitto, ``hub api``, ``hub bridge`` and
``hub sim`` itself (the command ``make run`` and the benchmarks use).

* 50 patients for 7 simulated days: every reading the fleet generated is stored, once; no
  duplicates; every device's record numbers complete.
* every fault switch at once (clock years off, duplicates, damaged frames, days offline, a
  device heard by two gateways, a power cut mid-publish, a device changing hands): the same,
  plus the hub's reaction to each fault.
* the broker stopped for 60 s mid-run: the gateways' outboxes hold the frames, and everything
  arrives after it returns, exactly once.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.adapters.frame_outbox import pending_count
from tests.integration.conftest import Broker, HubProcesses, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def sim_command(hub: HubProcesses, tmp_path: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hub",
        "sim",
        "--api",
        hub.api_url,
        "--no-live",
        "--data-dir",
        str(tmp_path / "sim"),
        "--summary-json",
        str(tmp_path / "summary.json"),
        *args,
    ]


def run_sim(hub: HubProcesses, tmp_path: Path, *args: str, timeout: float) -> dict[str, Any]:
    log = (tmp_path / "sim.log").open("wb")
    done = subprocess.run(
        sim_command(hub, tmp_path, *args),
        env=hub.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        timeout=timeout,
        check=False,
    )
    output = (tmp_path / "sim.log").read_text(errors="replace")
    assert done.returncode == 0, output
    summary: dict[str, Any] = json.loads((tmp_path / "summary.json").read_text())
    return summary


def readings_db(hub: HubProcesses) -> sqlite3.Connection:
    return sqlite3.connect(Path(hub.env["HUB_DATA_DIR"]) / "readings.sqlite3", timeout=30)


def registry_db(hub: HubProcesses) -> sqlite3.Connection:
    return sqlite3.connect(Path(hub.env["HUB_DATA_DIR"]) / "registry.sqlite3", timeout=30)


def stored_count(hub: HubProcesses) -> int:
    path = Path(hub.env["HUB_DATA_DIR"]) / "readings.sqlite3"
    if not path.exists():
        return 0
    with readings_db(hub) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def assert_stored_exactly_once(hub: HubProcesses, summary: dict[str, Any]) -> None:
    """Stored == generated, device by device; no duplicate; every record number present."""
    assert summary["outstanding"] == 0
    with readings_db(hub) as conn:
        rows, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT reading_id) FROM readings"
        ).fetchone()
        per_device = {
            device: count
            for device, count in conn.execute(
                "SELECT device_id, COUNT(*) FROM readings GROUP BY device_id"
            )
        }
        repeated = conn.execute(
            "SELECT device_id, metric, device_time, COUNT(*) FROM readings"
            " GROUP BY device_id, metric, device_time HAVING COUNT(*) > 1 LIMIT 5"
        ).fetchall()
        seqs: dict[str, set[int]] = {}
        for device, seq in conn.execute(
            "SELECT DISTINCT device_id, seq FROM readings WHERE seq IS NOT NULL"
        ):
            seqs.setdefault(device, set()).add(int(seq))
    assert rows == distinct == summary["readings"]
    assert repeated == []
    devices = summary["devices"]
    assert {d: c for d, c in per_device.items()} == {
        d: info["readings"] for d, info in devices.items() if info["readings"]
    }
    numbered = {d: info for d, info in devices.items() if info["seqs"]}
    assert numbered  # the glucose meters and the MQTT-native devices number their records
    for device, info in numbered.items():
        first, last = info["seqs"]
        assert info["seq_count"] == last - first + 1, device
        assert seqs[device] == set(range(first, last + 1)), device
    with registry_db(hub) as conn:
        assert conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 0


def metric(hub: HubProcesses, name: str) -> float:
    url = f"http://127.0.0.1:{hub.env['HUB_MQTT__METRICS_PORT']}/metrics"
    text = httpx.get(url, timeout=5).text
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    assert match, f"{name} not in metrics"
    return float(match[1])


def test_a_fleet_of_50_patients_for_7_days_is_stored_exactly_once(
    mosquitto: Broker, hub: HubProcesses, tmp_path: Path
) -> None:
    hub.env["HUB_LOG_LEVEL"] = "INFO"
    hub.start("api")
    hub.start("bridge")
    started = time.monotonic()
    summary = run_sim(
        hub,
        tmp_path,
        "--patients",
        "50",
        "--days",
        "7",
        "--speed",
        "max",
        "--seed",
        "2026",
        timeout=170,
    )
    elapsed = time.monotonic() - started
    assert summary["patients"] == 50
    assert summary["end"] > summary["start"]
    assert summary["readings"] > 40_000
    kinds = {info["kind"] for info in summary["devices"].values()}
    assert {"cgm", "glucose-meter", "bp-cuff", "scale", "canonical-cgm"} <= kinds
    assert_stored_exactly_once(hub, summary)
    with registry_db(hub) as conn:
        assert conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0] == 0
    print(f"50 patients x 7 days: {summary['readings']} readings in {elapsed:.0f} s")


def test_every_fault_switch_at_once_still_stores_each_reading_once(
    mosquitto: Broker, hub: HubProcesses, tmp_path: Path
) -> None:
    hub.env["HUB_LOG_LEVEL"] = "INFO"
    hub.start("api")
    hub.start("bridge")
    summary = run_sim(
        hub,
        tmp_path,
        "--patients",
        "16",
        "--days",
        "4",
        "--speed",
        "max",
        "--seed",
        "11",
        "--scenario",
        "all",
        timeout=170,
    )
    assert_stored_exactly_once(hub, summary)
    faults = "\n".join(summary["faults"])
    # damaged frames and the non-JSON message are dead-lettered, each once
    assert summary["malformed"] > 0 and summary["garbage"] > 0
    with registry_db(hub) as conn:
        frame_errors = conn.execute(
            "SELECT COUNT(*) FROM dead_letters WHERE field LIKE 'frames[%'"
        ).fetchone()[0]
        not_json = conn.execute(
            "SELECT COUNT(*) FROM dead_letters WHERE reason LIKE 'payload is not JSON%'"
        ).fetchone()[0]
    assert frame_errors == summary["malformed"]
    assert not_json == summary["garbage"]
    # duplicates and two gateways: resends the hub recognised
    assert metric(hub, "hub_readings_duplicate_total") > 0
    # a clock reset to 2015: the gateway read the device's clock on connecting, so every
    # reading after the reset is put back at its true instant by that offset, flagged, with
    # the raw 2015 device time kept
    reset = re.findall(r"(\S+): clock reset to 2015", faults)
    assert reset
    start_ms = datetime.fromisoformat(summary["start"]).timestamp() * 1000
    with readings_db(hub) as conn:
        for device in reset:
            rows = conn.execute(
                "SELECT flags, device_time, t_ms, time_source FROM readings"
                " WHERE device_id = ? AND device_time LIKE '2015-%'",
                (device,),
            ).fetchall()
            assert rows, device
            for flags, _, t_ms, time_source in rows:
                assert "clock-skew" in flags and "time-corrected" in flags
                assert time_source == "device-corrected"
                assert t_ms >= start_ms - 86_400_000  # in the simulated window, not in 2015
    # a device changing hands: its readings go to each patient for their own time
    moved = re.search(r"(\S+): moves from (\S+) to (\S+) at (\S+)", faults)
    assert moved
    at_ms = datetime.fromisoformat(moved[4]).timestamp() * 1000
    with readings_db(hub) as conn:
        owners = {
            patient: (first, last)
            for patient, first, last in conn.execute(
                "SELECT patient_id, MIN(t_ms), MAX(t_ms) FROM readings WHERE device_id = ?"
                " GROUP BY patient_id",
                (moved[1],),
            )
        }
    assert set(owners) == {moved[2], moved[3]}
    assert owners[moved[2]][1] < at_ms <= owners[moved[3]][0]


def test_a_60s_broker_outage_loses_and_duplicates_nothing(
    mosquitto: Broker, hub: HubProcesses, tmp_path: Path
) -> None:
    hub.env["HUB_LOG_LEVEL"] = "INFO"
    hub.start("api")
    hub.start("bridge")
    log = (tmp_path / "sim.log").open("wb")
    # 10 hours of history at 360x: the replay takes ~100 s, the outage falls in the middle.
    fleet = subprocess.Popen(
        sim_command(
            hub,
            tmp_path,
            "--patients",
            "10",
            "--history-hours",
            "10",
            "--speed",
            "360",
            "--seed",
            "5",
            "--drain-timeout",
            "240",
        ),
        env=hub.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: stored_count(hub) > 200, "the fleet's first readings stored", 60)
        outboxes = list((tmp_path / "sim").glob("*/*.sqlite3"))
        assert outboxes

        def held() -> int:
            return sum(pending_count(path) for path in outboxes)

        mosquitto.stop()
        deadline = time.monotonic() + 60
        time.sleep(5)  # the bridge commits what it had in hand
        stored_during = stored_count(hub)
        samples = []
        while time.monotonic() < deadline:
            assert fleet.poll() is None, (tmp_path / "sim.log").read_text()
            samples.append(held())
            time.sleep(5)
        # nothing can arrive without the broker; the outboxes hold what is produced meanwhile
        assert stored_count(hub) == stored_during
        assert samples[-1] > samples[0] > 0, samples
        mosquitto.start()
        fleet.wait(timeout=300)
    finally:
        if fleet.poll() is None:
            fleet.kill()
            fleet.wait()
    assert fleet.returncode == 0, (tmp_path / "sim.log").read_text()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["reconnects"] > 0
    assert held() == 0
    assert_stored_exactly_once(hub, summary)
