"""Where the MQTT bridge's batches are decoded and committed: a thread of the bridge's own
process, or worker processes beside it.

The bridge's network loop (paho) and the ingestion of a batch (strict JSON, GATT decoding,
times, attribution, the durable commit) are both Python: in one process they take turns under
the interpreter lock, so a bridge that ingests in a thread is bounded by the sum of the two.
In worker processes they run side by side on separate cores (docs/performance.md has the
profile and the figures). Either way the contract is :class:`hub.core.batch.BatchSubmitter`:
the bridge submits whole batches, keeps receiving, and acknowledges a batch only when its
future holds the report of the durable commit.

Worker processes:

* are started with ``spawn`` (never ``fork``: the bridge has threads and open sockets), and
  each opens its own ingestor — its own store and registry connections — with the factory it
  is given, called with the bridge's settings;
* receive one pickled list per batch (never one message at a time) and send back the
  :class:`~hub.core.batch.BatchReport` without its per-item outcomes (the bridge acknowledges
  whole messages; only the provider push API answers item by item);
* raise :class:`~hub.core.batch.IngestUnavailable` through the future like the in-process
  ingestor does. A worker that dies (killed, out of memory) breaks the pool: every pending
  future raises :class:`concurrent.futures.process.BrokenProcessPool`; the bridge then exits
  so that its supervisor restarts it, and the broker redelivers every unacknowledged message.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime
from multiprocessing.connection import wait

from hub.config import Settings
from hub.core.batch import BatchIngestor, BatchReport, Incoming
from hub.core.model import Source


class InlineIngest:
    """Batches ingested one at a time by a thread of this process (tests, small sites)."""

    def __init__(self, ingestor: BatchIngestor) -> None:
        self._ingestor = ingestor
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-ingest")

    @property
    def capacity(self) -> int:
        return 1

    def submit(self, messages: Sequence[Incoming]) -> Future[BatchReport]:
        return self._thread.submit(self._ingestor.ingest, list(messages))

    def close(self, *, wait: bool = True) -> None:
        self._thread.shutdown(wait=wait, cancel_futures=not wait)


EXIT_ORPHANED = 70  # a worker whose bridge is gone

# The ingestor of a worker process, opened once by its initializer.
_worker_ingestor: BatchIngestor | None = None


def _open_worker(factory: Callable[[Settings], BatchIngestor], settings: Settings) -> None:
    global _worker_ingestor  # one ingestor per worker process, by design
    _exit_with_parent()
    _worker_ingestor = factory(settings)


def _exit_with_parent() -> None:
    """A worker must not outlive its bridge: a bridge killed outright (SIGKILL, out of
    memory) cannot shut its pool down, and its workers would idle forever, holding their
    store and registry connections. The parent's sentinel is a pipe that reads EOF when the
    parent is gone; whatever the worker was doing is not acknowledged and is redelivered."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="hub-ingest-parent", daemon=True).start()


# A batch crosses to a worker as plain tuples: pickling 500 frozen dataclasses and reading
# them back cost ~4.4 µs per message, the same fields as tuples ~0.75 µs.
_Wire = tuple[str, bytes, datetime, Source]


def _ingest_in_worker(messages: list[_Wire]) -> BatchReport:
    assert _worker_ingestor is not None, "the worker's initializer opens its ingestor"
    report = _worker_ingestor.ingest([Incoming(*fields) for fields in messages])
    report.items = []  # one outcome per item: only the provider push API answers with them
    return report


class IngestProcesses:
    """Batches ingested by ``workers`` processes, each with its own ingestor.

    ``factory`` must be a module-level function (it is pickled by name into each worker): it
    receives ``settings`` and returns the worker's ingestor — and may set the worker up first
    (logging).
    """

    def __init__(
        self, factory: Callable[[Settings], BatchIngestor], settings: Settings, workers: int
    ) -> None:
        if workers < 1:
            raise ValueError("at least one worker process")
        self._workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_open_worker,
            initargs=(factory, settings),
        )

    @property
    def capacity(self) -> int:
        return self._workers

    def submit(self, messages: Sequence[Incoming]) -> Future[BatchReport]:
        wire = [(m.topic, m.payload, m.receive_time, m.source) for m in messages]
        return self._pool.submit(_ingest_in_worker, wire)

    def close(self, *, wait: bool = True) -> None:
        if wait:
            self._pool.shutdown(wait=True, cancel_futures=True)
            return
        # A stalled bridge exits without waiting for a stuck worker (what Python 3.14's
        # ProcessPoolExecutor.terminate_workers does; 3.11 has only the private table).
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
