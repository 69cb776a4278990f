"""The durable outbox of a gateway (or of an MQTT-native device): one SQLite file each.

What is in the outbox is what the hub has not acknowledged yet. Invariants:

* an item is committed here *before* it is first published, and stays until released —
  by the hub's end-to-end ack (gateway frames) or the broker's PUBACK (device messages);
* an item never changes: a resend carries the same ``seq`` and the same bytes;
* ``seq`` numbers are per stream (per device), increase, and are never reused — the next
  number is kept durably even when every item has been released;
* an item others depend on (a CGM Session Start Time, which dates the CGM records after it)
  is kept, marked acknowledged, while a pending item still refers to it (``context_seq``),
  and the newest item of a *context kind* stays for the items still to come: every message
  carrying those records can start with it again;
* the firmware's own small state (RACP cursors, paired devices) is committed in the same
  transaction as the items it produced, so a power cut never loses nor repeats a record.

Durability: WAL journal, ``synchronous=NORMAL`` by default — it survives a crash of the
process (what the simulated power cut is); ``FULL`` also survives an OS crash, at a cost.
The pending items are mirrored in memory (loaded at open) so publishing never scans the file.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One thing to deliver: a characteristic value (``kind`` = its UUID, ``"2A35"``), or a
    device message (``kind`` names its shape). ``time``: when the gateway received it."""

    stream: str
    seq: int
    kind: str
    data: bytes
    time: str | None = None
    context_seq: int | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.stream, self.seq)


class OutboxError(Exception):
    """The outbox was used against its invariants (a programming error)."""


class Outbox:
    def __init__(
        self, path: Path, conn: sqlite3.Connection, context_kinds: frozenset[str] = frozenset()
    ) -> None:
        self.path = path
        self._conn = conn
        self.context_kinds = context_kinds
        self._pending: dict[str, dict[int, OutboxItem]] = {}
        self._kept: dict[str, dict[int, OutboxItem]] = {}  # acknowledged, still a context
        self._next: dict[str, int] = {}
        self._load()

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        context_kinds: frozenset[str] = frozenset(),
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> Outbox:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.executescript(_SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('incarnation', ?)",
            (uuid.uuid4().hex,),
        )
        return cls(path, conn, context_kinds)

    def _load(self) -> None:
        self.incarnation = str(
            self._conn.execute("SELECT value FROM meta WHERE key = 'incarnation'").fetchone()[0]
        )
        for stream, next_seq in self._conn.execute("SELECT stream, next_seq FROM streams"):
            self._next[stream] = int(next_seq)
        rows = self._conn.execute(
            "SELECT stream, seq, kind, data, time, context_seq, acked FROM items"
            " ORDER BY stream, seq"
        )
        for stream, seq, kind, data, time, context_seq, acked in rows:
            item = OutboxItem(stream, int(seq), kind, bytes(data), time, context_seq)
            table = self._kept if acked else self._pending
            table.setdefault(stream, {})[item.seq] = item

    # --- writing ------------------------------------------------------------------------

    def next_seq(self, stream: str) -> int:
        """The seq the next item of ``stream`` must carry."""
        return self._next.get(stream, 1)

    def append(self, items: Sequence[OutboxItem], state: Mapping[str, str] | None = None) -> None:
        """Commit ``items`` (seqs from :meth:`next_seq`, in order) and ``state``, atomically."""
        expected = dict(self._next)
        for item in items:
            if item.seq != expected.get(item.stream, 1):
                raise OutboxError(
                    f"{item.stream}: seq {item.seq} out of order "
                    f"(expected {expected.get(item.stream, 1)})"
                )
            expected[item.stream] = item.seq + 1
        if not items and not state:
            return
        with self._transaction():
            self._conn.executemany(
                "INSERT INTO items (stream, seq, kind, data, time, context_seq)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(i.stream, i.seq, i.kind, i.data, i.time, i.context_seq) for i in items],
            )
            self._conn.executemany(
                "INSERT INTO streams (stream, next_seq) VALUES (?, ?)"
                " ON CONFLICT (stream) DO UPDATE SET next_seq = excluded.next_seq",
                [(s, n) for s, n in expected.items() if self._next.get(s) != n],
            )
            if state:
                self._conn.executemany(
                    "INSERT INTO state (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    list(state.items()),
                )
        self._next = expected
        for item in items:
            self._pending.setdefault(item.stream, {})[item.seq] = item

    def release(self, stream: str, seqs: Iterable[int]) -> int:
        """Forget the acknowledged ``seqs`` of ``stream``; returns how many were pending.

        Unknown or already released seqs are ignored (acks may come twice).
        """
        pending = self._pending.get(stream, {})
        released = [seq for seq in set(seqs) if seq in pending]
        if not released:
            return 0
        kept = self._kept.setdefault(stream, {})
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
        for seq in drop:
            del kept[seq]
        if not pending:
            self._pending.pop(stream, None)
        return len(released)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)

    # --- reading ------------------------------------------------------------------------

    def pending(self) -> list[OutboxItem]:
        """Every pending item, by stream then seq (the resend order)."""
        return [item for stream in sorted(self._pending) for item in self.pending_for(stream)]

    def pending_for(self, stream: str) -> list[OutboxItem]:
        items = self._pending.get(stream, {})
        return [items[seq] for seq in sorted(items)]

    def streams(self) -> list[str]:
        return sorted(self._pending)

    def get(self, stream: str, seq: int) -> OutboxItem | None:
        """A pending item, or an acknowledged one kept as a context."""
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
