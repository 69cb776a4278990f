"""``/v1/patients/{patient_id}/readings``: a patient's stored readings, oldest first."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.auth import CurrentPrincipal, authorize_patient_access
from api.deps import Context
from api.errors import Problem
from api.types import Instant
from device_profiles.vocabulary import LOINC_SYSTEM, MDC_SYSTEM, METRICS
from hub.adapters.store import ReadingCursor, cursor_of
from hub.core.model import Reading

router = APIRouter(prefix="/v1/patients", tags=["readings"])

DEFAULT_SPAN = timedelta(days=7)


class Coding(BaseModel):
    system: str
    code: str
    display: str | None = None


class ReadingOut(BaseModel):
    id: str
    metric: str
    codes: list[Coding]
    value: float
    unit: str
    effective_time: datetime
    device_time: str | None
    receive_time: datetime
    time_source: str
    device_id: str
    source: str
    seq: int | None
    flags: list[str]


class ReadingPage(BaseModel):
    patient_id: str
    items: list[ReadingOut]
    next_cursor: str | None


def _out(reading: Reading) -> ReadingOut:
    definition = reading.definition
    codes = [Coding(system=MDC_SYSTEM, code=str(definition.mdc_code), display=definition.mdc_ref)]
    if definition.loinc:
        codes.append(Coding(system=LOINC_SYSTEM, code=definition.loinc, display=definition.display))
    return ReadingOut(
        id=reading.reading_id,
        metric=reading.metric,
        codes=codes,
        value=reading.value,
        unit=reading.unit,
        effective_time=reading.effective_time,
        device_time=reading.device_time,
        receive_time=reading.receive_time,
        time_source=reading.time_source.value,
        device_id=reading.device_id,
        source=reading.source.value,
        seq=reading.seq,
        flags=list(reading.flags),
    )


# "<effective ms>:<seq or -1>:<reading_id>", ASCII digits only (int() alone would take "+1",
# " 1", "1_0" or other scripts' digits); the ranges are checked by ReadingCursor.checked.
_CURSOR = re.compile(r"(\d{1,19}):(-1|\d{1,19}):(.+)", re.ASCII | re.DOTALL)


def encode_cursor(reading: Reading) -> str:
    """The opaque cursor after ``reading``: its place in the store order, base64url."""
    t_ms, seq, reading_id = cursor_of(reading)
    raw = f"{t_ms}:{seq}:{reading_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> ReadingCursor:
    """Inverse of :func:`encode_cursor`; anything else, or a position no stored reading can
    have, is the 400 ``invalid-cursor`` problem (never a store error)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        match = _CURSOR.fullmatch(raw)
        if match is None:
            raise ValueError("not <ms>:<seq>:<identity>")
        t_ms, seq, reading_id = match.groups()
        return ReadingCursor(int(t_ms), int(seq), reading_id).checked()
    except (ValueError, binascii.Error, UnicodeDecodeError) as err:
        raise Problem(
            400, "invalid-cursor", "cursor is not one this API returned", field="cursor"
        ) from err


@router.get("/{patient_id}/readings", response_model=ReadingPage)
def list_readings(
    patient_id: str,
    principal: CurrentPrincipal,
    context: Context,
    metric: Annotated[list[str] | None, Query(description="repeatable; default: all")] = None,
    from_: Annotated[
        Instant | None, Query(alias="from", description="default: `to` - 7 days")
    ] = None,
    to: Annotated[Instant | None, Query(description="exclusive; default: now")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    cursor: str | None = None,
    include_untrusted: Annotated[
        bool,
        Query(description="also readings whose device time could not be trusted (time_unknown)"),
    ] = False,
) -> ReadingPage:
    """Readings in ``[from, to)`` ordered by effective time, then the device's sequence number,
    then identity; follow ``next_cursor`` for more."""
    authorize_patient_access(context, principal, patient_id, "readings.list")
    for name in metric or ():
        if name not in METRICS:
            raise Problem(
                422,
                "unknown-metric",
                f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}",
                field="metric",
            )
    end = to or context.clock()
    start = from_ or end - DEFAULT_SPAN
    if start >= end:
        raise Problem(422, "invalid-range", "`from` must be before `to`", field="from")
    after = decode_cursor(cursor) if cursor else None
    page = context.store.readings(
        patient_id,
        metric,
        start,
        end,
        after=after,
        limit=limit + 1,
        include_untrusted=include_untrusted,
    )
    more = len(page) > limit
    page = page[:limit]
    return ReadingPage(
        patient_id=patient_id,
        items=[_out(r) for r in page],
        next_cursor=encode_cursor(page[-1]) if more else None,
    )
