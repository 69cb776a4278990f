"""Downsampling buckets: which bucket size a time range gets (pure, no IO, no clock).

Buckets are aligned to the Unix epoch in UTC — the way InfluxDB's ``GROUP BY time()`` aligns
them, so both backends cut a range at the same instants: a day bucket starts at UTC midnight,
a 7-day bucket on a Thursday (1970-01-01 was one). A bucket's start is
``t - t % bucket_ms`` for every stored time ``t`` (stored times are never negative).
"""

from __future__ import annotations

from datetime import timedelta

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

# The sizes a chart axis reads well in, smallest first.
NICE_BUCKETS_MS: tuple[int, ...] = (
    1_000,
    5_000,
    15_000,
    30_000,
    MINUTE_MS,
    2 * MINUTE_MS,
    5 * MINUTE_MS,
    10 * MINUTE_MS,
    15 * MINUTE_MS,
    30 * MINUTE_MS,
    HOUR_MS,
    2 * HOUR_MS,
    3 * HOUR_MS,
    6 * HOUR_MS,
    12 * HOUR_MS,
    DAY_MS,
    2 * DAY_MS,
    7 * DAY_MS,
    14 * DAY_MS,
    30 * DAY_MS,
    91 * DAY_MS,
    365 * DAY_MS,
)

MAX_BUCKETS = 500


def bucket_count(start_ms: int, end_ms: int, bucket_ms: int) -> int:
    """How many epoch-aligned buckets ``[start_ms, end_ms)`` touches."""
    if end_ms <= start_ms:
        return 0
    return (end_ms - 1) // bucket_ms - start_ms // bucket_ms + 1


def choose_bucket(start_ms: int, end_ms: int, max_buckets: int = MAX_BUCKETS) -> int:
    """The smallest nice bucket size that cuts ``[start_ms, end_ms)`` into at most
    ``max_buckets`` epoch-aligned buckets (a day -> 5 min, 14 days -> 1 h, 90 days -> 6 h,
    a year -> 1 day). Ranges too long for the largest size get a whole multiple of a year.
    """
    if max_buckets < 1:
        raise ValueError("max_buckets must be at least 1")
    for size in NICE_BUCKETS_MS:
        if bucket_count(start_ms, end_ms, size) <= max_buckets:
            return size
    year = NICE_BUCKETS_MS[-1]
    years = -(-(end_ms - start_ms) // (year * max_buckets)) + 1
    while bucket_count(start_ms, end_ms, year * years) > max_buckets:
        years += 1
    return year * years


def bucket_for_range(start_ms: int, end_ms: int, bucket: timedelta | None) -> int:
    """The bucket a downsample query uses: ``bucket`` if given (a positive whole number of
    milliseconds, else ValueError), otherwise :func:`choose_bucket` of the range."""
    if bucket is None:
        return choose_bucket(start_ms, max(end_ms, start_ms + 1))
    bucket_ms = bucket // timedelta(milliseconds=1)
    if bucket_ms < 1 or bucket != timedelta(milliseconds=bucket_ms):
        raise ValueError(f"bucket {bucket} is not a positive whole number of milliseconds")
    return bucket_ms
