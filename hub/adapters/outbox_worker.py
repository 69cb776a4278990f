"""A :class:`~hub.adapters.frame_outbox.FrameOutbox` driven from an asyncio event loop.

SQLite commits never run on the event loop: every write (and state read) goes to one worker
thread, in submission order, so the loop keeps serving BLE notifications and MQTT events
while a commit waits for the disk. Seqs are assigned on the loop, synchronously, when an
append is submitted: one stream's appends reach the worker in seq order because a single
thread executes them first-in first-out. The outbox's in-memory views (pending items,
counters) are read directly; they are safe from any thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from hub.adapters.frame_outbox import Appended, FrameOutbox
from hub.core.frame_messages import OutboxItem

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item to append; the worker gives it its stream's next seq."""

    kind: str
    data: bytes
    time: str | None
    context_seq: int | None = None


class OutboxWorker:
    def __init__(self, outbox: FrameOutbox) -> None:
        self.outbox = outbox
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="outbox")
        self._next: dict[str, int] = {}

    def _submit(self, call: Callable[[], T]) -> asyncio.Future[T]:
        return asyncio.wrap_future(self._executor.submit(call))

    def reserve(self, stream: str, count: int) -> list[int]:
        """The next ``count`` seqs of ``stream`` (on the loop, before submitting them)."""
        first = self._next.get(stream) or self.outbox.next_seq(stream)
        self._next[stream] = first + count
        return list(range(first, first + count))

    def append(
        self, stream: str, items: Sequence[NewItem], state: Mapping[str, str] | None = None
    ) -> asyncio.Future[Appended]:
        """Number ``items`` now and commit them with ``state`` on the worker thread."""
        seqs = self.reserve(stream, len(items))
        numbered = [
            OutboxItem(stream, seq, i.kind, i.data, i.time, i.context_seq)
            for seq, i in zip(seqs, items, strict=True)
        ]
        state = dict(state or {})
        return self._submit(lambda: self.outbox.append(numbered, state))

    def remember(self, state: Mapping[str, str]) -> asyncio.Future[Appended]:
        """Commit ``state`` alone."""
        saved = dict(state)
        return self._submit(lambda: self.outbox.append([], saved))

    def release(self, stream: str, seqs: Iterable[int]) -> asyncio.Future[int]:
        chosen = list(seqs)
        return self._submit(lambda: self.outbox.release(stream, chosen))

    def states(self, prefix: str = "") -> asyncio.Future[dict[str, str]]:
        return self._submit(lambda: self.outbox.states(prefix))

    async def close(self) -> None:
        """Finish what was submitted, then close the outbox."""
        await self._submit(self.outbox.close)
        await asyncio.to_thread(self._executor.shutdown)
