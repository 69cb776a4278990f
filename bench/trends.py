"""Trends API benchmark: the patient page's calls, against the store reads they are made of.

    python -m bench.trends                      # 10 patients x 90 days on SQLite
    python -m bench.trends --patients 3 --queries 20
    make bench-trends TRENDS_ARGS="--patients 5"

The data is bench.store's workload (a CGM every 5 minutes and daily spot readings: meter
glucose, blood pressure, weight), written into a SQLite store in a temporary directory. The
API runs in-process (FastAPI's TestClient: routing, token check, authorization with its audit
row, the summaries, JSON), its clock set to the end of the data. For each call, p50 and p95
in milliseconds over ``--queries`` random patients, next to a **baseline measured in the same
run**: the store reads alone that the call needs. The ratio is what the summaries, the audit
and the JSON cost on top of reading the data. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from api.app import create_app
from bench.store import START, Workload
from hub.adapters.store.base import ReadingStore
from hub.adapters.tokens import Role, mint_token
from hub.config import Settings
from hub.core.model import from_epoch_ms
from hub.core.periods import resolve_period
from hub.core.summaries import PARIS
from hub.services.trends import CHARTED

SUMMARY_METRICS = ("glucose_isf", "systolic_bp", "diastolic_bp", "pulse_rate", "weight", "spo2")


@dataclass
class Call:
    name: str
    path: str
    params: dict[str, str]
    baseline: Callable[[ReadingStore, str], object]


def _downsample_all(period: str, end: datetime) -> Callable[[ReadingStore, str], object]:
    window = resolve_period(period, int(end.timestamp() * 1000), PARIS)
    start, stop = from_epoch_ms(window.start_ms), from_epoch_ms(window.end_ms)
    return lambda store, p: [store.downsample(p, m, start, stop) for m in CHARTED]


def _series_all(period: str, end: datetime) -> Callable[[ReadingStore, str], object]:
    window = resolve_period(period, int(end.timestamp() * 1000), PARIS)
    start, stop = from_epoch_ms(window.start_ms), from_epoch_ms(window.end_ms)

    def reads(store: ReadingStore, patient: str) -> object:
        found = [store.series(patient, m, start, stop) for m in SUMMARY_METRICS]
        meter = store.readings(patient, ["glucose"], start, stop, limit=5000)
        return found, meter, store.latest(patient, CHARTED)

    return reads


def calls(end: datetime) -> list[Call]:
    ninety = {"from": (end - timedelta(days=90)).isoformat(), "to": end.isoformat()}
    start_90, stop = end - timedelta(days=90), end
    return [
        Call("trends week", "trends", {"period": "week"}, _downsample_all("week", end)),
        Call("trends 3months", "trends", {"period": "3months"}, _downsample_all("3months", end)),
        Call("summaries 2weeks", "summaries", {"period": "2weeks"}, _series_all("2weeks", end)),
        Call("summaries 3months", "summaries", {"period": "3months"}, _series_all("3months", end)),
        Call(
            "summaries/cgm 90 days",
            "summaries/cgm",
            ninety,
            lambda store, p: store.series(p, "glucose_isf", start_90, stop),
        ),
        Call("alerts 2weeks", "alerts", {"period": "2weeks"}, _series_all("2weeks", end)),
    ]


def percentiles(samples: list[float]) -> tuple[float, float]:
    values = np.array(samples) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.trends", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--patients", type=int, default=10)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--queries", type=int, default=50, help="samples per call")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    workload = Workload(args.patients, args.days, args.seed)
    root = Path(tempfile.mkdtemp(prefix="hub-bench-trends-"))
    end = START + timedelta(days=args.days)
    print(f"{workload.readings:,} readings into SQLite in {root}", file=sys.stderr)
    rng = np.random.default_rng(args.seed)
    rows = []
    try:
        settings = Settings(
            environment="test", data_dir=root, auth={"secret": secrets.token_urlsafe(32)}
        )
        with TestClient(create_app(settings)) as client:
            context = client.app.state.hub  # type: ignore[attr-defined]
            context.clock = lambda: end
            for batch in workload.batches(5000):
                context.store.write_batch(batch)
            now = datetime.now(UTC)
            for call in calls(end):
                api_s: list[float] = []
                store_s: list[float] = []
                for _ in range(args.queries):
                    patient = workload.patient_id(int(rng.integers(0, workload.patients)))
                    token = mint_token(settings.auth, subject=patient, role=Role.PATIENT, now=now)
                    started = time.perf_counter()
                    response = client.get(
                        f"/v1/patients/{patient}/{call.path}",
                        params=call.params,
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    api_s.append(time.perf_counter() - started)
                    if response.status_code != 200:
                        raise SystemExit(f"{call.name}: {response.status_code} {response.text}")
                    started = time.perf_counter()
                    call.baseline(context.store, patient)
                    store_s.append(time.perf_counter() - started)
                rows.append((call.name, percentiles(api_s), percentiles(store_s)))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"trends API benchmark: {workload.patients} patients x {workload.days} days"
        f" = {workload.readings:,} readings (SQLite), {args.queries} samples per call"
    )
    print(
        f"{'call':<24}{'API p50':>10}{'API p95':>10}{'store p50':>11}{'store p95':>11}{'ratio':>8}"
    )
    for name, (api50, api95), (store50, store95) in rows:
        ratio = api50 / store50 if store50 else float("nan")
        print(
            f"{name:<24}{api50:>10.1f}{api95:>10.1f}{store50:>11.1f}{store95:>11.1f}{ratio:>8.2f}"
        )
    print("(milliseconds; ratio = API p50 / store reads p50)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
