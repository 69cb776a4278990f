"""Reconnection backoff: capped exponential with jitter (pure; the randomness is passed in).

A fleet of gateways that lost the broker together must not come back together: the jitter
spreads their reconnections. Tests set ``base=0`` to reconnect at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 0.5  # seconds before the first retry
    cap: float = 8.0  # the longest wait
    jitter: float = 0.3  # +/- fraction of the delay

    def delay(self, attempt: int, rand: float) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based); ``rand`` in [0, 1)."""
        raw = min(self.cap, self.base * 2.0 ** max(0, attempt))
        return max(0.0, raw * (1.0 + self.jitter * (2.0 * rand - 1.0)))
