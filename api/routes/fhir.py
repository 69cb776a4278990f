"""``GET /v1/patients/{patient_id}/fhir/Observation``: a patient's readings for FHIR clients.

R4 search (search.html) in the patient's compartment: ``code``, ``date``, ``patient`` (must be
this patient), ``_count`` (1-1000, default 100), and the ``next`` link's ``cursor``; a
``searchset`` Bundle of Observations (``hub/core/fhir/outbound.py``, docs/fhir.md) in
effective-time order, ``total`` matches in all. Readings whose time cannot be trusted are left
out, as in every time-based view. A search parameter the hub does not know is ignored (R4
"lenient" handling) and not echoed in the ``self`` link.

Who may search: the patient; a practitioner during an active care relationship (like
``/readings``). Refusals are problem+json (authorization is decided before any FHIR); a bad
parameter is a 400 OperationOutcome.
"""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.auth import CurrentPrincipal, authorize_patient_access
from api.deps import Context, HubContext
from api.routes.patients import FHIR_MEDIA, fhir_base
from hub.adapters.store import ReadingCursor, cursor_of
from hub.adapters.store.base import MAX_TIME, MIN_TIME
from hub.core.fhir import codes, outbound
from hub.core.fhir.search import Range, SearchError, date_range, metrics_for_code
from hub.core.model import Reading

router = APIRouter(prefix="/v1/patients", tags=["fhir"])

_ONE_MS = timedelta(milliseconds=1)
_BP_SCAN = 2**62


class _BadSearch(Exception):
    def __init__(self, parameter: str, reason: str) -> None:
        self.parameter = parameter
        self.reason = reason


def _outcome(status: int, parameter: str, reason: str) -> JSONResponse:
    issue = outbound.issue("error", "invalid", reason, parameter)
    return JSONResponse(
        outbound.operation_outcome([issue]), status_code=status, media_type=FHIR_MEDIA
    )


def _encode(reading: Reading) -> str:
    at = cursor_of(reading)
    raw = f"{at.t_ms}:{at.seq}:{at.reading_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> ReadingCursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        t_ms, seq, reading_id = raw.split(":", 2)
        return ReadingCursor(int(t_ms), int(seq), reading_id).checked()
    except (ValueError, binascii.Error, UnicodeDecodeError) as err:
        raise _BadSearch("cursor", "not a cursor this API returned") from err


def _same_moment_tail(
    context: HubContext, patient_id: str, metrics: list[str] | None, last: Reading
) -> list[Reading]:
    """The readings sharing the last one's millisecond: a blood-pressure panel is never cut
    in two by a page boundary."""
    moment = last.effective_time
    return context.store.readings(
        patient_id, metrics, moment, moment + _ONE_MS, after=cursor_of(last), limit=1000
    )


def _total(context: HubContext, patient_id: str, metrics: list[str] | None, window: Range) -> int:
    """How many Observations match: readings, less the ones a blood-pressure panel merges."""
    count = context.store.count(
        patient_id, metrics, window.start, window.end, include_untrusted=False
    )
    bp = [m for m in (metrics or codes.BP_METRICS) if m in codes.BP_METRICS]
    if not bp:
        return count
    pressures = context.store.readings(patient_id, bp, window.start, window.end, limit=_BP_SCAN)
    return count - len(pressures) + len(outbound.observations(pressures))


@router.get("/{patient_id}/fhir/Observation")
def search_observations(
    patient_id: str,
    request: Request,
    principal: CurrentPrincipal,
    context: Context,
    code: Annotated[list[str] | None, Query(description="token: [system]|code, comma = or")] = None,
    date: Annotated[list[str] | None, Query(description="[eq|ge|gt|le|lt]date")] = None,
    patient: Annotated[str | None, Query(description="Patient/<id> or <id>: this patient")] = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="from the next link")] = None,
) -> JSONResponse:
    """Observations of the patient matching ``code`` and ``date``; see the module docstring."""
    authorize_patient_access(context, principal, patient_id, "observations.search")
    try:
        return _search(context, request, patient_id, code, date, patient, count, cursor)
    except SearchError as err:
        return _outcome(400, err.parameter, err.reason)
    except _BadSearch as err:
        return _outcome(400, err.parameter, err.reason)


def _search(
    context: HubContext,
    request: Request,
    patient_id: str,
    code: list[str] | None,
    date: list[str] | None,
    patient: str | None,
    count: int,
    cursor: str | None,
) -> JSONResponse:
    if patient is not None and patient.removeprefix("Patient/") not in (
        patient_id,
        outbound.patient_ref(patient_id).removeprefix("Patient/"),
    ):
        raise _BadSearch("patient", "this search is in the patient's own compartment")
    metrics = sorted(metrics_for_code(code)) if code else None
    window = date_range(date or [], start=MIN_TIME, end=MAX_TIME)
    after = _decode(cursor) if cursor else None
    page: list[Reading] = []
    total = 0
    more = False
    if (metrics is None or metrics) and window.start < window.end:
        total = _total(context, patient_id, metrics, window)
        page = context.store.readings(
            patient_id, metrics, window.start, window.end, after=after, limit=count + 1
        )
        more = len(page) > count
        page = page[:count]
        if more and page:
            page += _same_moment_tail(context, patient_id, metrics, page[-1])
            rest = context.store.readings(
                patient_id, metrics, window.start, window.end, after=cursor_of(page[-1]), limit=1
            )
            more = bool(rest)
    base = fhir_base(request, patient_id)
    entries = [outbound.entry(o, base, search=True) for o in outbound.observations(page)]
    next_url = None
    if more and page:
        next_url = str(request.url.include_query_params(cursor=_encode(page[-1])))
    bundle = outbound.searchset(
        entries,
        total=total,
        self_url=_self_url(request, code, date, patient, count, cursor),
        next_url=next_url,
        timestamp=context.clock(),
    )
    return JSONResponse(bundle, media_type=FHIR_MEDIA)


def _self_url(
    request: Request,
    code: list[str] | None,
    date: list[str] | None,
    patient: str | None,
    count: int,
    cursor: str | None,
) -> str:
    """The search as the hub understood it (parameters it applied only)."""
    params: list[tuple[str, Any]] = [("code", c) for c in code or ()]
    params += [("date", d) for d in date or ()]
    if patient is not None:
        params.append(("patient", patient))
    params.append(("_count", count))
    if cursor is not None:
        params.append(("cursor", cursor))
    return str(request.url.replace(query=urlencode(params)))
