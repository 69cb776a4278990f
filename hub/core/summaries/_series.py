"""Input checks shared by every summary, and the time each reading stands for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hub.core.summaries._time import Int64Array

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Series:
    """Readings inside the window, sorted by time (then by value), as numpy arrays."""

    times_ms: Int64Array
    columns: tuple[FloatArray, ...]
    order: npt.NDArray[np.intp]  # index of each kept reading in the caller's arrays

    @property
    def size(self) -> int:
        return int(self.times_ms.size)


def check_window(start_ms: int, end_ms: int) -> None:
    if int(end_ms) <= int(start_ms):
        raise ValueError(f"empty analysis window: end {end_ms} <= start {start_ms}")


def prepare(
    times_ms: npt.ArrayLike,
    columns: Sequence[npt.ArrayLike],
    start_ms: int,
    end_ms: int,
    mask: npt.ArrayLike | None = None,
    *,
    finite: Sequence[bool] | None = None,
) -> Series:
    """Validate, keep the readings with ``start_ms <= t < end_ms`` (and ``mask`` true), sort.

    ``finite[k]`` says whether column ``k`` must be finite (default: every column); a column
    allowed to hold NaN (a missing pulse) keeps it. Readings are sorted by time and, at equal
    times, by their values, so the result never depends on the order they were given in.
    """
    check_window(start_ms, end_ms)
    times = np.asarray(times_ms)
    if times.ndim != 1:
        raise ValueError("times_ms must be one-dimensional")
    if times.size and not np.issubdtype(times.dtype, np.integer):
        raise ValueError(f"times_ms must hold integers (epoch milliseconds), not {times.dtype}")
    times = times.astype(np.int64, copy=False)
    cols = [np.asarray(c, dtype=np.float64) for c in columns]
    for k, col in enumerate(cols):
        if col.shape != times.shape:
            raise ValueError(f"column {k} has shape {col.shape}, times_ms has {times.shape}")
    must_be_finite = list(finite) if finite is not None else [True] * len(cols)
    keep = (times >= int(start_ms)) & (times < int(end_ms))
    if mask is not None:
        mask_array = np.asarray(mask, dtype=np.bool_)
        if mask_array.shape != times.shape:
            raise ValueError(f"mask has shape {mask_array.shape}, times_ms has {times.shape}")
        keep &= mask_array
    index = np.flatnonzero(keep)
    times = times[index]
    cols = [c[index] for c in cols]
    for k, (col, required) in enumerate(zip(cols, must_be_finite, strict=True)):
        if required and not np.all(np.isfinite(col)):
            raise ValueError(f"column {k} holds a value that is not finite")
    if times.size > 1 and not np.all(np.diff(times) > 0):
        # lexsort: the last key is the primary one
        keys = [np.nan_to_num(c, nan=np.inf) for c in reversed(cols)]
        order = np.lexsort((*keys, times))
        times = times[order]
        cols = [c[order] for c in cols]
        index = index[order]
    return Series(times, tuple(cols), index)


def coverage(
    times_ms: Int64Array, end_ms: int, max_gap_ms: int, nominal_ms: int
) -> tuple[Int64Array, BoolArray]:
    """The time each reading stands for, and where the readings break into segments.

    A reading stands for the time until the next one when that is at most ``max_gap_ms``;
    before a longer gap (missing data) and for the last reading, it stands for
    ``nominal_ms``, one nominal sampling interval; never beyond the window's end. The second
    array marks the readings that start a new segment (the gap before them exceeds
    ``max_gap_ms``; the first reading is not marked).
    """
    if not 0 < nominal_ms <= max_gap_ms:
        raise ValueError("need 0 < nominal interval <= maximum gap")
    n = times_ms.size
    weights = np.empty(n, dtype=np.int64)
    breaks = np.zeros(n, dtype=np.bool_)
    if n == 0:
        return weights, breaks
    gaps = np.diff(times_ms)
    long_gap = gaps > max_gap_ms
    weights[:-1] = np.where(long_gap, nominal_ms, gaps)
    weights[-1] = nominal_ms
    breaks[1:] = long_gap
    return np.minimum(weights, int(end_ms) - times_ms), breaks


def optional_float(value: float | np.floating | None) -> float | None:
    """A plain float, or None for None and NaN (JSON never sees a NaN)."""
    if value is None:
        return None
    number = float(value)
    return None if np.isnan(number) else number
