"""The time-series store contract: the :class:`ReadingStore` protocol, its results and errors.

Errors (callers act on the class, never on a driver exception)::

    StoreError            base; ``retryable`` tells retry-with-backoff from reject.
     │                    A plain StoreError is neither: the store itself is broken
     │                    (corrupt file, a query the server does not understand) — alert.
     ├── StoreUnavailable the backend cannot be reached, is busy, or refuses our
     │                    credentials: retry later, do not ack (the data is fine)
     └── StoreRejected    the data itself is refused (non-finite value, unknown metric,
                          time out of range, a character line protocol cannot carry):
                          retrying will not help — dead-letter it

Every backend passes one conformance suite (``tests/integration/test_store_conformance.py``):

* ``write_batch`` is idempotent — an upsert by reading identity (``reading_id``): a resent
  reading is counted as a duplicate and stored once, the first copy wins — and durable when it
  returns: this is what the MQTT bridge acknowledges on. Everything in a batch is validated
  (:func:`validate_for_store`) before anything is written.
* Times are epoch milliseconds (``hub.core.model.epoch_ms``); ranges are half-open ``[start, end)``
  on the effective time; order is (effective time, reading_id).
* Reads may run in other threads while a write is in progress.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from device_profiles.vocabulary import METRICS
from hub.core.model import Reading

if TYPE_CHECKING:
    from hub.config import Settings

# Times the stores accept: the first glucose meters post-date 1970; nothing is stored past 2200.
MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2200, 1, 1, tzinfo=UTC)
_INT64 = (-(2**63), 2**63 - 1)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class StoreError(Exception):
    retryable = False


class StoreUnavailable(StoreError):
    retryable = True


class StoreRejected(StoreError):
    retryable = False


@dataclass(frozen=True, slots=True)
class WriteResult:
    written: int  # new readings
    duplicates: int  # readings the store already held (same identity), or repeated in the batch


@dataclass(frozen=True, slots=True)
class Series:
    """A metric's values over time, ready for numpy: ``times_ms`` int64, ``values`` float64."""

    times_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.times_ms.shape[0])


@dataclass(frozen=True, slots=True)
class Downsampled:
    """Per-bucket statistics of one metric; empty buckets are left out.

    ``starts_ms`` (int64) are epoch-aligned bucket starts (``buckets``); ``mean``,
    ``min``, ``max`` are float64 and ``count`` int64, all the same length.
    """

    bucket_ms: int
    starts_ms: npt.NDArray[np.int64]
    mean: npt.NDArray[np.float64]
    min: npt.NDArray[np.float64]
    max: npt.NDArray[np.float64]
    count: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.starts_ms.shape[0])

    @classmethod
    def empty(cls, bucket_ms: int) -> Downsampled:
        f = np.empty(0, np.float64)
        return cls(bucket_ms, np.empty(0, np.int64), f, f.copy(), f.copy(), np.empty(0, np.int64))


class ReadingStore(Protocol):
    def write_batch(self, readings: Sequence[Reading]) -> WriteResult:
        """Store readings idempotently; durable when it returns. Validates the whole batch
        first: one invalid reading raises :class:`StoreRejected` and nothing is written."""
        ...

    def series(self, patient_id: str, metric: str, start: datetime, end: datetime) -> Series:
        """Values of one metric in ``[start, end)``, ordered by (effective time, identity)."""
        ...

    def readings(
        self,
        patient_id: str,
        metrics: Sequence[str] | None,
        start: datetime,
        end: datetime,
        *,
        after: tuple[int, str] | None = None,
        limit: int = 500,
    ) -> list[Reading]:
        """Readings in ``[start, end)`` ordered by (effective time ms, reading_id), strictly
        after the cursor ``after`` = (effective time ms, reading_id) when given."""
        ...

    def downsample(
        self,
        patient_id: str,
        metric: str,
        start: datetime,
        end: datetime,
        bucket: timedelta | None = None,
    ) -> Downsampled:
        """Mean, min, max and count per epoch-aligned bucket over ``[start, end)``; the bucket
        defaults to :func:`hub.adapters.store.buckets.choose_bucket` of the range."""
        ...

    def latest(self, patient_id: str, metrics: Sequence[str] | None = None) -> dict[str, Reading]:
        """The last reading (greatest effective time, then identity) of each metric the
        patient has, among ``metrics`` if given."""
        ...

    def count(
        self,
        patient_id: str | None = None,
        metrics: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> int:
        """How many readings match (every filter optional; the range is ``[start, end)``)."""
        ...

    def apply_retention(self, older_than: datetime) -> int:
        """Delete every reading whose effective time is before ``older_than``; how many."""
        ...

    def erase_patient(self, patient_id: str) -> int:
        """Delete every reading of a patient (GDPR erasure) and check none remains; how many."""
        ...

    def ping(self) -> None:
        """Readiness: return if the store answers, raise :class:`StoreUnavailable` if not."""
        ...

    def close(self) -> None: ...


def validate_for_store(reading: Reading) -> None:
    """Refuse what no backend may hold, before it reaches one (:class:`StoreRejected`)."""
    if reading.metric not in METRICS:
        raise StoreRejected(f"unknown metric {reading.metric!r}")
    if not math.isfinite(reading.value):
        raise StoreRejected(f"non-finite value {reading.value!r} for {reading.metric}")
    if not reading.patient_id:
        raise StoreRejected("reading has no patient")
    if not reading.reading_id:
        raise StoreRejected("reading has no identity")
    if not reading.device_id:
        raise StoreRejected(f"reading {reading.reading_id} has no device")
    for name, moment in (
        ("effective_time", reading.effective_time),
        ("receive_time", reading.receive_time),
    ):
        if moment.tzinfo is None or not MIN_TIME <= moment < MAX_TIME:
            raise StoreRejected(
                f"reading {reading.reading_id}: {name} {moment.isoformat()} is outside "
                "1970..2200 UTC"
            )
    if reading.seq is not None and not _INT64[0] <= reading.seq <= _INT64[1]:
        raise StoreRejected(f"reading {reading.reading_id}: seq {reading.seq} exceeds 64 bits")
    # Line protocol is newline-delimited: no control character may reach a store.
    text = f"{reading.reading_id}{reading.patient_id}{reading.device_id}{reading.unit}"
    if _CONTROL.search(text) or _CONTROL.search(reading.device_time or ""):
        raise StoreRejected(f"reading {reading.reading_id!r}: a control character in its text")
    if reading.flags and _CONTROL.search("".join(reading.flags)):
        raise StoreRejected(f"reading {reading.reading_id!r}: flags contain a control character")


def open_store(settings: Settings) -> ReadingStore:
    """The backend the settings select (the caller closes it)."""
    store = settings.store
    if store.backend == "sqlite":
        from hub.adapters.store.sqlite import SqliteReadingStore

        assert store.sqlite_path is not None
        return SqliteReadingStore(store.sqlite_path, busy_timeout_s=store.sqlite_busy_timeout_s)
    if store.backend == "influxdb":
        from hub.adapters.store.influx import InfluxReadingStore

        return InfluxReadingStore.from_settings(store)
    raise StoreError(f"store backend {store.backend!r} is not available")
