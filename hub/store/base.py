"""The time-series store contract.

Errors (callers act on the class, never on a driver exception)::

    StoreError            base; ``retryable`` tells retry-with-backoff from reject
     ├── StoreUnavailable the backend cannot be reached or is busy: retry later, do not ack
     └── StoreRejected    the data itself is refused (non-finite value, unknown metric,
                          time out of range): retrying will not help

A backend's ``write_batch`` is idempotent (upsert by reading identity) and durable when it
returns: this is what the MQTT bridge acknowledges on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from device_profiles.vocabulary import METRICS
from hub.model import Reading

if TYPE_CHECKING:
    from hub.config import Settings

# Times the stores accept: the first glucose meters post-date 1970; nothing is stored past 2200.
MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2200, 1, 1, tzinfo=UTC)


class StoreError(Exception):
    retryable = False


class StoreUnavailable(StoreError):
    retryable = True


class StoreRejected(StoreError):
    retryable = False


@dataclass(frozen=True, slots=True)
class WriteResult:
    written: int  # new readings
    duplicates: int  # readings the store already held (same identity)


@dataclass(frozen=True, slots=True)
class Series:
    """A metric's values over time, ready for numpy: ``times_ms`` int64, ``values`` float64."""

    times_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.times_ms.shape[0])


class ReadingStore(Protocol):
    def write_batch(self, readings: Sequence[Reading]) -> WriteResult:
        """Store readings idempotently; durable when it returns."""
        ...

    def series(self, patient_id: str, metric: str, start: datetime, end: datetime) -> Series:
        """Values of one metric in ``[start, end)``, ordered by effective time."""
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
        """Readings in ``[start, end)`` ordered by (effective time, identity), after a cursor."""
        ...

    def erase_patient(self, patient_id: str) -> int:
        """Delete every reading of a patient (GDPR erasure); returns how many."""
        ...

    def close(self) -> None: ...


def validate_for_store(reading: Reading) -> None:
    """Refuse what no backend may hold, before it reaches one."""
    if reading.metric not in METRICS:
        raise StoreRejected(f"unknown metric {reading.metric!r}")
    if not math.isfinite(reading.value):
        raise StoreRejected(f"non-finite value {reading.value!r} for {reading.metric}")
    if not reading.patient_id:
        raise StoreRejected("reading has no patient")
    for name in ("effective_time", "receive_time"):
        moment = getattr(reading, name)
        if moment.tzinfo is None or not MIN_TIME <= moment < MAX_TIME:
            raise StoreRejected(f"{name} {moment.isoformat()} is outside 1970..2200 UTC")


def open_store(settings: Settings) -> ReadingStore:
    """The backend the settings select."""
    if settings.store.backend == "sqlite":
        from hub.store.sqlite import SqliteReadingStore

        assert settings.store.sqlite_path is not None
        return SqliteReadingStore(settings.store.sqlite_path)
    raise StoreError(f"store backend {settings.store.backend!r} is not available yet")
