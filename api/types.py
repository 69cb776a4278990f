"""Request field types shared by the routes, validated with the hub's own id rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime

from hub.core.identity import check_device_id, check_patient_id


def _checked(check: Callable[[str], str | None]) -> Callable[[str], str]:
    def validate(value: str) -> str:
        problem = check(value)
        if problem:
            raise ValueError(problem)
        return value

    return validate


# A registry row id in a path: the registry's ids are 32-bit integers on PostgreSQL.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DeviceId = Annotated[str, AfterValidator(_checked(check_device_id))]
PatientId = Annotated[str, AfterValidator(_checked(check_patient_id))]


# The instants a query or a body may name: from the epoch to the end of InfluxDB's
# nanosecond range (2262-04-11), so that a window computed from them (``to`` - 14 days) never
# leaves what ``datetime`` and the stores can hold.
EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2262, 1, 1, tzinfo=UTC)


def _within_store_range(value: datetime) -> datetime:
    if not EARLIEST_INSTANT <= value < LATEST_INSTANT:
        raise ValueError(
            f"{value.isoformat()} is outside {EARLIEST_INSTANT.date()} .. {LATEST_INSTANT.date()}"
        )
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_within_store_range)]
