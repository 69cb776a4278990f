"""Ingest worker processes (hub.adapters.ingest_workers) with real spawned processes: a batch
crosses and its report comes back, a worker that dies breaks the pool (the bridge then exits),
and a worker never outlives a bridge killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import wait
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.adapters.ingest_workers import IngestProcesses
from hub.config import Settings
from hub.core.batch import BatchReport, Incoming, ItemFate, ItemOutcome
from hub.core.model import Source

ROOT = Path(__file__).resolve().parents[2]
RECEIVED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # any instant: nothing here reads a clock


class EchoIngestor:
    """Reports what it was given: the worker's pid, and each message's fields back."""

    def ingest(self, messages: Sequence[Incoming]) -> BatchReport:
        if any(m.payload == b"die" for m in messages):
            os._exit(9)  # a worker killed mid-batch (out of memory, say)
        if any(m.payload == b"hang" for m in messages):
            time.sleep(600)  # a worker stuck in a batch (a store that never answers)
        return BatchReport(
            messages=len(messages),
            stored=os.getpid(),
            gateway_acks={m.topic: {m.source.value: [len(m.payload)]} for m in messages},
            dead_letter_kinds=dict(Counter(m.receive_time.isoformat() for m in messages)),
            items=[ItemOutcome(n, None, ItemFate.ACCEPTED) for n in range(len(messages))],
        )


def open_echo(_settings: Settings) -> EchoIngestor:
    return EchoIngestor()


@pytest.fixture
def workers() -> Iterator[IngestProcesses]:
    pool = IngestProcesses(open_echo, Settings(), 1)
    yield pool
    pool.close(wait=False)


def test_a_batch_crosses_to_a_worker_and_its_report_comes_back(workers: IngestProcesses) -> None:
    batch = [
        Incoming("hs/v1/devices/a/readings", b"{}", RECEIVED),
        Incoming("hs/v1/providers/p/readings", b"[1]", RECEIVED, Source.PROVIDER),
    ]
    report = workers.submit(batch).result(timeout=60)
    assert report.messages == 2
    assert report.stored not in (0, os.getpid())  # ingested in another process
    assert report.gateway_acks == {
        "hs/v1/devices/a/readings": {"mqtt": [2]},
        "hs/v1/providers/p/readings": {Source.PROVIDER.value: [3]},
    }
    assert report.dead_letter_kinds == {RECEIVED.isoformat(): 2}
    assert report.items == []  # per-item outcomes stay in the worker: the bridge acks messages


def test_a_worker_that_dies_breaks_the_pool(workers: IngestProcesses) -> None:
    assert workers.submit([Incoming("t", b"ok", RECEIVED)]).result(timeout=60).messages == 1
    with pytest.raises(BrokenProcessPool):
        workers.submit([Incoming("t", b"die", RECEIVED)]).result(timeout=60)


def test_closing_without_waiting_stops_a_stuck_worker() -> None:
    """What a stalled bridge does before it exits: its workers go with it."""
    pool = IngestProcesses(open_echo, Settings(), 1)
    pid = pool.submit([Incoming("t", b"ok", RECEIVED)]).result(timeout=60).stored
    stuck = pool.submit([Incoming("t", b"hang", RECEIVED)])
    time.sleep(0.5)  # the worker is inside the batch
    pool.close(wait=False)
    assert gone_within(pid, 20)
    done, _ = wait([stuck], timeout=20)  # failed (BrokenProcessPool), never left hanging
    assert done == {stuck} and not stuck.cancelled() and stuck.exception() is not None


def test_no_worker_outlives_a_bridge_killed_outright() -> None:
    bridge = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import time
                from datetime import UTC, datetime
                from hub.adapters.ingest_workers import IngestProcesses
                from hub.config import Settings
                from hub.core.batch import Incoming
                from tests.unit.test_ingest_workers import open_echo

                pool = IngestProcesses(open_echo, Settings(), 2)
                batch = [Incoming("t", b"x", datetime.now(UTC))]
                pids = {pool.submit(batch).result().stored for _ in range(20)}
                print(*sorted(pids), flush=True)
                time.sleep(600)
                """
            ),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert bridge.stdout is not None
        pids = [int(pid) for pid in bridge.stdout.readline().split()]
        assert pids and all(alive(pid) for pid in pids)
    finally:
        bridge.send_signal(signal.SIGKILL)
        bridge.wait(timeout=10)
    assert all(gone_within(pid, 20) for pid in pids), f"orphaned ingest workers: {pids}"


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for its reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):  # gone before, or while, /proc was read
        return False
    return state != "Z"
