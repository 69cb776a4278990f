"""Capped exponential backoff with jitter: the one retry schedule of the hub and its simulator.

Pure: the randomness is passed in (``rand`` in [0, 1)), so tests can fix it, and ``base=0``
retries at once. A fleet of gateways that lost the broker together must not come back
together: the jitter spreads their reconnections; the cap bounds the longest wait.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 0.5  # seconds before the first retry
    cap: float = 30.0  # the longest wait
    jitter: float = 0.2  # +/- fraction of the delay

    def delay(self, attempt: int, rand: float = 0.5) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based); ``rand`` in [0, 1)."""
        raw = min(self.cap, self.base * 2.0 ** max(0, attempt))
        return float(max(0.0, raw * (1.0 + self.jitter * (2.0 * rand - 1.0))))

    def delays(self, retries: int) -> list[float]:
        """The waits before each of ``retries`` retries, without jitter."""
        return [Backoff(self.base, self.cap, 0.0).delay(attempt) for attempt in range(retries)]
