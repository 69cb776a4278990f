"""Choosing a downsampling bucket from a time range (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.adapters.store.buckets import (
    DAY_MS,
    HOUR_MS,
    MAX_BUCKETS,
    MINUTE_MS,
    NICE_BUCKETS_MS,
    bucket_count,
    bucket_for_range,
    choose_bucket,
)

T0 = 1_709_251_200_000  # 2024-03-01T00:00Z


@pytest.mark.parametrize(
    ("span_ms", "bucket_ms"),
    [
        (HOUR_MS, 15_000),
        (DAY_MS, 5 * MINUTE_MS),
        (3 * DAY_MS, 10 * MINUTE_MS),
        (7 * DAY_MS, 30 * MINUTE_MS),
        (14 * DAY_MS, HOUR_MS),
        (90 * DAY_MS, 6 * HOUR_MS),
        (365 * DAY_MS, DAY_MS),
        (5 * 365 * DAY_MS, 7 * DAY_MS),
    ],
)
def test_typical_ranges(span_ms: int, bucket_ms: int) -> None:
    assert choose_bucket(T0, T0 + span_ms) == bucket_ms


def test_bucket_count_counts_epoch_aligned_buckets() -> None:
    assert bucket_count(T0, T0 + DAY_MS, HOUR_MS) == 24
    assert bucket_count(T0 + 1, T0 + DAY_MS + 1, HOUR_MS) == 25
    assert bucket_count(T0, T0, HOUR_MS) == 0


@given(
    st.integers(0, 7_000_000_000_000),
    st.integers(1, 7_000_000_000_000),
    st.integers(1, 1000),
)
def test_the_smallest_nice_bucket_within_the_cap(start: int, span: int, cap: int) -> None:
    bucket = choose_bucket(start, start + span, cap)
    assert bucket_count(start, start + span, bucket) <= cap
    smaller = [size for size in NICE_BUCKETS_MS if size < bucket]
    if smaller and bucket in NICE_BUCKETS_MS:
        assert bucket_count(start, start + span, smaller[-1]) > cap
    assert bucket in NICE_BUCKETS_MS or bucket % NICE_BUCKETS_MS[-1] == 0


def test_explicit_buckets() -> None:
    assert bucket_for_range(T0, T0 + DAY_MS, timedelta(minutes=15)) == 15 * MINUTE_MS
    assert bucket_for_range(T0, T0 + DAY_MS, None) == choose_bucket(T0, T0 + DAY_MS)
    assert bucket_for_range(T0, T0, None) > 0  # an empty range still names a bucket
    for bad in (timedelta(0), timedelta(microseconds=1500), -timedelta(hours=1)):
        with pytest.raises(ValueError, match="whole number of milliseconds"):
            bucket_for_range(T0, T0 + DAY_MS, bad)
    assert MAX_BUCKETS <= 600
