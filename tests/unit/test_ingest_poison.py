"""A failure that repeats on the same input ends with that input dead-lettered, never a stall.

The ingestor runs on real SQLite stores. To stand for a bug the next unknown input will hit,
one test subclass fails on messages carrying a marker; the bisection that finds them is the
real code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from hub.config import Settings
from hub.core.batch import Incoming, IngestUnavailable, ItemFate
from hub.core.decoding import Decoded
from hub.services.ingest import Ingestor, _Plan, open_ingestor

NOW = datetime.now(UTC).replace(microsecond=0)


class BuggyIngestor(Ingestor):
    """Fails, as an unknown bug would, on every message whose payload contains b"poison"."""

    calls = 0  # per instance once incremented

    def _decide(
        self, messages: Sequence[Incoming], decoded: list[tuple[int, Decoded]], plan: _Plan
    ) -> None:
        self.calls += 1
        if any(b"poison" in m.payload for m in messages):
            raise KeyError("a bug the input triggers")
        super()._decide(messages, decoded, plan)


def reading(i: int) -> Incoming:
    payload = {
        "metric": "glucose",
        "value": 100 + i,
        "unit": "mg/dL",
        "time": (NOW - timedelta(minutes=i)).isoformat(),
    }
    return Incoming("hs/v1/devices/meter-1/readings", json.dumps(payload).encode(), NOW)


@pytest.fixture
def ingestor(settings: Settings) -> Iterator[BuggyIngestor]:
    plain = open_ingestor(settings)
    buggy = BuggyIngestor(plain.store, plain.registry, plain.decoder.base_policy)
    yield buggy
    buggy.close()


def test_one_poison_message_is_dead_lettered_and_the_rest_are_committed(
    ingestor: BuggyIngestor,
) -> None:
    batch = [reading(i) for i in range(16)]
    batch[11] = Incoming(batch[11].topic, b'{"poison": true}', NOW)
    report = ingestor.ingest(batch)
    assert report.messages == 16
    assert report.dead_letter_kinds == {"hub-error": 1}
    assert report.quarantined == 15  # meter-1 is not enrolled: quarantined, not lost
    rejected = [item for item in report.items if item.fate is ItemFate.REJECTED]
    assert [(item.message, item.index) for item in rejected] == [(11, None)]
    assert rejected[0].reason is not None and "KeyError" in rejected[0].reason
    [dead] = ingestor.registry.rejects.dead_letters()
    assert dead.kind == "hub-error"
    assert dead.payload == b'{"poison": true}'
    # Bisection, not one try per message: about 2 log2(16) + 1 attempts.
    assert ingestor.calls <= 12


def test_the_same_batch_again_gives_the_same_answer_and_no_new_dead_letter(
    ingestor: BuggyIngestor,
) -> None:
    batch = [reading(0), Incoming("hs/v1/devices/meter-1/readings", b'"poison"', NOW)]
    first = ingestor.ingest(batch)
    again = ingestor.ingest(batch)  # a redelivery after a crash
    assert first.dead_letter_kinds == again.dead_letter_kinds == {"hub-error": 1}
    assert len(ingestor.registry.rejects.dead_letters()) == 1


def test_a_store_that_does_not_answer_is_unavailable_not_poison(
    ingestor: BuggyIngestor, settings: Settings
) -> None:
    # The readings file is gone and a directory stands in its place: SQLite cannot open it.
    ingestor.store.close()
    path = settings.store.sqlite_path
    assert path is not None
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    path.mkdir()
    batch = [Incoming("hs/v1/devices/meter-1/readings", b'"poison"', NOW)]
    with pytest.raises(IngestUnavailable, match="StoreUnavailable"):
        ingestor.ingest(batch)
    assert ingestor.registry.rejects.dead_letters() == []
