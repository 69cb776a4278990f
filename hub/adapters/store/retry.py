"""Bounded retry of a store operation that failed for a retryable reason.

The stores retry a write a few times, then give up with :class:`StoreUnavailable`: the
caller (the MQTT bridge) stops acknowledging and retries the whole batch later. Nothing is
buffered in the background, unlike influxdb-client's batching API, which drops points once
its own retries run out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from hub.adapters.store.base import StoreUnavailable
from hub.core.backoff import Backoff

T = TypeVar("T")


def backoff_delays(retries: int, first_s: float, cap_s: float = 10.0) -> list[float]:
    """The waits before each retry: ``first_s`` doubling, capped (0 disables waiting)."""
    return Backoff(base=first_s, cap=cap_s).delays(retries)


def with_retries(
    operation: Callable[[], T],
    delays: list[float],
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``operation``; on :class:`StoreUnavailable` wait and retry, one wait per delay.

    Other errors (:class:`StoreRejected`...) propagate at once. After the last delay the last
    :class:`StoreUnavailable` propagates, its message noting how many attempts were made.
    """
    for delay in delays:
        try:
            return operation()
        except StoreUnavailable:
            sleep(delay)
    try:
        return operation()
    except StoreUnavailable as err:
        if not delays:
            raise
        raise StoreUnavailable(f"{err} (gave up after {len(delays) + 1} attempts)") from err
