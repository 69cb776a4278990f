"""A national minute: a country's CGM users reaching the hub through one simulator process.

    python -m bench.national                                   # 10,000 gateways, 3,300/s, 60 s
    python -m bench.national --gateways 1000 --rate 500 --seconds 20
    python -m bench.national --no-hub                          # the simulator and broker alone
    make bench-national BENCH_NATIONAL_ARGS="--gateways 2000"

The scenario: one million people wearing a CGM, one reading every five minutes each — about
3,300 readings a second — through 10,000 home gateways, for one minute. The ~200,000 sensors
that report during that minute are the device population (``--devices-per-gateway``, 20 by
default, paired with each gateway), registered in the hub's registry in bulk before the run.

Processes, all real: Mosquitto (``spawn_mosquitto``, as the ingest benchmark starts it), one
``hub bridge`` on SQLite with its ingest worker (``bench/ingest.py``'s helpers), and ONE
simulator process holding every gateway's MQTT connection on the simulator's shared network
loop (``gateway_firmware_sim.mqtt_link``: one thread for all links). Each gateway connects as
the simulated firmware does (persistent session, retained ``online`` presence and last will,
its acks topic), then publishes what its CGMs send: one frames message per reading, a CGM
Session Start Time frame (2AAA) dating a CGM Measurement frame (2AA7), built with the
project's GATT encoders and the gateways' frames envelope (``hub.core.frame_messages``).
Messages are paced evenly over the minute across gateways; a message the hub has not acked
end to end when its gateway reconnects is sent again, as a gateway's outbox would.

Reported: the time to connect every gateway, offered and achieved publish rates, readings
stored, the end-to-end lag (publish → the hub's ack on the gateway's acks topic, which the hub
sends only after the durable commit) p50/p99/max, the drain time after the minute, CPU seconds
and peak RSS of the simulator, the bridge (with its ingest worker) and the broker, the load
average, and an integrity line (distinct readings published = stored, duplicates, lost).
Nothing is asserted: the figures go to docs/performance.md ("A national minute").
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from bench import ingest
from device_profiles.cgm import (
    CgmRecord,
    CgmSessionStartTime,
    encode_cgm_measurement,
    encode_cgm_session_start_time,
)
from device_profiles.gatt_time import GattDateTime
from gateway_firmware_sim.mqtt_link import (
    Connected,
    Delivered,
    Disconnected,
    LinkEvent,
    LinkLoop,
    MqttLink,
    Presence,
    Received,
)
from hub.adapters.mqtt_bridge import wait_online
from hub.adapters.registry import Registry, schema
from hub.config import MqttSettings
from hub.core.backoff import Backoff
from hub.core.frame_messages import DeviceInfo, OutboxItem, frames_message
from hub.core.wire import gateway_acks_topic, gateway_frames_topic, gateway_status_topic
from hub.runtime.broker import mosquitto_binary

ZONE = "Europe/Paris"
PROFILE = "generic-ble-cgm"
CLIENT_ID = "bench-national"
SESSION_AGE = timedelta(days=2)  # every sensor's session started this long before the run
EVERY_MIN = 5  # a CGM reading every five minutes


def gateway_id(index: int) -> str:
    return f"nat-gw-{index:05d}"


def device_id(index: int) -> str:
    return f"nat-cgm-{index:06d}"


def raise_fd_limit() -> int:
    """The soft limit of open files raised to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return int(soft)


# --- the registry, in bulk -------------------------------------------------------------------


def register_in_bulk(gateways: int, per_gateway: int) -> ingest.RegistryPreparer:
    """A registry preparer for ``bench.ingest``'s hub environment: every gateway registered,
    ``per_gateway`` CGMs each registered, paired with it and enrolled (one patient each) — in
    one transaction per table, through the registry's own schema."""

    def prepare(url: str, now: datetime) -> None:
        registry = Registry(url)
        start_ms = int((now - timedelta(days=3)).timestamp() * 1000)
        devices = gateways * per_gateway
        try:
            with registry.db.write("bench: gateways") as conn:
                conn.execute(
                    insert(schema.gateways),
                    [
                        {
                            "id": gateway_id(g),
                            "owner": "bench",
                            "zone": ZONE,
                            "created_ms": start_ms,
                        }
                        for g in range(gateways)
                    ],
                )
            with registry.db.write("bench: devices") as conn:
                conn.execute(
                    insert(schema.devices),
                    [
                        {
                            "id": device_id(d),
                            "profile": PROFILE,
                            "maker": "bench",
                            "created_ms": start_ms,
                        }
                        for d in range(devices)
                    ],
                )
            with registry.db.write("bench: pairings") as conn:
                conn.execute(
                    insert(schema.gateway_devices),
                    [
                        {
                            "gateway_id": gateway_id(d % gateways),
                            "device_id": device_id(d),
                            "start_ms": start_ms,
                            "end_ms": None,
                        }
                        for d in range(devices)
                    ],
                )
            with registry.db.write("bench: enrollments") as conn:
                conn.execute(
                    insert(schema.enrollments),
                    [
                        {
                            "device_id": device_id(d),
                            "patient_id": f"pat-nat-{d:06d}",
                            "start_ms": start_ms,
                            "end_ms": None,
                            "created_ms": start_ms,
                            "created_by": "bench",
                            "created_by_role": "admin",
                        }
                        for d in range(devices)
                    ],
                )
        finally:
            registry.close()

    return prepare


# --- the simulator process -------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    port: int
    gateways: int
    devices: int
    rate: float
    seconds: float
    session_start: float  # epoch seconds, whole
    drain_timeout_s: float
    release_on_puback: bool = False  # no hub: the broker's PUBACK stands for its ack


class Cgms:
    """What the sensors send: reading ``k`` of device ``d`` as its gateway frames it."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.zone = ZoneInfo(ZONE)
        start = datetime.fromtimestamp(plan.session_start, self.zone)
        offset = start.utcoffset() or timedelta()
        dst = start.dst() or timedelta()
        self.session = encode_cgm_session_start_time(
            CgmSessionStartTime(
                start=GattDateTime.from_datetime(start.replace(tzinfo=None)),
                time_zone=round((offset - dst) / timedelta(minutes=15)),
                dst_offset={0: 0, 30: 2, 60: 4, 120: 8}[round(dst / timedelta(minutes=1))],
                e2e_crc=True,
            )
        )

    def message(self, d: int, k: int) -> tuple[str, bytes, int]:
        """Topic, payload and the measurement frame's seq of reading ``k`` of device ``d``."""
        now = datetime.now(self.zone).replace(microsecond=0).isoformat()
        # A device's last reading of the run is a minute old; earlier ones 5 minutes apart.
        rounds = -(-int(self.plan.rate * self.plan.seconds) // self.plan.devices)
        offset = int(SESSION_AGE / timedelta(minutes=1)) - 1 - EVERY_MIN * (rounds - 1 - k)
        record = CgmRecord(
            glucose=Decimal(70 + (d * 7 + k * 13) % 160),
            time_offset=offset,
            trend=Decimal((d + k) % 5 - 2),
            e2e_crc=True,
        )
        stream = device_id(d)
        items = [
            OutboxItem(stream, 2 * k + 1, "2AAA", self.session, now),
            OutboxItem(stream, 2 * k + 2, "2AA7", encode_cgm_measurement([record]), now, 2 * k + 1),
        ]
        info = DeviceInfo(stream, "", PROFILE)
        topic = gateway_frames_topic(gateway_id(d % self.plan.gateways))
        return topic, frames_message(now, info, items, zone=ZONE), 2 * k + 2


@dataclass
class Sent:
    gateway: int
    topic: str
    payload: bytes
    first: float  # monotonic, first publish


@dataclass
class Simulator:
    plan: Plan
    events: queue.SimpleQueue[LinkEvent] = field(default_factory=queue.SimpleQueue)
    links: list[MqttLink] = field(default_factory=list)
    unacked: dict[tuple[str, int], Sent] = field(default_factory=dict)
    by_gateway: list[set[tuple[str, int]]] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    connected: set[int] = field(default_factory=set)
    backlog: list[tuple[str, int]] = field(default_factory=list)  # to (re)send on connect
    published: int = 0
    resent: int = 0
    pubacks: int = 0
    disconnects: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # why connections ended
    acked_total: int = 0
    mids: dict[tuple[int, int, int], tuple[str, int]] = field(default_factory=dict)

    def start(self) -> float:
        settings = MqttSettings(host="127.0.0.1", port=self.plan.port)
        backoff = Backoff(base=0.5, cap=8.0, jitter=0.3)
        self.by_gateway = [set() for _ in range(self.plan.gateways)]
        started = time.monotonic()
        for g in range(self.plan.gateways):
            name = gateway_id(g)
            link = MqttLink(
                name,
                settings,
                name,
                self.events.put,
                presence=Presence(
                    gateway_status_topic(name),
                    json.dumps({"status": "online"}).encode(),
                    json.dumps({"status": "offline"}).encode(),
                ),
                subscriptions=[gateway_acks_topic(name)],
                persistent_session=True,
                backoff=backoff,
            )
            self.links.append(link)
            link.start()
        while len(self.connected) < self.plan.gateways:
            self.handle(self.events.get(timeout=600))
        return time.monotonic() - started

    def handle(self, event: LinkEvent) -> None:
        g = int(event.link.rsplit("-", 1)[1])
        if isinstance(event, Connected):
            first = g not in self.connected
            self.connected.add(g)
            if not first:  # what the hub has not acked is sent again, as an outbox would
                for key in sorted(self.by_gateway[g]):
                    self.send(key, resend=True)
        elif isinstance(event, Disconnected):
            self.disconnects += 1
            self.reasons[event.reason] = self.reasons.get(event.reason, 0) + 1
        elif isinstance(event, Delivered):
            self.pubacks += 1
            released = self.mids.pop((g, event.generation, event.mid), None)
            if released is not None:
                self.release(g, released, time.monotonic())
        elif isinstance(event, Received):
            self.on_acks(g, event.payload)

    def on_acks(self, g: int, payload: bytes) -> None:
        now = time.monotonic()
        for entry in json.loads(payload)["acks"]:
            for seq in entry["seqs"]:
                self.release(g, (entry["device_id"], int(seq)), now)

    def release(self, g: int, key: tuple[str, int], now: float) -> None:
        sent = self.unacked.pop(key, None)
        if sent is not None:
            self.lags.append(now - sent.first)
            self.by_gateway[g].discard(key)
            self.acked_total += 1

    def send(self, key: tuple[str, int], *, resend: bool = False) -> None:
        sent = self.unacked[key]
        link = self.links[sent.gateway]
        mid = link.publish(sent.topic, sent.payload)
        if mid is None:
            return  # not connected: sent again when it reconnects
        if self.plan.release_on_puback:
            self.mids[(sent.gateway, link.generation, mid)] = key
        self.published += 1
        self.resent += resend

    def pump(self, timeout: float) -> None:
        try:
            self.handle(self.events.get(timeout=max(0.0, timeout)))
            while True:
                self.handle(self.events.get_nowait())
        except queue.Empty:
            pass

    def run(self) -> dict[str, Any]:
        plan = self.plan
        cgms = Cgms(plan)
        total = int(plan.rate * plan.seconds)
        started = time.monotonic()
        first_publish = last_publish = started
        for i in range(total):
            due = started + i / plan.rate
            while (ahead := due - time.monotonic()) > 0:
                self.pump(ahead)
            d, k = i % plan.devices, i // plan.devices
            topic, payload, seq = cgms.message(d, k)
            key = (device_id(d), seq)
            g = d % plan.gateways
            self.unacked[key] = Sent(g, topic, payload, time.monotonic())
            self.by_gateway[g].add(key)
            self.send(key)
            last_publish = time.monotonic()
            if i % 256 == 0:
                self.pump(0.0)
        published_end = time.monotonic()
        backlog_at_end = len(self.unacked)
        deadline = published_end + plan.drain_timeout_s
        while self.unacked and time.monotonic() < deadline:
            self.pump(0.5)
        drained = time.monotonic()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        lags = sorted(self.lags)
        return {
            "phase": "done",
            "messages": total,
            "published": self.published,
            "resent": self.resent,
            "pubacks": self.pubacks,
            "acked": self.acked_total,
            "unacked": len(self.unacked),
            "disconnects": self.disconnects,
            "reasons": self.reasons,
            "publish_s": last_publish - first_publish,
            "backlog_at_end": backlog_at_end,
            "drain_s": drained - published_end,
            "lag_p50": _quantile(lags, 0.50),
            "lag_p99": _quantile(lags, 0.99),
            "lag_max": lags[-1] if lags else None,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024,
            "threads": threading.active_count(),
            "links_on_loop": LinkLoop.shared().links,
            "loop_turns": LinkLoop.shared().turns,
            "longest_turn_s": LinkLoop.shared().longest_turn_s,
        }

    def stop(self) -> None:
        for link in self.links:
            link.request_stop()
        for link in self.links:
            link.stop()


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


def simulate(plan_path: Path) -> int:
    """The simulator process: connect every gateway, publish the minute, wait for the acks;
    one JSON line per phase on stdout."""
    raise_fd_limit()
    plan = Plan(**json.loads(plan_path.read_text()))
    simulator = Simulator(plan)
    connect_s = simulator.start()
    print(
        json.dumps(
            {"phase": "connected", "connect_s": connect_s, "threads": threading.active_count()}
        ),
        flush=True,
    )
    report = simulator.run()
    print(json.dumps(report), flush=True)
    simulator.stop()
    return 0


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Usage:
    """CPU seconds of a process tree from a starting point, and its peak RSS."""

    pid: int
    cpu_start: float = 0.0
    cpu_s: float = 0.0
    rss_mb: float = 0.0

    def begin(self) -> None:
        self.cpu_start = ingest.cpu_seconds(self.pid)

    def sample(self) -> None:
        self.cpu_s = ingest.cpu_seconds(self.pid) - self.cpu_start
        self.rss_mb = max(self.rss_mb, ingest.peak_rss_mb(self.pid))


def run(args: argparse.Namespace) -> int:
    fds = raise_fd_limit()
    root = Path(tempfile.mkdtemp(prefix="hub-bench-national-"))
    devices = args.gateways * args.devices_per_gateway
    now = datetime.now(UTC)
    print(
        f"national minute: {args.gateways:,} gateways, {devices:,} CGMs "
        f"({args.devices_per_gateway} a gateway), {args.rate:,.0f} readings/s for "
        f"{args.seconds:.0f} s; open-file limit {fds:,}",
        flush=True,
    )
    bench = ingest.Bench(root, root / "no-stream", 0, 0)
    processes: list[subprocess.Popen[bytes]] = []
    hub = not args.no_hub
    try:
        bench.start_broker()
        assert bench.broker is not None
        if hub:
            started = time.monotonic()
            env = ingest._hub_env(
                bench,
                CLIENT_ID,
                "sqlite",
                1,
                prepare=register_in_bulk(args.gateways, args.devices_per_gateway),
            )
            print(
                f"registry: {args.gateways:,} gateways, {devices:,} devices paired and "
                f"enrolled in {time.monotonic() - started:.1f} s",
                flush=True,
            )
            env["HUB_LOG_LEVEL"] = "WARNING"
            metrics_port = ingest.free_port()
            processes = ingest._start_bridges(env, CLIENT_ID, [metrics_port])
            if not wait_online("127.0.0.1", bench.port, f"{CLIENT_ID}-0", 60):
                raise RuntimeError("the bridge never came online")
        plan = Plan(
            port=bench.port,
            gateways=args.gateways,
            devices=devices,
            rate=args.rate,
            seconds=args.seconds,
            session_start=float(int((now - SESSION_AGE).timestamp())),
            drain_timeout_s=args.drain_timeout,
            release_on_puback=not hub,
        )
        plan_path = root / "plan.json"
        plan_path.write_text(json.dumps(plan.__dict__))
        simulator = subprocess.Popen(
            [sys.executable, "-m", "bench.national", "--simulator", str(plan_path)],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert simulator.stdout is not None
        broker = Usage(bench.broker.pid)
        bridge = Usage(processes[0].pid) if hub else None
        usages = [usage for usage in (broker, bridge) if usage is not None]
        phases: dict[str, dict[str, Any]] = {}
        timeline = Timeline(metrics_port) if hub else None
        load_before = os.getloadavg()
        for line in simulator.stdout:
            phase = json.loads(line)
            phases[phase["phase"]] = phase
            if phase["phase"] == "connected":
                if timeline is not None:
                    timeline.start()
                print(
                    f"connected {args.gateways:,} gateways in {phase['connect_s']:.1f} s "
                    f"({phase['threads']} threads in the simulator)",
                    flush=True,
                )
                for usage in usages:
                    usage.begin()
                load_before = os.getloadavg()
            if phase["phase"] == "done":
                load_after = os.getloadavg()
                for usage in usages:
                    usage.sample()
                if timeline is not None:
                    timeline.stop()
        simulator.wait(timeout=600)
        done = phases.get("done")
        if done is None:
            raise RuntimeError(f"the simulator ended early ({simulator.returncode})")
        ingest._stop(processes)
        processes = []
        stored = distinct = dead = None
        if hub:
            stored, distinct = _stored(Path(env["HUB_DATA_DIR"]))
            dead = _dead_letters(Path(env["HUB_DATA_DIR"]))
        report(args, devices, phases, done, (stored, distinct, dead), broker, bridge)
        if timeline is not None:
            timeline.report()
        print(f"load average: before {_load(load_before)}, after {_load(load_after)}")
    finally:
        if processes:
            ingest._stop(processes)
        bench.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


class Timeline:
    """The bridge's counters each second from the gateways connected (its /metrics page)."""

    NAMES = (
        "hub_messages_received_total",
        "hub_messages_acknowledged_total",
        "hub_readings_stored_total",
    )

    def __init__(self, port: int) -> None:
        self.port = port
        self.samples: list[tuple[float, list[float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(1.0):
            try:
                values = [ingest._metric(self.port, name) for name in self.NAMES]
            except OSError:
                continue
            self.samples.append((time.monotonic() - started, values))

    def report(self) -> None:
        """Every 10 s: what the bridge had received, acked and stored, and its pace."""
        print()
        print("bridge from the gateways connected ('received' includes their online statuses):")
        print(f"{'t s':>5} {'received':>9} {'acked':>9} {'stored':>9} {'stored/s':>9}")
        last_at, last_stored, boundary = 0.0, 0.0, 10.0
        for index, (at, (received, acked, stored)) in enumerate(self.samples):
            if at < boundary and index != len(self.samples) - 1:
                continue
            boundary = (at // 10 + 1) * 10
            pace = (stored - last_stored) / (at - last_at) if at > last_at else 0.0
            print(f"{at:>5.0f} {received:>9,.0f} {acked:>9,.0f} {stored:>9,.0f} {pace:>9,.0f}")
            last_at, last_stored = at, stored


def _load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in load)


def _stored(data: Path) -> tuple[int, int]:
    with sqlite3.connect(data / "readings.sqlite3") as conn:
        stored, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT reading_id) FROM readings"
        ).fetchone()
    return int(stored), int(distinct)


def _dead_letters(data: Path) -> int:
    with sqlite3.connect(data / "registry.sqlite3") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0])


def report(
    args: argparse.Namespace,
    devices: int,
    phases: dict[str, dict[str, Any]],
    done: dict[str, Any],
    hub: tuple[int | None, int | None, int | None],  # stored, distinct, dead letters
    broker: Usage,
    bridge: Usage | None,
) -> None:
    readings = done["messages"]  # one reading a message, each a distinct reading
    achieved = readings / done["publish_s"] if done["publish_s"] else 0.0
    stored, distinct, dead = hub
    print()
    print(f"gateways connected:    {args.gateways:,} in {phases['connected']['connect_s']:.1f} s")
    print(
        f"publish rate:          offered {args.rate:,.0f}/s, achieved {achieved:,.0f}/s "
        f"({readings:,} readings from {min(devices, readings):,} devices in "
        f"{done['publish_s']:.1f} s; {done['resent']:,} resent)"
    )
    print(
        f"backlog at the end:    {done['backlog_at_end']:,} readings not yet acked end to end; "
        f"drained in {done['drain_s']:.1f} s"
    )
    what = "hub ack (after the commit)" if bridge is not None else "broker PUBACK (no hub)"
    print(
        f"end-to-end lag:        publish -> {what}: "
        f"p50 {_s(done['lag_p50'])}, p99 {_s(done['lag_p99'])}, max {_s(done['lag_max'])}"
    )
    if stored is not None:
        print(f"stored:                {stored:,} readings; {dead:,} dead letters")
    print(f"{'':<23}{'CPU s':>8} {'peak RSS MB':>12}   (from the gateways connected to the drain)")
    rows = [("simulator", done["cpu_s"], done["peak_rss_mb"])]
    if bridge is not None:
        rows.append(("bridge + worker", bridge.cpu_s, bridge.rss_mb))
    rows.append(("mosquitto", broker.cpu_s, broker.rss_mb))
    for name, cpu, rss in rows:
        print(f"  {name:<21}{cpu:>8.1f} {rss:>12.0f}")
    print("  (the simulator's CPU includes connecting its gateways)")
    print(
        f"simulator threads:     {phases['connected']['threads']} "
        f"for {args.gateways:,} MQTT connections; connections ended {done['disconnects']:,}"
        + "".join(f"; {count:,} {reason}" for reason, count in done["reasons"].items())
    )
    print(
        f"simulator's link loop: {done['loop_turns']:,} turns, the longest "
        f"{done['longest_turn_s']:.2f} s"
    )
    if stored is not None and distinct is not None:
        print(
            f"integrity:             published {readings:,} distinct, stored {stored:,}, "
            f"duplicates {stored - distinct}, lost {readings - distinct}, "
            f"unacked {done['unacked']}"
        )
    if bridge is not None and readings:
        print(f"mean CPU per reading:  bridge {bridge.cpu_s / readings * 1e6:,.0f} us")


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.national",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--gateways", type=int, default=10_000)
    parser.add_argument("--devices-per-gateway", type=int, default=20)
    parser.add_argument("--rate", type=float, default=3_300.0, help="readings a second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--drain-timeout", type=float, default=900.0, help="seconds to wait for the last acks"
    )
    parser.add_argument(
        "--no-hub",
        action="store_true",
        help="the simulator and the broker alone (the broker's PUBACK releases a message)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--simulator", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.simulator is not None:
        return simulate(args.simulator)
    if mosquitto_binary() is None:
        print("mosquitto is missing: apt-get install mosquitto", file=sys.stderr)
        return 1
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
