"""The Observation search parameters as the store can answer them (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.core.fhir.search import SearchError, date_range, metrics_for_code

START = datetime(1970, 1, 1, tzinfo=UTC)
END = datetime(2200, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "metrics"),
    [
        (["http://loinc.org|8867-4"], {"heart_rate", "pulse_rate"}),
        (["2708-6"], {"spo2"}),
        (["urn:iso:std:iso:11073:10101|160368"], {"glucose"}),
        (["85354-9"], {"systolic_bp", "diastolic_bp", "mean_arterial_pressure"}),
        (["29463-7,8302-2"], {"weight", "height"}),
        (["29463-7", "8302-2"], set()),  # repeated: all of them
        (["http://snomed.info/sct|29463-7"], set()),  # the code under another system
        (["|0000-0"], set()),
    ],
)
def test_codes_name_metrics(values: list[str], metrics: set[str]) -> None:
    assert metrics_for_code(values) == metrics


@pytest.mark.parametrize(
    ("values", "start", "end"),
    [
        (["2026-11-28"], datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)),
        (["ge2026-11"], datetime(2026, 11, 1, tzinfo=UTC), END),
        (["gt2026-11"], datetime(2026, 12, 1, tzinfo=UTC), END),
        (["lt2026"], START, datetime(2026, 1, 1, tzinfo=UTC)),
        (["le2025-12"], START, datetime(2026, 1, 1, tzinfo=UTC)),
        (
            ["ge2026-11-28T08:00:00+01:00", "lt2026-11-28T10:00:00Z"],
            datetime(2026, 11, 28, 7, tzinfo=UTC),
            datetime(2026, 11, 28, 10, tzinfo=UTC),
        ),
    ],
)
def test_dates_are_ranges_at_their_precision(
    values: list[str], start: datetime, end: datetime
) -> None:
    window = date_range(values, start=START, end=END)
    assert (window.start, window.end) == (start, end)


@pytest.mark.parametrize("value", ["sa2026", "ne2026-01-01", "2026-13-01", "tomorrow"])
def test_unsupported_dates_name_the_parameter(value: str) -> None:
    with pytest.raises(SearchError) as caught:
        date_range([value], start=START, end=END)
    assert caught.value.parameter == "date"
