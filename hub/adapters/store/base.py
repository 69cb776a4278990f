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
  on the effective time.
* **Order** is :class:`ReadingCursor`: (effective ms, ``seq`` — :data:`NO_SEQ` when the reading
  has none —, ``reading_id``). Readings of one device sharing a millisecond come in the device's
  own record order; the identity (a hash) only breaks the remaining ties.
* **Untrusted times** (``TimeSource.UNTRUSTED``, ``Reading.time_unknown``): such a reading is
  kept, at the device time as sent, but ``series``, ``downsample`` and ``latest`` never return
  it, and ``readings`` only when asked (``include_untrusted=True``); ``count``, erasure,
  retention, ``device_readings``, ``reassign`` and ``delete_readings`` always include it.
* Reads may run in other threads while a write is in progress.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from device_profiles.vocabulary import METRICS
from hub.core.model import Reading, epoch_ms

if TYPE_CHECKING:
    from hub.config import Settings

# Times the stores accept: the first glucose meters post-date 1970; nothing is stored past 2200.
MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2200, 1, 1, tzinfo=UTC)
_MIN_MS = epoch_ms(MIN_TIME)
_MAX_MS = epoch_ms(MAX_TIME)
SEQ_MAX = 2**63 - 1  # record sequence numbers are 0..2^63-1 (docs/wire.md)
NO_SEQ = -1  # a reading without ``seq`` sorts before every record number of its millisecond
_INT64 = (-(2**63), 2**63 - 1)
_MAX_UTC_OFFSET_MIN = 24 * 60  # a UTC offset is less than a day (datetime.timezone's own rule)
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
        no_values = np.empty(0, np.float64)
        return cls(
            bucket_ms,
            np.empty(0, np.int64),
            no_values,
            no_values.copy(),
            no_values.copy(),
            np.empty(0, np.int64),
        )


class ReadingCursor(NamedTuple):
    """A position in the stores' reading order, which is the order of these tuples.

    ``readings(after=cursor)`` continues strictly after it. Build one with :func:`cursor_of`;
    one from outside (an API client) goes through :meth:`checked` first.
    """

    t_ms: int  # effective time, epoch ms
    seq: int  # the device's record sequence number, NO_SEQ (-1) when it has none
    reading_id: str

    def checked(self) -> ReadingCursor:
        """This cursor if a stored reading can be at it; ``ValueError`` otherwise (a time
        outside 1970..2200, a seq outside -1..2^63-1, an empty identity or a control
        character in it)."""
        if not _MIN_MS <= self.t_ms < _MAX_MS:
            raise ValueError(f"cursor time {self.t_ms} is outside 1970..2200")
        if not NO_SEQ <= self.seq <= SEQ_MAX:
            raise ValueError(f"cursor seq {self.seq} is outside {NO_SEQ}..2^63-1")
        if not self.reading_id or _CONTROL.search(self.reading_id):
            raise ValueError("cursor identity is empty or has a control character")
        return self


def cursor_of(reading: Reading) -> ReadingCursor:
    """Where ``reading`` stands in the order (also its sort key)."""
    return ReadingCursor(
        epoch_ms(reading.effective_time),
        NO_SEQ if reading.seq is None else reading.seq,
        reading.reading_id,
    )


class ReadingStore(Protocol):
    def write_batch(
        self, readings: Sequence[Reading], *, prevalidated: bool = False
    ) -> WriteResult:
        """Store readings idempotently; durable when it returns. Validates the whole batch
        first: one invalid reading raises :class:`StoreRejected` and nothing is written —
        unless ``prevalidated``: the caller ran :func:`validate_for_store` on each already
        (ingestion does, to dead-letter a refused reading alone), and it is not done twice."""
        ...

    def series(self, patient_id: str, metric: str, start: datetime, end: datetime) -> Series:
        """Values of one metric in ``[start, end)``, in the reading order; untrusted times
        left out."""
        ...

    def readings(
        self,
        patient_id: str,
        metrics: Sequence[str] | None,
        start: datetime,
        end: datetime,
        *,
        after: ReadingCursor | None = None,
        limit: int = 500,
        include_untrusted: bool = False,
    ) -> list[Reading]:
        """Readings in ``[start, end)`` in the reading order, strictly after ``after`` when
        given (``ValueError`` if no stored reading can be at it: :meth:`ReadingCursor.checked`).
        Untrusted times only with ``include_untrusted``."""
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
        defaults to :func:`hub.adapters.store.buckets.choose_bucket` of the range. Untrusted
        times left out."""
        ...

    def latest(self, patient_id: str, metrics: Sequence[str] | None = None) -> dict[str, Reading]:
        """The last reading (greatest in the reading order) of each metric the patient has,
        among ``metrics`` if given; untrusted times left out."""
        ...

    def count(
        self,
        patient_id: str | None = None,
        metrics: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        include_untrusted: bool = True,
    ) -> int:
        """How many readings match (every filter optional; the range is ``[start, end)``).
        Untrusted times included by default: erasure and retention count what they delete."""
        ...

    def device_readings(self, device_id: str, start: datetime, end: datetime) -> list[Reading]:
        """Every reading of one device in ``[start, end)``, whichever patient holds it,
        untrusted times included, in the reading order (re-attribution reads these)."""
        ...

    def reassign(self, moves: Sequence[tuple[Reading, str]]) -> int:
        """Move each reading — found by its identity at the patient it names, as stored — to
        the patient id paired with it; how many moved. Every move is checked first
        (:func:`validate_moves`: nothing moves if one is refused). Idempotent: run twice, or
        again after a crash half-way, it converges to one copy at the new patient; a reading
        already moved, or not stored, is left alone. Durable when it returns."""
        ...

    def delete_readings(self, readings: Sequence[Reading]) -> int:
        """Remove these readings (by identity, at the patient each names); how many were
        stored. Idempotent; durable when it returns (a reading losing its attribution goes
        back to quarantine)."""
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
    # The order puts a reading without seq (NO_SEQ = -1) before every record number, so a
    # record number is never negative (the wire and every decoder allow 0..2^63-1 only).
    if reading.seq is not None and not 0 <= reading.seq <= SEQ_MAX:
        raise StoreRejected(f"reading {reading.reading_id}: seq {reading.seq} is outside 0..2^63-1")
    if reading.utc_offset_min is not None and not (
        -_MAX_UTC_OFFSET_MIN < reading.utc_offset_min < _MAX_UTC_OFFSET_MIN
    ):
        raise StoreRejected(
            f"reading {reading.reading_id}: a UTC offset of {reading.utc_offset_min} min"
            " (a day or more)"
        )
    if reading.clock_offset_ms is not None and not (
        _INT64[0] <= reading.clock_offset_ms <= _INT64[1]
    ):
        raise StoreRejected(f"reading {reading.reading_id}: clock offset exceeds 64 bits")
    # Line protocol is newline-delimited: no control character may reach a store.
    text = (
        f"{reading.reading_id}{reading.patient_id}{reading.device_id}{reading.unit}"
        f"{reading.device_time or ''}{reading.value_sent or ''}{reading.unit_sent or ''}"
        f"{reading.time_zone or ''}"
    )
    if _CONTROL.search(text):
        raise StoreRejected(f"reading {reading.reading_id!r}: a control character in its text")
    if reading.flags and _CONTROL.search("".join(reading.flags)):
        raise StoreRejected(f"reading {reading.reading_id!r}: flags contain a control character")


def validate_moves(moves: Sequence[tuple[Reading, str]]) -> dict[str, tuple[Reading, str]]:
    """The moves of :meth:`ReadingStore.reassign` that change something, by identity, once
    each. Every new patient id is validated as :func:`validate_for_store` would
    (:class:`StoreRejected`); one reading sent to two patients is a ``ValueError``."""
    wanted: dict[str, tuple[Reading, str]] = {}
    for reading, patient_id in moves:
        validate_for_store(replace(reading, patient_id=patient_id))
        if patient_id == reading.patient_id:
            continue
        first = wanted.setdefault(reading.reading_id, (reading, patient_id))
        if first[1] != patient_id:
            raise ValueError(f"reading {reading.reading_id!r} is moved to two patients")
    return wanted


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
