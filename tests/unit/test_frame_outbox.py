"""The gateway's frame outbox (``hub.adapters.frame_outbox``, the product's and the simulator's):
durable across reopen (a power cut), released by acks, resent in order, never reusing a seq,
bounded by an explicit refusal policy; and the pure delivery and backoff rules around it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hub.adapters.frame_outbox import FrameOutbox, OutboxError, OutboxLimits, pending_count
from hub.core.backoff import Backoff
from hub.core.delivery import DeliveryTracker
from hub.core.frame_messages import OutboxItem


def frame(
    stream: str, seq: int, data: bytes = b"\x01", context: int | None = None, kind: str = "2A35"
) -> OutboxItem:
    return OutboxItem(stream, seq, kind, data, "2026-11-28T10:00:00+01:00", context)


def test_items_survive_a_reopen_and_stay_until_released(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite3"
    box = FrameOutbox.open(path)
    box.append([frame("cuff", 1, b"\x1e\x01"), frame("cuff", 2, b"\x1e\x02"), frame("scale", 1)])
    incarnation = box.incarnation
    box.close()  # the power goes

    box = FrameOutbox.open(path)
    assert box.incarnation == incarnation
    assert [i.key for i in box.pending()] == [("cuff", 1), ("cuff", 2), ("scale", 1)]
    assert box.pending_for("cuff")[0].data == b"\x1e\x01"  # same bytes
    assert box.release("cuff", [1]) == 1
    assert box.release("cuff", [1, 99]) == 0  # acks may come twice; unknown seqs ignored
    box.close()

    box = FrameOutbox.open(path)
    assert [i.key for i in box.pending()] == [("cuff", 2), ("scale", 1)]
    assert len(box) == 2
    assert pending_count(path) == 2
    box.close()


def test_seqs_are_never_reused_even_after_everything_is_released(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite3"
    box = FrameOutbox.open(path)
    box.append([frame("cuff", 1), frame("cuff", 2)])
    box.release("cuff", [1, 2])
    assert box.next_seq("cuff") == 3
    box.close()
    box = FrameOutbox.open(path)
    assert box.next_seq("cuff") == 3
    assert box.next_seq("other") == 1
    with pytest.raises(OutboxError):
        box.append([frame("cuff", 2)])
    with pytest.raises(OutboxError):
        box.append([frame("cuff", 3), frame("cuff", 5)])
    box.close()


def test_resend_order_is_by_device_then_seq(tmp_path: Path) -> None:
    box = FrameOutbox.open(tmp_path / "gw.sqlite3")
    box.append([frame("b", 1), frame("a", 1), frame("b", 2), frame("a", 2)])
    box.release("a", [1])
    assert [i.key for i in box.pending()] == [("a", 2), ("b", 1), ("b", 2)]
    box.close()


def test_a_failed_append_commits_nothing(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite3"
    box = FrameOutbox.open(path)
    box.append([frame("a", 1)], {"racp:a": "7"})
    blocker = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    box._conn.execute("PRAGMA busy_timeout = 50")
    with pytest.raises(sqlite3.OperationalError):
        box.append([frame("a", 2)], {"racp:a": "8"})
    blocker.execute("ROLLBACK")
    blocker.close()
    assert box.next_seq("a") == 2
    assert box.state("racp:a") == "7"
    box.append([frame("a", 2)], {"racp:a": "8"})
    box.close()
    box = FrameOutbox.open(path)
    assert [i.seq for i in box.pending()] == [1, 2]
    assert box.state("racp:a") == "8"
    box.close()


def test_firmware_state_is_committed_with_the_frames(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite3"
    box = FrameOutbox.open(path)
    box.append([frame("gm", 1, kind="2A18")], {"racp:gm": "41", "paired:gm": "1"})
    box.close()
    box = FrameOutbox.open(path)
    assert box.states() == {"racp:gm": "41", "paired:gm": "1"}
    assert box.states("racp:") == {"racp:gm": "41"}
    box.close()


def test_a_context_frame_is_kept_while_records_need_it(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite3"
    box = FrameOutbox.open(path, context_kinds=frozenset({"2AAA"}))
    box.append(
        [
            frame("cgm", 1, b"start", kind="2AAA"),
            frame("cgm", 2, b"r1", context=1, kind="2AA7"),
            frame("cgm", 3, b"r2", context=1, kind="2AA7"),
        ]
    )
    box.release("cgm", [1, 2])
    assert [i.seq for i in box.pending()] == [3]
    kept = box.get("cgm", 1)
    assert kept is not None and kept.data == b"start"
    box.close()
    box = FrameOutbox.open(path, context_kinds=frozenset({"2AAA"}))
    assert box.get("cgm", 1) is not None  # survives a power cut too
    assert [i.seq for i in box.pending()] == [3]
    box.release("cgm", [3])
    assert box.get("cgm", 1) is not None  # the newest context serves records still to come
    box.append(
        [frame("cgm", 4, b"start2", kind="2AAA"), frame("cgm", 5, b"r3", context=4, kind="2AA7")]
    )
    box.release("cgm", [4, 5])
    assert box.get("cgm", 1) is None
    assert box.get("cgm", 4) is not None
    assert len(box) == 0
    box.close()


def test_a_full_outbox_refuses_new_frames_keeps_everything_held_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "gw.sqlite3"
    limits = OutboxLimits(max_bytes=10_000, max_items=3)
    box = FrameOutbox.open(path, context_kinds=frozenset({"2A2B"}), limits=limits)
    box.append([frame("gm", 1, kind="2A2B"), frame("gm", 2, context=1)])
    assert not box.nearly_full
    appended = box.append(
        [frame("gm", 3, context=1), frame("gm", 4, context=1), frame("gm", 5, kind="2A2B")]
    )
    # the third item fills it: the fourth is refused, the context frame is taken anyway
    assert [i.seq for i in appended.accepted] == [3, 5]
    assert [i.seq for i in appended.refused] == [4]
    assert box.refused == 1
    assert box.nearly_full
    assert "refused 1 new frames" in caplog.text
    assert box.next_seq("gm") == 6  # a refused seq is skipped, never reused
    box.close()

    box = FrameOutbox.open(path, context_kinds=frozenset({"2A2B"}), limits=limits)
    assert box.refused == 1  # counted durably
    assert [i.seq for i in box.pending()] == [1, 2, 3, 5]  # nothing held was dropped
    box.release("gm", [1, 2, 3, 5])
    assert not box.nearly_full  # the newest context stays; the rest made room
    assert box.append([frame("gm", 6, context=5)]).refused == []
    box.close()


def test_the_byte_limit_counts_data_time_and_row_overhead(tmp_path: Path) -> None:
    limits = OutboxLimits(max_bytes=1000, max_items=1_000_000)
    box = FrameOutbox.open(tmp_path / "gw.sqlite3", limits=limits)
    big = b"\x00" * 300
    appended = box.append([frame("s", n, big) for n in range(1, 5)])
    # each costs 300 + len(time) + 64 = 389 bytes: two fit under 1000
    assert [i.seq for i in appended.accepted] == [1, 2]
    assert box.held_bytes == 2 * (300 + 25 + 64)
    box.close()


# --- delivery ---------------------------------------------------------------------------


def test_delivery_due_in_flight_resend_after_reconnect_or_timeout() -> None:
    tracker = DeliveryTracker(ack_timeout_s=30)
    a, b = frame("x", 1), frame("x", 2)
    assert tracker.due([a, b], generation=1, now=0) == [a, b]
    tracker.sent([a.key, b.key], mid=7, generation=1, now=0)
    assert tracker.due([a, b], generation=1, now=10) == []  # in flight
    # connection 1 lost before PUBACK: resend on connection 2
    tracker.connection_lost(1)
    assert tracker.due([a, b], generation=2, now=11) == [a, b]
    tracker.sent([a.key, b.key], mid=1, generation=2, now=11)
    assert tracker.resent == 2
    assert tracker.pubacked(2, 1) == (a.key, b.key)
    # PUBACKed on 2, connection 3: wait for the end-to-end ack until the timeout
    assert tracker.due([a, b], generation=3, now=20) == []
    assert tracker.due([a, b], generation=3, now=41) == [a, b]
    tracker.released([a.key])
    assert tracker.due([b], generation=3, now=41) == [b]
    assert tracker.in_flight() == 1


def test_a_context_leading_several_messages_is_not_counted_as_a_resend() -> None:
    tracker = DeliveryTracker(ack_timeout_s=30)
    tracker.sent([("cgm", 1), ("cgm", 2)], mid=1, generation=1, now=0)
    tracker.sent([("cgm", 1), ("cgm", 3)], mid=2, generation=1, now=1)
    assert tracker.resent == 0


def test_backoff_is_capped_exponential_with_jitter() -> None:
    backoff = Backoff(base=0.5, cap=8.0, jitter=0.3)
    assert backoff.delay(0, 0.5) == 0.5
    assert backoff.delay(3, 0.5) == 4.0
    assert backoff.delay(10, 0.5) == 8.0
    assert backoff.delay(10, 0.0) == pytest.approx(8.0 * 0.7)
    assert backoff.delay(10, 0.999999) == pytest.approx(8.0 * 1.3, rel=1e-5)
    assert Backoff(base=0.0).delay(5, 0.9) == 0.0
