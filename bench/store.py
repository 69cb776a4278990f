"""Store benchmark: write rate and query latency of SQLite and InfluxDB on the same data.

    python -m bench.store                       # 200 patients x 30 days (~1.8M readings)
    python -m bench.store --large               # 200 patients x 90 days (~5.3M readings)
    python -m bench.store --patients 20 --days 14 --backends sqlite
    make bench-store BENCH_ARGS="--days 30"

The data is generated deterministically (numpy, seeded) and in *live order*: every patient's
continuous glucose monitor (CGM) every 5 minutes, plus daily spot readings (a fingerstick
glucose, a blood-pressure cuff's systolic/diastolic/pulse, a weight), all patients interleaved
by time as a bridge would receive them. Reading identities are random 128-bit hex, like real
ones. Both backends get the identical stream through ``write_batch`` in batches of
``--batch-size``; only the time inside ``write_batch`` counts. InfluxDB is a local ``influxd``
started for the run (``hub.adapters.store.influx_server``), files in the run's directory.

Then, per backend, ``--queries`` random (patient, day) picks time: a 1-day ``series`` of the
CGM, a 14-day ``downsample`` (automatic bucket: 1 h), ``latest`` of every metric, and one
500-reading ``readings`` page — p50 and p95 in milliseconds. Printed side by side with the
ratio influxdb/sqlite (above 1 = InfluxDB is higher: faster for rows/s, slower for latency).
Not a test: nothing is asserted, and the figures belong in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import numpy as np

from hub.adapters.store.base import ReadingStore
from hub.adapters.store.influx import InfluxReadingStore
from hub.adapters.store.influx_http import InfluxTarget
from hub.adapters.store.influx_server import influxd_binary, start_influxd
from hub.adapters.store.sqlite import SqliteReadingStore
from hub.core.model import Reading, Source, TimeSource, from_epoch_ms

START = datetime(2024, 1, 1, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
DAY_MS = 86_400_000
CGM_STEP_MS = 5 * 60_000

# metric, unit, device prefix, source
_KINDS = [
    ("glucose_isf", "mg/dL", "cgm", Source.GATEWAY),
    ("glucose", "mg/dL", "meter", Source.GATEWAY),
    ("systolic_bp", "mm[Hg]", "cuff", Source.MQTT),
    ("diastolic_bp", "mm[Hg]", "cuff", Source.MQTT),
    ("pulse_rate", "/min", "cuff", Source.MQTT),
    ("weight", "kg", "scale", Source.PROVIDER),
]
SPOTS_PER_DAY = len(_KINDS) - 1


@dataclass
class Workload:
    patients: int
    days: int
    seed: int = 2024
    start: datetime = START  # when the first day begins (bench.api_load: days ending now)

    @property
    def readings(self) -> int:
        return self.patients * self.days * (DAY_MS // CGM_STEP_MS + SPOTS_PER_DAY)

    def patient_id(self, index: int) -> str:
        return f"bench-{index:05d}"

    def batches(self, size: int) -> Iterator[list[Reading]]:
        """The whole stream, in time order, cut in batches of ``size`` readings."""
        rng = np.random.default_rng(self.seed)
        n = self.patients
        steps = DAY_MS // CGM_STEP_MS
        phase = rng.integers(0, CGM_STEP_MS, n)  # each sensor ticks at its own second
        level = rng.normal(140, 25, n)
        weight = rng.normal(78, 14, n)
        pending: list[Reading] = []
        start_ms = int(self.start.timestamp() * 1000)
        for day in range(self.days):
            day_ms = start_ms + day * DAY_MS
            # CGM: a mean-reverting walk per patient.
            walk = np.empty((steps, n))
            current = level + rng.normal(0, 20, n)
            for step in range(steps):
                current = current + 0.08 * (level - current) + rng.normal(0, 6, n)
                walk[step] = current
            cgm_t = day_ms + phase[None, :] + CGM_STEP_MS * np.arange(steps)[:, None]
            cgm_v = np.clip(walk, 40, 400).round(0)
            kinds = [np.zeros((steps, n), np.int64)]
            times = [cgm_t]
            values = [cgm_v]
            seqs = [np.broadcast_to((day * steps + np.arange(steps))[:, None], (steps, n))]
            # Spot readings: morning fingerstick, blood pressure, weight.
            morning = day_ms + 7 * 3_600_000 + rng.integers(0, 2 * 3_600_000, n)
            bp_at = morning + rng.integers(60_000, 600_000, n)
            spots = [
                (1, morning, rng.normal(125, 30, n).clip(40, 400).round(0)),
                (2, bp_at, rng.normal(132, 14, n).round(0)),
                (3, bp_at, rng.normal(81, 9, n).round(0)),
                (4, bp_at, rng.normal(72, 9, n).round(0)),
                (5, morning + 900_000, (weight + rng.normal(0, 0.4, n)).round(1)),
            ]
            for kind, at, value in spots:
                kinds.append(np.full((1, n), kind))
                times.append(at[None, :])
                values.append(value[None, :])
                seqs.append(np.full((1, n), -1))
            kind_a = np.concatenate(kinds).ravel()
            t_a = np.concatenate(times).ravel()
            v_a = np.concatenate(values).ravel()
            s_a = np.concatenate(seqs).ravel()
            p_a = np.concatenate(
                [np.broadcast_to(np.arange(n), (len(k), n)) for k in kinds]
            ).ravel()
            order = np.argsort(t_a, kind="stable")
            ids = rng.bytes(16 * len(order))
            for j, i in enumerate(order.tolist()):
                pending.append(
                    self._reading(
                        ids[16 * j : 16 * j + 16].hex(),
                        int(p_a[i]),
                        int(kind_a[i]),
                        int(t_a[i]),
                        float(v_a[i]),
                        int(s_a[i]),
                    )
                )
                if len(pending) == size:
                    yield pending
                    pending = []
        if pending:
            yield pending

    def _reading(
        self, rid: str, patient: int, kind: int, t_ms: int, value: float, seq: int
    ) -> Reading:
        metric, unit, device, source = _KINDS[kind]
        effective = from_epoch_ms(t_ms)
        return Reading(
            reading_id=rid,
            patient_id=self.patient_id(patient),
            device_id=f"{device}-{patient:05d}",
            metric=metric,
            value=value,
            unit=unit,
            effective_time=effective,
            receive_time=effective + timedelta(seconds=20),
            device_time=effective.strftime("%Y-%m-%dT%H:%M:%S"),
            time_source=TimeSource.DEVICE,
            source=source,
            seq=seq if seq >= 0 else None,
        )


@dataclass
class Figures:
    backend: str
    written: int = 0
    write_s: float = 0.0
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.written / self.write_s if self.write_s else 0.0

    def percentile(self, name: str, q: float) -> float:
        return float(np.percentile(self.latencies_ms[name], q))


QUERIES = ("series 1 day", "downsample 14 days", "latest", "readings page (500)")


def run_backend(
    name: str, store: ReadingStore, workload: Workload, batch_size: int, queries: int
) -> Figures:
    figures = Figures(name)
    total = workload.readings
    started = time.monotonic()
    for batch in workload.batches(batch_size):
        t = time.perf_counter()
        result = store.write_batch(batch)
        figures.write_s += time.perf_counter() - t
        figures.written += result.written
        if figures.written % (batch_size * 100) < batch_size:
            rate = figures.written / figures.write_s
            print(
                f"  {name}: {figures.written:>10,} / {total:,} written, {rate:,.0f} rows/s"
                f" ({time.monotonic() - started:.0f} s)",
                file=sys.stderr,
            )
    rng = np.random.default_rng(workload.seed + 1)
    days = max(workload.days, 1)
    picks = [
        (workload.patient_id(int(rng.integers(workload.patients))), int(rng.integers(days)))
        for _ in range(queries)
    ]
    runs: dict[str, Callable[[str, datetime], object]] = {
        "series 1 day": lambda p, d: store.series(p, "glucose_isf", d, d + timedelta(days=1)),
        "downsample 14 days": lambda p, d: store.downsample(
            p, "glucose_isf", d - timedelta(days=13), d + timedelta(days=1)
        ),
        "latest": lambda p, d: store.latest(p),
        "readings page (500)": lambda p, d: store.readings(
            p, None, d, d + timedelta(days=2), limit=500
        ),
    }
    for query, run in runs.items():
        run(*_at(picks[0]))  # warm-up
        samples = []
        for pick in picks:
            t = time.perf_counter()
            run(*_at(pick))
            samples.append((time.perf_counter() - t) * 1000)
        figures.latencies_ms[query] = samples
    return figures


def _at(pick: tuple[str, int]) -> tuple[str, datetime]:
    return pick[0], START + timedelta(days=pick[1])


def table(results: list[Figures]) -> str:
    by_name = {f.backend: f for f in results}
    sqlite, influx = by_name.get("sqlite"), by_name.get("influxdb")
    header = f"{'':28}{'sqlite':>14}{'influxdb':>14}{'influx/sqlite':>16}"
    lines = [header, "-" * len(header)]

    def row(label: str, get: Callable[[Figures], float], fmt: str) -> None:
        a = get(sqlite) if sqlite else None
        b = get(influx) if influx else None
        ratio = f"{b / a:.2f}" if a and b else "-"
        cells = [format(x, fmt) if x is not None else "-" for x in (a, b)]
        lines.append(f"{label:28}{cells[0]:>14}{cells[1]:>14}{ratio:>16}")

    row("write rows/s", lambda f: f.rows_per_s, ",.0f")
    for query in QUERIES:
        for q in (50, 95):
            row(f"{query} p{q} ms", partial(Figures.percentile, name=query, q=q), ".2f")
    return "\n".join(lines)


def environment() -> str:
    influxd = influxd_binary()
    version = "not installed"
    if influxd:
        version = subprocess.run(
            [influxd, "version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    return (
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, {version}, "
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.store", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--large", action="store_true", help="200 patients x 90 days")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=200, help="samples per query kind")
    parser.add_argument("--backends", default="sqlite,influxdb")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--dir", type=Path, help="where the stores live (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the stores afterwards")
    args = parser.parse_args(argv)
    if args.large:
        args.patients, args.days = 200, 90
    workload = Workload(args.patients, args.days, args.seed)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    root = args.dir or Path(tempfile.mkdtemp(prefix="hub-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    print(
        f"{workload.patients} patients x {workload.days} days = {workload.readings:,} readings,"
        f" batches of {args.batch_size}, {args.queries} queries each; in {root}",
        file=sys.stderr,
    )
    results = []
    try:
        for backend in backends:
            if backend == "sqlite":
                store: ReadingStore = SqliteReadingStore(root / "readings.sqlite3")
                try:
                    results.append(
                        run_backend(backend, store, workload, args.batch_size, args.queries)
                    )
                finally:
                    store.close()
            elif backend == "influxdb":
                server = start_influxd(root / "influxd")
                try:
                    server.create_database("bench")
                    store = InfluxReadingStore(
                        InfluxTarget(url=server.url, database="bench", timeout_s=60),
                        batch_size=args.batch_size,
                    )
                    try:
                        results.append(
                            run_backend(backend, store, workload, args.batch_size, args.queries)
                        )
                    finally:
                        store.close()
                finally:
                    server.stop()
            else:
                parser.error(f"unknown backend {backend!r}")
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(root, ignore_errors=True)
    print(
        f"store benchmark: {workload.patients} patients x {workload.days} days of CGM every 5 min"
        f" + {SPOTS_PER_DAY} spot readings/day = {workload.readings:,} readings,"
        f" batches of {args.batch_size}, {args.queries} samples per query"
    )
    print(environment())
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
