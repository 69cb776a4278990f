"""Episodes (fever, fluid gain...) as a seeded Poisson process over absolute time.

Time is cut into fixed blocks; each block draws its own episodes from its own stream, so the
episodes that touch a window are the same however the window is chosen. A person's planned
episodes (a scenario that must show within a run) are passed in explicitly instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gateway_firmware_sim.physiology._random import generator
from gateway_firmware_sim.timebase import DAY

BLOCK_S = 28 * DAY


@dataclass(frozen=True, slots=True)
class Episode:
    start: float  # UTC epoch seconds
    params: tuple[float, ...]


def poisson_episodes(
    seed: int,
    key: str,
    kind: str,
    *,
    per_day: float,
    t0: float,
    t1: float,
    lookback_s: float,
    draw: Callable[[np.random.Generator], tuple[float, ...]],
) -> list[Episode]:
    """Episodes starting in ``[t0 - lookback_s, t1)`` at ``per_day`` episodes a day."""
    if per_day <= 0:
        return []
    start = t0 - lookback_s
    episodes = []
    for block in range(math.floor(start / BLOCK_S), math.floor(t1 / BLOCK_S) + 1):
        rng = generator(seed, key, kind, block)
        for _ in range(int(rng.poisson(per_day * BLOCK_S / DAY))):
            when = block * BLOCK_S + float(rng.uniform(0, BLOCK_S))
            params = draw(rng)
            if start <= when < t1:
                episodes.append(Episode(when, params))
    return sorted(episodes, key=lambda e: e.start)
