"""Ingest benchmark: the hub's bridge against the bare consumers, side by side, in one run.

    python -m bench.ingest                                  # 200,000 messages, 3 rounds
    python -m bench.ingest --messages 50000 --rounds 3 --consumers paho,hub-sqlite
    make bench-ingest BENCH_ARGS="--messages 100000"
    python -m bench.ingest --soak 600 --rate 1000            # a live bridge's memory, 10 min

Every consumer drains the same backlog (``bench/workload.py``: 200,000 mixed messages from
1,000 devices — canonical JSON, vendor JSON and raw GATT frames behind 20 gateways) from the
same Mosquitto with the same configuration: it subscribes with a persistent session, goes
away, the stream is published at QoS 1, and the consumer comes back and drains it. Consumers:

* ``mosquitto_sub`` (C): receives (``-C N`` exits once N arrived, before the broker has its
  last PUBACKs: a ceiling, not a peer);
* ``paho``: a bare paho-mqtt subscriber, manual ack, ReceiveMaximum 2000 (``bench/paho_sub.py``)
  — the baseline every ratio is taken against;
* ``hub-sqlite``, ``hub-influxdb``: one ``hub bridge`` (acks only after the durable commit);
* ``hub-sqlite-x2``: two ``hub bridge`` processes sharing the stream (``$share``);
* ``hub-sqlite-inline``, ``hub-sqlite-w2``: one bridge ingesting in its own process
  (``HUB_MQTT__INGEST_WORKERS=0``) or in two worker processes (the default is one).

CPU and peak RSS are those of each bridge with its ingest worker processes; "of which bridge"
is the CPU of the bridge processes alone (receiving, batching, acknowledging).

Rounds interleave the consumers (A B C, A B C, ...) so that a noisy neighbour hits all of them;
each figure is the median over rounds. Reported: messages per second from the first message
to the last acknowledgement, the ratio to paho, CPU microseconds per message of the consumer
process(es) over the drain, peak RSS, and for the hub an integrity line: readings stored
against readings expected (the workload decoded by the hub's own decoder), duplicates, lost.
Nothing is asserted: the figures go to docs/performance.md with the command that made them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench import workload
from device_profiles.catalog import load_catalog
from hub.adapters.mqtt_bridge import wait_online
from hub.adapters.registry import Registry
from hub.adapters.store.influx_server import InfluxServer, influxd_binary, start_influxd
from hub.core.decoding import MessageDecoder
from hub.core.pipeline import Policy
from hub.core.wire import parse_topic
from hub.runtime.broker import mosquitto_binary, spawn_mosquitto
from hub.runtime.up import port_open

CONSUMERS = (
    "mosquitto_sub",
    "paho",
    "hub-sqlite",
    "hub-influxdb",
    "hub-sqlite-x2",
    "hub-sqlite-inline",
    "hub-sqlite-w2",
)
IN_FLIGHT = 1000  # the publisher's own window (paho's max_inflight stalls on 100k queued)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- measurements of a process ------------------------------------------------------------


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (a bridge and its ingest worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds(pid: int, *, descendants: bool = True) -> float:
    """CPU time (user + system) of ``pid`` and (unless told not to) its live descendants."""
    total = 0.0
    for member in process_tree(pid) if descendants else [pid]:
        with contextlib.suppress(OSError):
            fields = _stat(member)
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def _memory_mb(pid: int, field: str) -> float:
    """The sum of ``field`` (of /proc/PID/status) over ``pid`` and its live descendants."""
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1]) / 1024
    return total


def peak_rss_mb(pid: int) -> float:
    """The sum of the peak resident sizes of ``pid`` and its live descendants."""
    return _memory_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    """The current resident size of ``pid`` and its live descendants."""
    return _memory_mb(pid, "VmRSS")


@dataclass
class Result:
    consumer: str
    messages: int
    seconds: float
    cpu_s: float
    rss_mb: float
    stored: int | None = None
    distinct: int | None = None
    expected: int | None = None
    own_cpu_s: float | None = None  # the bridge processes alone, without their workers

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


# --- the broker and the stream ------------------------------------------------------------


@dataclass
class Bench:
    root: Path
    stream: Path
    messages: int
    expected_readings: int
    port: int = 0
    broker: subprocess.Popen[bytes] | None = None
    influx: InfluxServer | None = None
    runs: int = 0
    results: list[Result] = field(default_factory=list)

    def start_broker(self) -> None:
        self.port = free_port()
        self.broker = spawn_mosquitto("127.0.0.1", self.port, self.root / "broker")
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.broker is not None:
            self.broker.terminate()
            self.broker.wait(timeout=30)
        if self.influx is not None:
            self.influx.stop()

    def publish(self, rate: float | None = None) -> float:
        """Publish the whole stream at QoS 1 with a window of IN_FLIGHT (at most ``rate``
        messages a second, if given); seconds taken."""
        window = threading.Semaphore(IN_FLIGHT)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.max_inflight_messages_set(IN_FLIGHT + 10)
        client.max_queued_messages_set(0)
        client.on_publish = lambda *_: window.release()
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        started = time.monotonic()
        infos = []
        for number, message in enumerate(workload.read(self.stream)):
            if rate is not None:
                ahead = started + number / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            window.acquire()
            infos.append(client.publish(message.topic, message.payload, qos=1))
        for info in infos[-IN_FLIGHT:]:
            info.wait_for_publish(timeout=120)
        elapsed = time.monotonic() - started
        client.disconnect()
        client.loop_stop()
        return elapsed


# --- consumers ------------------------------------------------------------------------------


def run_mosquitto_sub(bench: Bench, client_id: str) -> Result:
    binary = shutil.which("mosquitto_sub")
    if binary is None:
        raise RuntimeError("mosquitto_sub is missing: apt-get install mosquitto-clients")
    base = [binary, "-h", "127.0.0.1", "-p", str(bench.port), "-q", "1", "-c", "-i", client_id]
    base += ["-t", "hs/v1/#", "-V", "mqttv5", "-x", "3600"]
    subprocess.run([*base, "-E"], check=True, timeout=30)
    bench.publish()
    started = time.monotonic()
    process = subprocess.Popen([*base, "-C", str(bench.messages)], stdout=subprocess.DEVNULL)
    pid = process.pid
    cpu, rss = 0.0, 0.0
    while process.poll() is None:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            cpu, rss = cpu_seconds(pid), peak_rss_mb(pid)
        time.sleep(0.02)
    return Result("mosquitto_sub", bench.messages, time.monotonic() - started, cpu, rss)


def run_paho(bench: Bench, client_id: str) -> Result:
    command = [sys.executable, "-m", "bench.paho_sub", str(bench.port), client_id]
    subprocess.run([*command, "prime"], check=True, timeout=60)
    bench.publish()
    process = subprocess.Popen([*command, "drain", str(bench.messages)], stdout=subprocess.PIPE)
    cpu, rss = 0.0, 0.0
    while process.poll() is None:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            cpu, rss = cpu_seconds(process.pid), peak_rss_mb(process.pid)
        time.sleep(0.05)
    assert process.stdout is not None
    report = json.loads(process.stdout.read())
    return Result("paho", report["count"], report["last"] - report["first"], cpu, rss)


def _prepare_registry(url: str, now: datetime) -> None:
    """Every device enrolled (one patient each), gateways registered and paired."""
    registry = Registry(url)
    try:
        start = now - timedelta(days=2)
        for index, device in enumerate(workload.devices()):
            registry.enrollments.enroll(
                device.device_id,
                f"pat-bench-{index:04d}",
                start,
                actor="bench",
                role="admin",
                created=now,
            )
            if device.gateway_id is not None:
                registry.devices.register(
                    device.device_id, profile=device.kind, maker="bench", now=start
                )
                registry.gateways.register(
                    device.gateway_id, owner="bench", zone=workload.ZONE, now=start
                )
                registry.gateways.pair_device(device.gateway_id, device.device_id, now=start)
    finally:
        registry.close()


def _metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


RegistryPreparer = Callable[[str, datetime], None]  # (registry URL, now)


def _hub_env(
    bench: Bench,
    client_id: str,
    backend: str,
    ingest_workers: int,
    *,
    prepare: RegistryPreparer | None = None,
) -> dict[str, str]:
    """The environment of a ``hub bridge`` under test, its data directory and registry made
    (by ``prepare``; the workload's devices by default)."""
    data = bench.root / client_id
    data.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_ENVIRONMENT": "test",
            "HUB_AUTH__SECRET": secrets.token_urlsafe(32),  # the test environment wants one
            "HUB_DATA_DIR": str(data),
            "HUB_LOG_LEVEL": "WARNING",
            "HUB_MQTT__PORT": str(bench.port),
            "HUB_STORE__BACKEND": backend,
            "HUB_MQTT__INGEST_WORKERS": str(ingest_workers),
        }
    )
    if backend == "influxdb":
        assert bench.influx is not None
        database = client_id.replace("-", "_")
        bench.influx.create_database(database)
        env["HUB_STORE__INFLUX_URL"] = bench.influx.url
        env["HUB_STORE__INFLUX_DATABASE"] = database
    (prepare or _prepare_registry)(f"sqlite:///{data / 'registry.sqlite3'}", datetime.now(UTC))
    return env


def _start_bridges(
    env: dict[str, str], client_id: str, ports: list[int]
) -> list[subprocess.Popen[bytes]]:
    processes = []
    for index, port in enumerate(ports):
        worker_env = {
            **env,
            "HUB_MQTT__CLIENT_ID": f"{client_id}-{index}",
            "HUB_MQTT__METRICS_PORT": str(port),
        }
        processes.append(subprocess.Popen([sys.executable, "-m", "hub", "bridge"], env=worker_env))
    return processes


def _wait(check: Callable[[], bool], timeout: float, what: str, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(every)
    raise RuntimeError(f"{what}: timed out")


def run_hub(
    bench: Bench, client_id: str, backend: str, workers: int, ingest_workers: int = 1
) -> Result:
    env = _hub_env(bench, client_id, backend, ingest_workers)
    data = Path(env["HUB_DATA_DIR"])
    if workers > 1:
        env["HUB_MQTT__SHARE_GROUP"] = client_id
    ports = [free_port() for _ in range(workers)]

    def total(name: str) -> float:
        return sum(_metric(port, name) for port in ports)

    processes = _start_bridges(env, client_id, ports)  # subscribe once: the session keeps...
    for index in range(workers):
        if not wait_online("127.0.0.1", bench.port, f"{client_id}-{index}", 60):
            raise RuntimeError(f"{client_id}-{index} never came online")
    _stop(processes)
    bench.publish()  # ...what comes next
    processes = _start_bridges(env, client_id, ports)
    _wait(lambda: total("hub_messages_received_total") > 0, 120, client_id)
    first = time.monotonic()
    cpu_start = sum(cpu_seconds(p.pid) for p in processes)
    own_start = sum(cpu_seconds(p.pid, descendants=False) for p in processes)
    rss = 0.0

    def drained() -> bool:
        nonlocal rss
        rss = max(rss, max(peak_rss_mb(p.pid) for p in processes))
        return total("hub_messages_acknowledged_total") >= bench.messages

    # Each poll renders the bridge's whole /metrics page: 10 a second costs it little (at
    # 50 a second the exposition was 4 % of the bridge's CPU in a py-spy profile).
    _wait(drained, 3600, client_id, every=0.1)
    seconds = time.monotonic() - first
    cpu = sum(cpu_seconds(p.pid) for p in processes) - cpu_start
    own = sum(cpu_seconds(p.pid, descendants=False) for p in processes) - own_start
    _stop(processes)
    stored, distinct = _count(data, backend, bench)
    name = f"hub-{backend}" + (f"-x{workers}" if workers > 1 else "")
    name += {0: "-inline", 1: ""}.get(ingest_workers, f"-w{ingest_workers}")
    return Result(
        name, bench.messages, seconds, cpu, rss, stored, distinct, bench.expected_readings, own
    )


def soak(bench: Bench, seconds: float, rate: float, every: float = 30.0) -> None:
    """One live bridge (SQLite, one ingest worker) fed ``rate`` messages a second for
    ``seconds``: its resident memory (with its worker) every ``every`` seconds, then whether
    it stored every reading once. The stream is the workload, paced; nothing is asserted."""
    client_id = "bench-soak"
    env = _hub_env(bench, client_id, "sqlite", 1)
    port = free_port()
    [bridge] = _start_bridges(env, client_id, [port])
    if not wait_online("127.0.0.1", bench.port, f"{client_id}-0", 60):
        raise RuntimeError("the soak's bridge never came online")
    publisher = threading.Thread(target=bench.publish, kwargs={"rate": rate}, daemon=True)
    started = time.monotonic()
    publisher.start()
    samples: list[tuple[float, float, float]] = []
    while publisher.is_alive() and time.monotonic() - started < seconds + every:
        time.sleep(every)
        acked = _metric(port, "hub_messages_acknowledged_total")
        samples.append((time.monotonic() - started, rss_mb(bridge.pid), acked))
        at, rss, _ = samples[-1]
        print(f"soak t={at:5.0f}s rss={rss:6.1f} MB acked={acked:,.0f}", flush=True)
    publisher.join()
    _wait(
        lambda: _metric(port, "hub_messages_acknowledged_total") >= bench.messages,
        600,
        "the soak's drain",
        every=0.5,
    )
    _stop([bridge])
    stored, distinct = _count(Path(env["HUB_DATA_DIR"]), "sqlite", bench)
    rss_values = [rss for _, rss, _ in samples]
    print(
        f"soak: {bench.messages:,} messages at {rate:,.0f}/s; bridge RSS (with its worker) "
        f"first {rss_values[0]:.1f} MB, last {rss_values[-1]:.1f} MB, max {max(rss_values):.1f}"
        f" MB; stored {stored:,}/{bench.expected_readings:,}, duplicates {stored - distinct}"
    )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(timeout=60)


def _count(data: Path, backend: str, bench: Bench) -> tuple[int, int]:
    if backend == "sqlite":
        with sqlite3.connect(data / "readings.sqlite3") as conn:
            row = conn.execute("SELECT COUNT(*), COUNT(DISTINCT reading_id) FROM readings")
            stored, distinct = row.fetchone()
        return int(stored), int(distinct)
    from hub.adapters.store.influx import InfluxReadingStore
    from hub.adapters.store.influx_http import InfluxTarget

    assert bench.influx is not None
    store = InfluxReadingStore(
        InfluxTarget(url=bench.influx.url, database=data.name.replace("-", "_"))
    )
    try:
        stored = store.count()
    finally:
        store.close()
    return stored, stored  # identity is exact on write (docs/storage.md)


# --- the run ---------------------------------------------------------------------------------


def expected_readings(stream: Path, now: datetime) -> int:
    decoder = MessageDecoder(load_catalog(), Policy(), max_payload_bytes=256 * 1024)
    return sum(
        len(decoder.decode(parse_topic(m.topic), m.payload, now).items)
        for m in workload.read(stream)
    )


def report(bench: Bench) -> None:
    by_consumer: dict[str, list[Result]] = {}
    for result in bench.results:
        by_consumer.setdefault(result.consumer, []).append(result)
    baseline = (
        statistics.median(r.rate for r in by_consumer.get("paho", []))
        if "paho" in by_consumer
        else None
    )
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        f"workload: {bench.messages:,} messages, {bench.expected_readings:,} readings, "
        "1,000 devices"
    )
    print()
    header = (
        f"{'consumer':<16} {'msg/s (median)':>15} {'vs paho':>8} {'CPU us/msg':>11} "
        f"{'of which bridge':>16} {'peak RSS MB':>12}  integrity"
    )
    print(header)
    print("-" * len(header))
    for consumer, results in by_consumer.items():
        rate = statistics.median(r.rate for r in results)
        cpu = statistics.median(r.cpu_s / r.messages * 1e6 for r in results)
        owns = [r.own_cpu_s / r.messages * 1e6 for r in results if r.own_cpu_s is not None]
        own = f"{statistics.median(owns):.1f}" if owns else "-"
        rss = max(r.rss_mb for r in results)
        ratio = f"{rate / baseline:.2f}" if baseline else "-"
        integrity = ""
        if results[0].stored is not None:
            worst = min(results, key=lambda r: r.stored or 0)
            duplicates = max((r.stored or 0) - (r.distinct or 0) for r in results)
            lost = max((r.expected or 0) - (r.distinct or 0) for r in results)
            integrity = (
                f"stored {worst.stored:,}/{worst.expected:,}, duplicates {duplicates}, lost {lost}"
            )
        runs = ", ".join(f"{r.rate:,.0f}" for r in results)
        print(
            f"{consumer:<16} {rate:>15,.0f} {ratio:>8} {cpu:>11.1f} {own:>16} {rss:>12.0f}  "
            f"{integrity}"
        )
        print(f"{'':<16} runs: {runs}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--consumers", default=",".join(CONSUMERS))
    parser.add_argument(
        "--soak",
        type=float,
        metavar="SECONDS",
        help="instead: one live bridge fed --rate messages/s for SECONDS, its RSS sampled",
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="messages/s of --soak")
    args = parser.parse_args(argv)
    if args.soak is not None:
        args.messages = int(args.soak * args.rate)
    consumers = [c for c in args.consumers.split(",") if c]
    if mosquitto_binary() is None:
        print("mosquitto is missing: apt-get install mosquitto mosquitto-clients", file=sys.stderr)
        return 1
    root = Path(tempfile.mkdtemp(prefix="hub-bench-ingest-"))
    try:
        now = datetime.now(UTC)
        stream = root / "stream.bin"
        count = workload.write(stream, workload.messages(args.messages, now))
        bench = Bench(root, stream, count, expected_readings(stream, now))
        bench.start_broker()
        if args.soak is not None:
            soak(bench, args.soak, args.rate)
            bench.stop()
            return 0
        if "hub-influxdb" in consumers:
            if influxd_binary() is None:
                print("influxd is missing: apt-get install influxdb", file=sys.stderr)
                return 1
            bench.influx = start_influxd(root / "influx")
        runners: dict[str, Callable[[str], Result]] = {
            "mosquitto_sub": lambda cid: run_mosquitto_sub(bench, cid),
            "paho": lambda cid: run_paho(bench, cid),
            "hub-sqlite": lambda cid: run_hub(bench, cid, "sqlite", 1),
            "hub-influxdb": lambda cid: run_hub(bench, cid, "influxdb", 1),
            "hub-sqlite-x2": lambda cid: run_hub(bench, cid, "sqlite", 2),
            "hub-sqlite-inline": lambda cid: run_hub(bench, cid, "sqlite", 1, ingest_workers=0),
            "hub-sqlite-w2": lambda cid: run_hub(bench, cid, "sqlite", 1, ingest_workers=2),
        }
        for round_number in range(args.rounds):
            for consumer in consumers:
                client_id = f"bench-{consumer}-{round_number}"
                result = runners[consumer](client_id)
                bench.results.append(result)
                print(f"round {round_number + 1} {consumer}: {result.rate:,.0f} msg/s", flush=True)
        report(bench)
        bench.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
