"""Bounded retry of store operations (time injected, no sleeping)."""

from __future__ import annotations

import pytest

from hub.adapters.store.base import StoreRejected, StoreUnavailable
from hub.adapters.store.retry import backoff_delays, with_retries


def test_backoff_doubles_up_to_a_cap() -> None:
    assert backoff_delays(5, 0.5, cap_s=3) == [0.5, 1.0, 2.0, 3, 3]
    assert backoff_delays(0, 1.0) == []


def test_retries_a_retryable_failure_then_succeeds() -> None:
    calls: list[int] = []
    waits: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise StoreUnavailable("busy")
        return "ok"

    assert with_retries(flaky, [0.1, 0.2, 0.4], waits.append) == "ok"
    assert waits == [0.1, 0.2]


def test_gives_up_with_store_unavailable() -> None:
    waits: list[float] = []

    def down() -> None:
        raise StoreUnavailable("connection refused")

    with pytest.raises(StoreUnavailable, match="gave up after 3 attempts") as caught:
        with_retries(down, [0.1, 0.2], waits.append)
    assert caught.value.retryable
    assert waits == [0.1, 0.2]


def test_a_rejection_is_not_retried() -> None:
    calls: list[int] = []

    def refuse() -> None:
        calls.append(1)
        raise StoreRejected("bad line protocol")

    with pytest.raises(StoreRejected):
        with_retries(refuse, [0.1, 0.2], lambda _: None)
    assert len(calls) == 1
