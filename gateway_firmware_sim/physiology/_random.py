"""Seeded randomness that depends on *what* is drawn, never on the order of drawing.

Two tools, both pure:

* :func:`generator` — a numpy ``Generator`` for one named stream (``seed``, patient, kind,
  day...): the events of a day are drawn from that day's own stream, so replaying a week in
  one chunk or in a thousand gives the same meals, the same hypos, the same sessions.
* :func:`normal_at` — counter-based Gaussian noise: a hash (splitmix64) of a key and an
  integer time, so the noise on a sample is a function of the sample's time alone.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Key = int | str
FloatArray = npt.NDArray[np.float64]

_MASK64 = (1 << 64) - 1


def _word(key: Key) -> int:
    if isinstance(key, str):
        return zlib.crc32(key.encode("utf-8"))
    return key & _MASK64


def generator(seed: int, *keys: Key) -> np.random.Generator:
    """A generator for the stream named by ``seed`` and ``keys`` (ints or strings)."""
    return np.random.default_rng(np.random.SeedSequence([_word(seed), *map(_word, keys)]))


def _splitmix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    # Array arithmetic on uint64 wraps silently, which is what a hash wants.
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def stream_key(seed: int, *keys: Key) -> int:
    """A 64-bit key naming a noise stream (for :func:`normal_at`)."""
    state = np.array([_word(seed)], dtype=np.uint64)
    for key in keys:
        state = _splitmix(state ^ np.uint64(_word(key)))
    return int(state[0])


def _uniform(key: int, counters: npt.NDArray[np.uint64]) -> FloatArray:
    hashed = _splitmix(_splitmix(counters) ^ np.uint64(key))
    return ((hashed >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / (1 << 53))


def normal_at(key: int, times: Sequence[float] | FloatArray) -> FloatArray:
    """Standard normal noise at each integer second of ``times`` (Box-Muller on two hashes)."""
    counters = np.floor(np.atleast_1d(np.asarray(times, dtype=np.float64))).astype(np.int64)
    raw = counters.view(np.uint64)
    u1 = _uniform(key, raw)
    u2 = _uniform(key ^ 0x5DEECE66D, raw)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def uniform_at(key: int, times: Sequence[float] | FloatArray) -> FloatArray:
    """Uniform [0, 1) noise at each integer second of ``times``."""
    counters = np.floor(np.atleast_1d(np.asarray(times, dtype=np.float64))).astype(np.int64)
    return _uniform(key, counters.view(np.uint64))
