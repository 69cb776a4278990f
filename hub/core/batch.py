"""What a transport hands to ingestion, and what it gets back (pure data).

A transport (the MQTT bridge, the provider push API) hands a batch of :class:`Incoming`
messages to a :class:`BatchIngestor` and acknowledges them only when it returns a
:class:`BatchReport` — by then everything in the batch is durable. When it raises
:class:`IngestUnavailable` nothing may be acknowledged and the batch is retried whole.

A :class:`BatchSubmitter` is the same contract with several batches in flight at once (the
MQTT bridge keeps receiving while earlier batches are decoded and committed elsewhere): each
batch's report, or its :class:`IngestUnavailable`, arrives through its own future.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from hub.core.model import Source


class IngestUnavailable(Exception):
    """A store or the registry failed: nothing in the batch may be acknowledged."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One raw message as a transport received it."""

    topic: str
    payload: bytes
    receive_time: datetime
    source: Source = Source.MQTT


class ItemFate(enum.StrEnum):
    """What became of one item of a batch (the provider push API answers with it)."""

    ACCEPTED = "accepted"  # stored (or already held: a duplicate)
    QUARANTINED = "quarantined"  # valid, but no enrollment covers it yet
    REJECTED = "rejected"  # refused, kept as a dead letter with the reason
    REFUSED = "refused"  # the patient objects to this source: not stored, audited


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    message: int  # index of the message in the batch
    index: int | None  # index of the item in the message; None: the whole message
    fate: ItemFate
    reason: str | None = None
    field: str | None = None


@dataclass(slots=True)
class BatchReport:
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    quarantined: int = 0
    dead_letter_kinds: dict[str, int] = field(default_factory=dict)
    refused_by_consent: int = 0
    # End-to-end acks: gateway id -> device id -> frame seqs now durably handled.
    gateway_acks: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    items: list[ItemOutcome] = field(default_factory=list)
    # False when an all-or-nothing batch (a FHIR transaction) was refused whole.
    committed: bool = True


class BatchIngestor(Protocol):
    """Durably commits a batch, or raises :class:`IngestUnavailable` (nothing committed)."""

    def ingest(self, messages: Sequence[Incoming]) -> BatchReport: ...


class BatchSubmitter(Protocol):
    """Commits batches concurrently; the caller acknowledges a batch when its future holds a
    report, and retries it whole when the future raises :class:`IngestUnavailable`."""

    @property
    def capacity(self) -> int:
        """How many batches it works on at once (more in flight only wait in its queue)."""
        ...

    def submit(self, messages: Sequence[Incoming]) -> Future[BatchReport]: ...

    def close(self, *, wait: bool = True) -> None:
        """Finish the batches in hand, then release the workers; ``wait=False``: stop them
        now (what they had not committed is redelivered, never acknowledged)."""
        ...
