"""The durable outbox of a BLE gateway: one SQLite file, what the hub has not acknowledged yet.

One module for the product gateway (``hub ble-gateway``) and the simulated gateway firmware
(``gateway_firmware_sim``, which also keeps its MQTT-native devices' messages in one).
Invariants:

* an item is committed here *before* it is first published, and stays until released —
  by the hub's end-to-end ack (gateway frames) or the broker's PUBACK (device messages);
* an item never changes: a resend carries the same ``seq`` and the same bytes;
* ``seq`` numbers are per stream (per device), increase, and are never reused — the next
  number is kept durably even when every item has been released;
* an item others depend on (a context frame: the device clock read on connecting, a CGM
  Session Start Time) is kept, marked acknowledged, while a pending item still refers to it
  (``context_seq``), and the newest item of a *context kind* stays for the items still to
  come: every message carrying those records can start with it again;
* the gateway's own small state (RACP checkpoints, paired devices) is committed in the same
  transaction as the items it explains, so a crash never loses nor repeats a record.

**Bounded disk** (:class:`OutboxLimits`, off by default): the outbox never evicts an item,
acknowledged or not. At its limit it *refuses new* items instead — context frames excepted
(they are tiny and date the records already in) — and says so: :meth:`FrameOutbox.append`
returns what it refused, the refusals are counted durably (:attr:`FrameOutbox.refused`, in
the gateway's status) and logged at WARNING (at most once a minute, with the running count).
Their seqs are skipped, never reused. :attr:`FrameOutbox.nearly_full` (90 % of a limit) lets
a gateway stop fetching first: a glucose meter or a cuff keeps its records in its own memory
until there is room again, so refusals only hit what a device pushes regardless.
The cost of an item is its bytes plus a fixed row overhead (:data:`ROW_OVERHEAD`), which
bounds the file's size within a small factor (SQLite pages, WAL).

Durability: WAL journal, ``synchronous=NORMAL`` by default — it survives a crash of the
process (SIGKILL, the simulated power cut); ``FULL`` also survives an OS crash, at a cost.
The pending items are mirrored in memory (loaded at open) so publishing never scans the file.

Threads: writes and state reads (:meth:`append`, :meth:`release`, :meth:`state`,
:meth:`states`) from one thread at a time — the product gateway's outbox worker thread, off
its event loop; the in-memory views (:meth:`pending`, :meth:`get`, ``len``, the counters)
are safe from any thread.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hub.core.frame_messages import OutboxItem

log = logging.getLogger(__name__)

# Bytes an item costs beyond its data and time text: its row, key and index entries.
ROW_OVERHEAD = 64
_REFUSAL_LOG_EVERY_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS streams (
    stream   TEXT PRIMARY KEY,
    next_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS items (
    stream      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    data        BLOB    NOT NULL,
    time        TEXT,
    context_seq INTEGER,
    acked       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


class OutboxError(Exception):
    """The outbox was used against its invariants (a programming error)."""


@dataclass(frozen=True, slots=True)
class OutboxLimits:
    """The most the outbox holds: item cost in bytes (data + time + :data:`ROW_OVERHEAD`,
    acknowledged context frames included) and items."""

    max_bytes: int
    max_items: int

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_items < 1:
            raise ValueError("outbox limits must be positive")


@dataclass(frozen=True, slots=True)
class Appended:
    """What :meth:`FrameOutbox.append` committed, and what it refused (outbox full)."""

    accepted: list[OutboxItem]
    refused: list[OutboxItem] = field(default_factory=list)


def item_cost(item: OutboxItem) -> int:
    return len(item.data) + len(item.time or "") + ROW_OVERHEAD


class FrameOutbox:
    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        context_kinds: frozenset[str] = frozenset(),
        limits: OutboxLimits | None = None,
    ) -> None:
        self.path = path
        self._conn = conn
        self.context_kinds = context_kinds
        self.limits = limits
        self._lock = threading.Lock()
        self._pending: dict[str, dict[int, OutboxItem]] = {}
        self._kept: dict[str, dict[int, OutboxItem]] = {}  # acknowledged, still a context
        self._next: dict[str, int] = {}
        self._cost = 0
        self._count = 0
        self.refused = 0
        self._refusals_logged = 0
        self._refusal_logged_at = -_REFUSAL_LOG_EVERY_S
        self._load()

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        context_kinds: frozenset[str] = frozenset(),
        limits: OutboxLimits | None = None,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> FrameOutbox:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.executescript(_SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('incarnation', ?)",
            (uuid.uuid4().hex,),
        )
        return cls(path, conn, context_kinds, limits)

    def _load(self) -> None:
        meta = dict(self._conn.execute("SELECT key, value FROM meta"))
        self.incarnation = str(meta["incarnation"])
        self.refused = int(meta.get("refused", 0))
        self._refusals_logged = self.refused
        for stream, next_seq in self._conn.execute("SELECT stream, next_seq FROM streams"):
            self._next[stream] = int(next_seq)
        rows = self._conn.execute(
            "SELECT stream, seq, kind, data, time, context_seq, acked FROM items"
            " ORDER BY stream, seq"
        )
        for stream, seq, kind, data, time_text, context_seq, acked in rows:
            item = OutboxItem(stream, int(seq), kind, bytes(data), time_text, context_seq)
            table = self._kept if acked else self._pending
            table.setdefault(stream, {})[item.seq] = item
            self._cost += item_cost(item)
            self._count += 1

    # --- bounds -------------------------------------------------------------------------

    def _over(self, cost: int, count: int, fraction: float = 1.0) -> bool:
        limits = self.limits
        return limits is not None and (
            cost >= fraction * limits.max_bytes or count >= fraction * limits.max_items
        )

    @property
    def nearly_full(self) -> bool:
        """At 90 % of a limit: a gateway fetches no more records until acks make room."""
        return self._over(self._cost, self._count, 0.9)

    @property
    def held_bytes(self) -> int:
        """The cost of everything held (pending, and acknowledged contexts)."""
        return self._cost

    # --- writing ------------------------------------------------------------------------

    def next_seq(self, stream: str) -> int:
        """The seq the next item of ``stream`` must carry."""
        return self._next.get(stream, 1)

    def append(
        self, items: Sequence[OutboxItem], state: Mapping[str, str] | None = None
    ) -> Appended:
        """Commit ``items`` (seqs from :meth:`next_seq`, in order) and ``state``, atomically.

        At the limit, items that are not contexts are refused (see the module docstring):
        not stored, counted, their seqs skipped — and ``state`` is not written either, since
        it would describe items that are not there (an RACP checkpoint past them).
        """
        expected = dict(self._next)
        for item in items:
            if item.seq != expected.get(item.stream, 1):
                raise OutboxError(
                    f"{item.stream}: seq {item.seq} out of order "
                    f"(expected {expected.get(item.stream, 1)})"
                )
            expected[item.stream] = item.seq + 1
        if not items and not state:
            return Appended([])
        accepted: list[OutboxItem] = []
        refused: list[OutboxItem] = []
        cost, count = self._cost, self._count
        for item in items:
            if item.kind not in self.context_kinds and self._over(cost + item_cost(item), count):
                refused.append(item)
                continue
            accepted.append(item)
            cost += item_cost(item)
            count += 1
        with self._transaction():
            self._conn.executemany(
                "INSERT INTO items (stream, seq, kind, data, time, context_seq)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(i.stream, i.seq, i.kind, i.data, i.time, i.context_seq) for i in accepted],
            )
            self._conn.executemany(
                "INSERT INTO streams (stream, next_seq) VALUES (?, ?)"
                " ON CONFLICT (stream) DO UPDATE SET next_seq = excluded.next_seq",
                [(s, n) for s, n in expected.items() if self._next.get(s) != n],
            )
            if state and not refused:
                self._conn.executemany(
                    "INSERT INTO state (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    list(state.items()),
                )
            if refused:
                self._conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('refused', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(self.refused + len(refused)),),
                )
        with self._lock:
            self._next = expected
            for item in accepted:
                self._pending.setdefault(item.stream, {})[item.seq] = item
            self._cost, self._count = cost, count
            self.refused += len(refused)
        if refused:
            self._log_refusals()
        return Appended(accepted, refused)

    def _log_refusals(self) -> None:
        now = time.monotonic()
        if now - self._refusal_logged_at < _REFUSAL_LOG_EVERY_S:
            return
        assert self.limits is not None
        log.warning(
            "outbox %s full (%d of %d bytes, %d of %d items): refused %d new frames "
            "(%d since it was created); nothing held is dropped",
            self.path,
            self._cost,
            self.limits.max_bytes,
            self._count,
            self.limits.max_items,
            self.refused - self._refusals_logged,
            self.refused,
        )
        self._refusal_logged_at = now
        self._refusals_logged = self.refused

    def release(self, stream: str, seqs: Iterable[int]) -> int:
        """Forget the acknowledged ``seqs`` of ``stream``; returns how many were pending.

        Unknown or already released seqs are ignored (acks may come twice).
        """
        pending = dict(self._pending.get(stream, {}))
        released = [seq for seq in set(seqs) if seq in pending]
        if not released:
            return 0
        kept = dict(self._kept.get(stream, {}))
        for seq in released:
            kept[seq] = pending.pop(seq)
        needed = {i.context_seq for i in pending.values() if i.context_seq is not None}
        contexts = [seq for seq, item in kept.items() if item.kind in self.context_kinds]
        if contexts:
            needed.add(max(contexts))  # the newest context serves the items still to come
        drop = [seq for seq in kept if seq not in needed]
        keep = [seq for seq in released if seq in needed]
        with self._transaction():
            self._conn.executemany(
                "DELETE FROM items WHERE stream = ? AND seq = ?", [(stream, s) for s in drop]
            )
            self._conn.executemany(
                "UPDATE items SET acked = 1 WHERE stream = ? AND seq = ?",
                [(stream, s) for s in keep],
            )
        freed = sum(item_cost(kept.pop(seq)) for seq in drop)
        with self._lock:
            self._kept[stream] = kept
            if pending:
                self._pending[stream] = pending
            else:
                self._pending.pop(stream, None)
            self._cost -= freed
            self._count -= len(drop)
        return len(released)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)

    # --- reading ------------------------------------------------------------------------

    def pending(self) -> list[OutboxItem]:
        """Every pending item, by stream then seq (the resend order)."""
        with self._lock:
            tables = [self._pending[stream] for stream in sorted(self._pending)]
            return [table[seq] for table in tables for seq in sorted(table)]

    def pending_for(self, stream: str) -> list[OutboxItem]:
        with self._lock:
            items = self._pending.get(stream, {})
            return [items[seq] for seq in sorted(items)]

    def streams(self) -> list[str]:
        with self._lock:
            return sorted(self._pending)

    def latest(self, stream: str, kind: str) -> OutboxItem | None:
        """The newest item of ``kind`` held for ``stream`` (pending, or kept as a context)."""
        with self._lock:
            held = [*self._pending.get(stream, {}).values(), *self._kept.get(stream, {}).values()]
        return max((i for i in held if i.kind == kind), key=lambda i: i.seq, default=None)

    def get(self, stream: str, seq: int) -> OutboxItem | None:
        """A pending item, or an acknowledged one kept as a context."""
        with self._lock:
            return self._pending.get(stream, {}).get(seq) or self._kept.get(stream, {}).get(seq)

    def state(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def states(self, prefix: str = "") -> dict[str, str]:
        rows = self._conn.execute(
            "SELECT key, value FROM state WHERE key >= ? AND key < ?", (prefix, prefix + "\uffff")
        )
        return {str(k): str(v) for k, v in rows}

    def __len__(self) -> int:
        """Pending items."""
        with self._lock:
            return sum(len(items) for items in self._pending.values())

    def close(self) -> None:
        self._conn.close()


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, _value: object, _tb: object) -> None:
        self._conn.execute("COMMIT" if kind is None else "ROLLBACK")


def pending_count(path: str | Path) -> int:
    """Pending items in an outbox file, read from outside (tests, operators)."""
    with sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=30) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM items WHERE acked = 0").fetchone()[0])
