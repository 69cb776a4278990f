"""API under load: the patient page's calls at 16 concurrent clients, idle and under ingestion.

    python -m bench.api_load                    # 100 patients x 30 days, 3 rounds of 20 s
    python -m bench.api_load --large            # 500 patients x 90 days (~13.2M readings)
    python -m bench.api_load --patients 20 --days 14 --duration 5 --rounds 1
    make bench-api BENCH_API_ARGS="--large"

The store is bench.store's workload (a CGM every 5 minutes and 5 spot readings a day per
patient, all patients interleaved in time order), its last day ending when the run starts,
written into a SQLite store in a temporary data directory through ``write_batch`` in large
batches; each patient's four devices are enrolled in the registry. The real API then runs as
its own process (``python -m hub api``, uvicorn, on a free port; its clock is the wall clock),
and ``--clients`` threads, each with a keep-alive connection and a patient token per patient
(role ``patient``, subject the patient id, as bench.trends mints them), loop for
``--duration`` seconds over random patients, requesting per patient what the patient page
shows for two weeks:

* ``trends 2weeks``: ``GET /v1/patients/{id}/trends?period=2weeks`` (1-hour buckets of every
  charted metric the patient has);
* ``summaries/cgm 14d``: ``GET /v1/patients/{id}/summaries/cgm`` (default window: the last
  14 days, the consensus CGM metrics);
* ``summaries 2weeks``: ``GET /v1/patients/{id}/summaries?period=2weeks`` (every summary, the
  AGP, the latest values: the page's other main call; ``--calls`` leaves it out).

After a warm-up, one client alone gives each call's latency with no queue in front of it.
Then phases alternate: idle (the load alone: the baseline), then under ingestion (the same load
while a separate process writes live CGM readings into the same store through the store's own
``write_batch``, in batches of ``--ingest-batch`` like the bridge's, paced at
``--ingest-rate`` readings/s, timed "now"; one reading every 5 minutes per patient of a
population of ``rate x 300`` patients, among them the benchmark's own), ``--rounds`` times.
Per call: p50 and p99 latency in milliseconds and requests/s, the median over rounds of each
phase, and the ratio under ingestion / idle. The ingest writer's achieved rate and commit
times, the CPU of the API server, the writer and the load clients, and how long the store
took to build and the whole run to complete are reported with them. ``--profile DIR`` samples
the API server with py-spy through the first idle and under-ingestion phases.
Targets reported against (never asserted): 14-day trend p99 <= 50 ms, 14-day CGM summary p99
<= 100 ms, under ingestion. Not a test: the figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import secrets
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bench.ingest import cpu_seconds, free_port
from bench.store import CGM_STEP_MS, SPOTS_PER_DAY, Workload
from hub.adapters.registry import Registry
from hub.adapters.store.sqlite import SqliteReadingStore
from hub.adapters.tokens import Role, mint_token
from hub.config import AuthSettings
from hub.core.model import Reading, Source, TimeSource

REPO = Path(__file__).resolve().parents[1]
DEVICES = ("cgm", "meter", "cuff", "scale")  # bench.store's device prefixes, one of each


@dataclass(frozen=True)
class Call:
    name: str
    path: str  # under /v1/patients/{id}/
    query: str
    target_p99_ms: float | None = None  # the product's target under ingestion (reported)

    def url(self, patient_id: str) -> str:
        return f"/v1/patients/{patient_id}/{self.path}" + (f"?{self.query}" if self.query else "")


CALLS = {
    "trends": Call("trends 2weeks", "trends", "period=2weeks", 50.0),
    "cgm": Call("summaries/cgm 14d", "summaries/cgm", "", 100.0),
    "summaries": Call("summaries 2weeks", "summaries", "period=2weeks"),
}


# --- the store and the registry ------------------------------------------------------------


def build(root: Path, workload: Workload, batch_size: int) -> float:
    """The workload into ``root``'s SQLite store, devices enrolled; seconds it took."""
    started = time.perf_counter()
    store = SqliteReadingStore(root / "readings.sqlite3")
    written, mark = 0, 1_000_000
    try:
        for batch in workload.batches(batch_size):
            written += store.write_batch(batch, prevalidated=True).written
            if written >= mark:
                mark += 1_000_000
                rate = written / (time.perf_counter() - started)
                print(
                    f"  {written:>11,} / {workload.readings:,} readings, {rate:,.0f}/s"
                    f" ({time.perf_counter() - started:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        store.close()
    registry = Registry(f"sqlite:///{root / 'registry.sqlite3'}")
    try:
        for index in range(workload.patients):
            for device in DEVICES:
                registry.enrollments.enroll(
                    f"{device}-{index:05d}",
                    workload.patient_id(index),
                    workload.start,
                    actor="bench",
                    role="admin",
                    created=workload.start,
                )
    finally:
        registry.close()
    return time.perf_counter() - started


# --- the ingest writer (a process of its own) --------------------------------------------------


def live_writer(path: Path, rate: float, batch: int, patients: int, offset: int) -> int:
    """Write live CGM readings at ``rate`` into the store at ``path`` until stdin closes.

    Prints ``ready`` after the first commit, then one JSON line of totals at the end."""
    store = SqliteReadingStore(path)
    stop = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    population = max(patients, round(rate * CGM_STEP_MS / 1000))  # one reading / 5 min each
    stride = max(1, population // patients)
    rng = random.Random()  # fresh identities each run: a kept store must not see resends
    interval = batch / rate
    commits: list[float] = []
    written, cursor, sent = 0, offset, 0
    cpu_started = time.process_time()
    started = time.perf_counter()
    while not stop.is_set():
        delay = started + len(commits) * interval - time.perf_counter()
        if delay > 0 and stop.wait(delay):
            break
        now = datetime.now(UTC)
        readings = []
        for position in range(cursor, cursor + batch):
            member = position % population
            bench_patient = member % stride == 0 and member // stride < patients
            index = member // stride if bench_patient else member
            patient = f"bench-{index:05d}" if bench_patient else f"live-{index:07d}"
            device = f"cgm-{index:05d}" if bench_patient else f"cgm-live-{index:07d}"
            readings.append(
                Reading(
                    reading_id=rng.randbytes(16).hex(),
                    patient_id=patient,
                    device_id=device,
                    metric="glucose_isf",
                    value=float(rng.randint(60, 260)),
                    unit="mg/dL",
                    effective_time=now,
                    receive_time=now,
                    device_time=now.strftime("%Y-%m-%dT%H:%M:%S"),
                    time_source=TimeSource.DEVICE,
                    source=Source.GATEWAY,
                    seq=position // population,
                )
            )
        cursor += batch
        sent += batch
        t = time.perf_counter()
        written += store.write_batch(readings).written
        commits.append(time.perf_counter() - t)
        if len(commits) == 1:
            print("ready", flush=True)
    # Batch k is due at k x interval: paced, the window is that of the batches sent (a stop
    # just after a commit does not inflate the rate); behind, it is the time taken.
    seconds = max(time.perf_counter() - started, len(commits) * interval)
    store.close()
    ms = np.array(commits or [0.0]) * 1000
    print(
        json.dumps(
            {
                "sent": sent,
                "written": written,
                "seconds": seconds,
                "cpu_s": time.process_time() - cpu_started,
                "commit_p50_ms": float(np.percentile(ms, 50)),
                "commit_p99_ms": float(np.percentile(ms, 99)),
            }
        ),
        flush=True,
    )
    return 0


@dataclass
class Ingest:
    sent: int
    written: int
    seconds: float
    cpu_s: float
    commit_p50_ms: float
    commit_p99_ms: float

    @property
    def rate(self) -> float:
        return self.written / self.seconds if self.seconds else 0.0


class Writer:
    """The ingest writer process of one phase."""

    def __init__(self, args: argparse.Namespace, root: Path, env: dict[str, str], offset: int):
        command = [sys.executable, "-m", "bench.api_load", "--ingest-writer", str(root)]
        command += ["--ingest-rate", str(args.ingest_rate), "--patients", str(args.patients)]
        command += ["--ingest-batch", str(args.ingest_batch), "--ingest-offset", str(offset)]
        self.process = subprocess.Popen(
            command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            self.process.kill()
            raise RuntimeError("the ingest writer did not start")

    def stop(self) -> Ingest:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        totals = json.loads(self.process.stdout.readline())
        self.process.wait(timeout=60)
        return Ingest(**totals)


# --- the API server and the load -------------------------------------------------------------


def start_api(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "hub", "api"], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hub api exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return process
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("hub api did not answer /healthz")


@dataclass
class Phase:
    mode: str  # idle | ingest
    seconds: float
    latencies_s: list[list[float]]  # per call
    errors: int
    server_cpu_s: float
    client_cpu_s: float
    ingest: Ingest | None = None
    wal_mb: float = 0.0  # the store's write-ahead log after the phase
    registry_wal_mb: float = 0.0  # the registry's (the audit trail's)

    def p(self, call: int, q: float) -> float:
        return float(np.percentile(np.array(self.latencies_s[call]) * 1000, q))

    def rate(self, call: int | None = None) -> float:
        count = (
            sum(len(x) for x in self.latencies_s) if call is None else len(self.latencies_s[call])
        )
        return count / self.seconds


def client(
    port: int,
    calls: list[Call],
    patients: list[tuple[str, str]],
    seed: int,
    go: threading.Event,
    deadline: list[float],
    out: list[tuple[int, float, int]],
) -> None:
    """One patient page after another (its calls in turn) until the deadline."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    go.wait()
    try:
        while True:
            patient, token = patients[rng.randrange(len(patients))]
            headers = {"Authorization": f"Bearer {token}"}
            for index, call in enumerate(calls):
                if time.perf_counter() >= deadline[0]:
                    return
                started = time.perf_counter()
                conn.request("GET", call.url(patient), headers=headers)
                response = conn.getresponse()
                response.read()
                out.append((index, time.perf_counter() - started, response.status))
    finally:
        conn.close()


def run_phase(
    mode: str,
    server: subprocess.Popen[bytes],
    port: int,
    calls: list[Call],
    patients: list[tuple[str, str]],
    clients: int,
    duration: float,
    seed: int,
    profile: Path | None = None,
    gil: bool = False,
) -> Phase:
    """``clients`` threads for ``duration`` seconds; ``profile``: the API server sampled by
    py-spy meanwhile, written there as collapsed stacks: every thread, waiting or not (where
    requests spend their time), or with ``gil`` the thread holding the GIL (where its CPU
    goes)."""
    go = threading.Event()
    deadline = [0.0]
    outs: list[list[tuple[int, float, int]]] = [[] for _ in range(clients)]
    threads = [
        threading.Thread(
            target=client, args=(port, calls, patients, seed * 1000 + i, go, deadline, outs[i])
        )
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    sampler = None
    if profile is not None:
        command = [py_spy(), "record", "--pid", str(server.pid), "--duration", str(int(duration))]
        command += ["--rate", "100", "--gil" if gil else "--idle", "--threads"]
        command += ["--format", "raw", "-o", str(profile)]
        sampler = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        time.sleep(0.5)  # attached before the load starts
    server_cpu, own_cpu = cpu_seconds(server.pid), time.process_time()
    started = time.perf_counter()
    deadline[0] = started + duration
    go.set()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if sampler is not None:
        sampler.wait(timeout=60)
    latencies: list[list[float]] = [[] for _ in calls]
    errors = 0
    for out in outs:
        for index, latency, status in out:
            if status == 200:
                latencies[index].append(latency)
            else:
                errors += 1
    return Phase(
        mode,
        seconds,
        latencies,
        errors,
        cpu_seconds(server.pid) - server_cpu,
        time.process_time() - own_cpu,
    )


def wal_sizes(root: Path, phase: Phase) -> None:
    def size(name: str) -> float:
        wal = root / name
        return wal.stat().st_size / 1e6 if wal.exists() else 0.0

    phase.wal_mb, phase.registry_wal_mb = size("readings.sqlite3-wal"), size("registry.sqlite3-wal")


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    return found


# --- the report ------------------------------------------------------------------------------


@dataclass
class Report:
    command: str
    workload: Workload
    build_s: float
    calls: list[Call]
    args: argparse.Namespace
    phases: list[Phase] = field(default_factory=list)
    total_s: float = 0.0
    reused: str | None = None  # when the store was built, if an earlier run's
    load: list[float] = field(default_factory=list)  # 1-minute load average, before each phase

    def of(self, mode: str) -> list[Phase]:
        return [p for p in self.phases if p.mode == mode]

    def text(self) -> str:
        a, w = self.args, self.workload
        idle, busy = self.of("idle"), self.of("ingest")
        ingests = [p.ingest for p in busy if p.ingest is not None]
        lines = [
            f"API under load: {w.patients} patients x {w.days} days of CGM every 5 min"
            f" + {SPOTS_PER_DAY} spot readings/day = {w.readings:,} readings (SQLite),"
            f" {a.clients} clients, {a.rounds} rounds x {a.duration:g} s per phase",
            f"command: {self.command}",
            f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python"
            f" {platform.python_version()}, SQLite {sqlite3.sqlite_version},"
            f" {platform.system()} {platform.release()}; 1-min load average before each phase"
            f" {min(self.load):.1f}-{max(self.load):.1f} (other work shares the machine)",
            f"store built in {self.build_s:.0f} s ({w.readings / self.build_s:,.0f} readings/s,"
            f" write_batch in batches of {a.build_batch:,}, and {len(DEVICES) * w.patients:,}"
            " enrollments)"
            + (f", reused: built {self.reused} by an earlier run" if self.reused else "")
            + f"; this run took {self.total_s // 60:.0f} min {self.total_s % 60:.0f} s",
        ]
        if ingests:
            rates = ", ".join(f"{i.rate:,.0f}" for i in ingests)
            lines.append(
                f"ingestion: a direct-store writer process, target {a.ingest_rate:,.0f} readings/s"
                f" in batches of {a.ingest_batch}: achieved {rates} readings/s; commit p50"
                f" {statistics.median(i.commit_p50_ms for i in ingests):.1f} ms, p99"
                f" {statistics.median(i.commit_p99_ms for i in ingests):.1f} ms"
            )
        header = (
            f"{'call':<20}{'1 client':>9}{'idle p50':>10}{'p99':>8}{'req/s':>7}"
            f"{'ingest p50':>12}{'p99':>8}{'req/s':>7}{'p50 x':>7}{'p99 x':>7}  target"
        )
        lines += ["", header, "-" * (len(header) + 20)]

        def pct(phases: list[Phase], call: int, q: float) -> float:
            return statistics.median(p.p(call, q) for p in phases)

        def rate(phases: list[Phase], call: int | None) -> float:
            return statistics.median(p.rate(call) for p in phases)

        for index, call in enumerate(self.calls):
            one = pct(self.of("solo"), index, 50) if self.of("solo") else float("nan")
            i50, i99, b50, b99 = (pct(ps, index, q) for ps in (idle, busy) for q in (50, 99))
            target = "-"
            if call.target_p99_ms:
                met = "met" if b99 <= call.target_p99_ms else "missed"
                target = f"p99 <= {call.target_p99_ms:g} ms under ingestion: {met}"
            lines.append(
                f"{call.name:<20}{one:>9.1f}{i50:>10.1f}{i99:>8.1f}{rate(idle, index):>7.1f}"
                f"{b50:>12.1f}{b99:>8.1f}{rate(busy, index):>7.1f}{b50 / i50:>7.2f}"
                f"{b99 / i99:>7.2f}  {target}"
            )
        total_i, total_b = rate(idle, None), rate(busy, None)
        lines.append(
            f"{'all calls':<20}{'':>9}{'':>10}{'':>8}{total_i:>7.1f}{'':>12}{'':>8}"
            f"{total_b:>7.1f}  requests/s under ingestion / idle: {total_b / total_i:.2f}"
        )
        lines.append("")
        for index, call in enumerate(self.calls):
            runs = "  ".join(f"{p.mode} {p.p(index, 99):.0f}" for p in self.phases)
            lines.append(f"p99 by phase, {call.name}: {runs}")

        def cpu(phases: list[Phase], get: str) -> float:
            if get == "server":
                return statistics.median(p.server_cpu_s / p.seconds * 100 for p in phases)
            if get == "client":
                return statistics.median(p.client_cpu_s / p.seconds * 100 for p in phases)
            return statistics.median(
                p.ingest.cpu_s / p.ingest.seconds * 100 for p in phases if p.ingest
            )

        lines.append(
            f"CPU (% of one core): API server {cpu(idle, 'server'):.0f} idle,"
            f" {cpu(busy, 'server'):.0f} under ingestion; ingest writer {cpu(busy, 'writer'):.0f};"
            f" load clients {cpu(idle, 'client'):.0f} / {cpu(busy, 'client'):.0f}"
        )
        rates = ", ".join(f"{p.mode} {p.rate():.0f}" for p in self.phases)
        lines.append(f"requests/s by phase: {rates}")
        after = self.of("solo after")
        if after:
            drift = ", ".join(
                f"{c.name} {pct(self.of('solo'), i, 50):.1f} -> {pct(after, i, 50):.1f}"
                for i, c in enumerate(self.calls)
            )
            lines.append(f"1 client p50 before -> after the phases: {drift}")
        wal = ", ".join(f"{p.mode} {p.wal_mb:.0f}/{p.registry_wal_mb:.0f}" for p in self.phases)
        lines.append(f"write-ahead logs after each phase, store/registry (MB): {wal}")
        errors = sum(p.errors for p in self.phases)
        lines.append(
            "(milliseconds; medians over rounds; 1 client: p50 with one client, idle;"
            " x = under ingestion / idle; targets are reported, not asserted;"
            f" non-200 answers: {errors})"
        )
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.api_load", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--large", action="store_true", help="500 patients x 90 days")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=3, help="idle + under-ingestion phases")
    parser.add_argument("--calls", default=",".join(CALLS), help="of: " + ", ".join(CALLS))
    parser.add_argument("--ingest-rate", type=float, default=3300.0, help="readings/s")
    parser.add_argument("--ingest-batch", type=int, default=500, help="readings per commit")
    parser.add_argument("--build-batch", type=int, default=20_000, help="readings per commit")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--dir",
        type=Path,
        help="the data directory, kept (default: a temp dir); a store an earlier run built there"
        " for the same workload is reused, its data then ending when it was built",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir afterwards")
    parser.add_argument(
        "--profile",
        type=Path,
        help="directory: py-spy samples the API server through the first idle and the first"
        " under-ingestion phase (collapsed stacks, server-idle.txt and server-ingest.txt)",
    )
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="--profile samples only the thread holding the GIL (CPU), not every thread (wall)",
    )
    parser.add_argument("--ingest-writer", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ingest-offset", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ingest_writer is not None:
        return live_writer(
            args.ingest_writer / "readings.sqlite3",
            args.ingest_rate,
            args.ingest_batch,
            args.patients,
            args.ingest_offset,
        )
    if args.large:
        args.patients, args.days = 500, 90
    unknown = [c for c in args.calls.split(",") if c not in CALLS]
    if unknown:
        parser.error(f"unknown call {', '.join(unknown)}; known: {', '.join(CALLS)}")
    calls = [CALLS[c] for c in args.calls.split(",")]
    end = datetime.now(UTC).replace(microsecond=0)
    workload = Workload(args.patients, args.days, args.seed, start=end - timedelta(days=args.days))
    root = args.dir or Path(tempfile.mkdtemp(prefix="hub-bench-api-"))
    root.mkdir(parents=True, exist_ok=True)
    manifest = root / "bench-api.json"
    given = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "-m", "bench.api_load", *given])
    server: subprocess.Popen[bytes] | None = None
    run_started = time.monotonic()
    reused = None
    try:
        shape = {"patients": args.patients, "days": args.days, "seed": args.seed}
        if manifest.exists():
            built = json.loads(manifest.read_text())
            if {k: built.get(k) for k in shape} != shape:
                parser.error(f"{root} holds another workload: {built}")
            workload.start = datetime.fromisoformat(built["start"])
            build_s, reused = float(built["build_s"]), built["built"]
            print(f"reusing the store in {root}, built {reused}", file=sys.stderr)
        elif (root / "readings.sqlite3").exists():
            parser.error(f"{root} holds a store this benchmark did not build")
        else:
            print(
                f"{workload.readings:,} readings into SQLite in {root}, ending {end.isoformat()}",
                file=sys.stderr,
            )
            build_s = build(root, workload, args.build_batch)
            print(f"store built in {build_s:.0f} s", file=sys.stderr)
            built = {**shape, "start": workload.start.isoformat(), "build_s": build_s}
            manifest.write_text(json.dumps({**built, "built": end.isoformat()}))
        secret = secrets.token_urlsafe(32)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env.update(
            {
                "HUB_ENVIRONMENT": "test",
                "HUB_AUTH__SECRET": secret,  # the test environment wants one of >= 32 chars
                "HUB_DATA_DIR": str(root),
                "HUB_LOG_LEVEL": "WARNING",
                "HUB_API__HOST": "127.0.0.1",
                "HUB_API__PORT": str(port),
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(REPO), env.get("PYTHONPATH", "")) if p
                ),
            }
        )
        server = start_api(env, port)
        now = datetime.now(UTC)
        auth = AuthSettings(secret=secret)
        patients = [
            (
                pid,
                mint_token(auth, subject=pid, role=Role.PATIENT, now=now, ttl=timedelta(days=1)),
            )
            for pid in map(workload.patient_id, range(workload.patients))
        ]
        report = Report(command, workload, build_s, calls, args)
        # Warm-up (not counted): connections, the server's caches, the first imports.
        run_phase("warm-up", server, port, calls, patients, args.clients, 3.0, args.seed)
        # One client alone: each call's own latency, with no queue in front of it.
        solo_s = min(args.duration, 10)
        solo = run_phase("solo", server, port, calls, patients, 1, solo_s, 1)
        report.phases.append(solo)
        per_phase = round(args.ingest_rate * (args.duration + 2))
        for round_number in range(args.rounds):
            for mode in ("idle", "ingest"):
                writer = None
                if mode == "ingest":
                    writer = Writer(args, root, env, offset=round_number * per_phase)
                    time.sleep(1.0)  # a few commits: the writer at its pace before the load
                report.load.append(os.getloadavg()[0])
                seed = args.seed + 2 * round_number + (mode == "ingest")
                profile = None
                if args.profile is not None and round_number == 0:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    profile = args.profile / f"server-{mode}.txt"
                phase = run_phase(
                    mode,
                    server,
                    port,
                    calls,
                    patients,
                    args.clients,
                    args.duration,
                    seed,
                    profile,
                    args.profile_gil,
                )
                if writer is not None:
                    phase.ingest = writer.stop()
                wal_sizes(root, phase)
                report.phases.append(phase)
                summary = ", ".join(
                    f"{c.name} p50 {phase.p(i, 50):.1f} p99 {phase.p(i, 99):.1f} ms"
                    for i, c in enumerate(calls)
                )
                extra = f"; ingest {phase.ingest.rate:,.0f}/s" if phase.ingest else ""
                print(
                    f"round {round_number + 1} {mode}: {phase.rate():.1f} req/s; {summary}{extra}",
                    file=sys.stderr,
                    flush=True,
                )
        # One client again: what the phases left behind (logs, caches) shows as a drift.
        after = run_phase("solo after", server, port, calls, patients, 1, solo_s, 1)
        wal_sizes(root, after)
        report.phases.append(after)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        if not args.keep and args.dir is None:
            shutil.rmtree(root, ignore_errors=True)
    report.reused = reused
    report.total_s = time.monotonic() - run_started
    print(report.text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
