"""``/v1/patients``: registration by INS, the audit trail, consent, export and erasure.

Consent, the audit trail, export and erasure belong to the patient: only the patient's own
token reaches them (practitioners and admins are refused, and the refusal is audited).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from api import audit
from api.auth import CurrentPrincipal, authorize_patient_access, require_role
from api.deps import Context, HubContext
from api.errors import Problem
from api.types import RowId
from hub.adapters.registry.audit import AuditRecord
from hub.adapters.registry.consent import ObjectionRecord
from hub.adapters.store import ReadingCursor, cursor_of
from hub.adapters.store.base import MAX_TIME, MIN_TIME
from hub.adapters.tokens import Role
from hub.core.fhir import outbound
from hub.core.ins import InsError, validate_ins
from hub.core.model import Reading, epoch_ms

router = APIRouter(prefix="/v1/patients", tags=["patients"])

FHIR_MEDIA = "application/fhir+json"
EXPORT_PAGE = 10_000
AUDIT_SCAN = 2**62  # the registry pages no audit trail: read it whole, then page here


class PatientIn(BaseModel):
    ins: str = Field(description="15 characters: NIR + control key", examples=["255081416802538"])

    @field_validator("ins")
    @classmethod
    def _ins(cls, value: str) -> str:
        try:
            return validate_ins(value)
        except InsError as err:
            raise ValueError(str(err)) from err


class PatientOut(BaseModel):
    patient_id: str = Field(description="pseudonymous id used everywhere else")
    created: bool


@router.post("", response_model=PatientOut)
def register_patient(
    body: PatientIn, principal: CurrentPrincipal, context: Context, response: Response
) -> PatientOut:
    """The pseudonymous id of the patient with this INS (created on first use: 201)."""
    require_role(principal, Role.ADMIN, Role.PRACTITIONER)
    patient_id, created = context.registry.patients.register(body.ins, now=context.clock())
    audit.record(context, principal, "patient.register", patient_id)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return PatientOut(patient_id=patient_id, created=created)


# --- audit trail ---------------------------------------------------------------------------


def fhir_base(request: Request, patient_id: str) -> str:
    """The FHIR base of a patient's resources (``fullUrl``s resolve relative references)."""
    return f"{str(request.base_url).rstrip('/')}/v1/patients/{patient_id}/fhir"


def _audit_cursor(row: AuditRecord) -> str:
    raw = f"{epoch_ms(row.at)}:{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _audit_position(rows: list[AuditRecord], cursor: str) -> int:
    """Where the page after ``cursor`` starts in the newest-first rows."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_ms, _, row_id = raw.partition(":")
        key = (int(at_ms), int(row_id))
    except (ValueError, binascii.Error, UnicodeDecodeError) as err:
        raise Problem(
            400, "invalid-cursor", "cursor is not one this API returned", field="cursor"
        ) from err
    return next((n for n, row in enumerate(rows) if (epoch_ms(row.at), row.id) < key), len(rows))


@router.get("/{patient_id}/audit")
def audit_trail(
    patient_id: str,
    request: Request,
    principal: CurrentPrincipal,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> JSONResponse:
    """Who accessed this patient's data, refusals included, newest first: a FHIR
    ``searchset`` Bundle of AuditEvents, ``total`` events in all; follow the ``next`` link."""
    authorize_patient_access(context, principal, patient_id, "audit.read", practitioners=False)
    rows = context.registry.audit.trail(patient_id, limit=AUDIT_SCAN)
    start = _audit_position(rows, cursor) if cursor else 0
    page = rows[start : start + limit]
    more = start + limit < len(rows)
    base = fhir_base(request, patient_id)
    entries = [
        outbound.entry(outbound.audit_event(asdict(row), row.at), base, search=True) for row in page
    ]
    next_url = None
    if more and page:
        next_url = str(request.url.include_query_params(cursor=_audit_cursor(page[-1])))
    bundle = outbound.searchset(
        entries,
        total=len(rows),
        self_url=str(request.url),
        next_url=next_url,
        timestamp=context.clock(),
    )
    return JSONResponse(bundle, media_type=FHIR_MEDIA)


# --- consent -------------------------------------------------------------------------------


class ObjectionIn(BaseModel):
    source_kind: Literal["device", "provider"]
    source_id: str = Field(min_length=1, max_length=128)


class ObjectionOut(BaseModel):
    id: int
    source_kind: str
    source_id: str
    since: datetime
    withdrawn: datetime | None


class VisibilityIn(BaseModel):
    hidden_from_professionals: bool


class ConsentOut(BaseModel):
    objections: list[ObjectionOut]
    hidden_from_professionals: bool


def _objection(row: ObjectionRecord) -> ObjectionOut:
    return ObjectionOut(
        id=row.id,
        source_kind=row.source_kind,
        source_id=row.source_id,
        since=row.start,
        withdrawn=row.end,
    )


@router.get("/{patient_id}/consent", response_model=ConsentOut)
def consent(patient_id: str, principal: CurrentPrincipal, context: Context) -> ConsentOut:
    """The patient's objections (in force and withdrawn) and document visibility."""
    authorize_patient_access(context, principal, patient_id, "consent.read", practitioners=False)
    return _consent(context, patient_id)


def _consent(context: HubContext, patient_id: str) -> ConsentOut:
    patient = context.registry.patients.get(patient_id)
    return ConsentOut(
        objections=[_objection(r) for r in context.registry.consent.objections(patient_id)],
        hidden_from_professionals=bool(patient and patient.hidden_from_professionals),
    )


@router.post(
    "/{patient_id}/objections", status_code=status.HTTP_201_CREATED, response_model=ObjectionOut
)
def object_to_source(
    patient_id: str,
    body: ObjectionIn,
    principal: CurrentPrincipal,
    context: Context,
    response: Response,
) -> ObjectionOut:
    """Refuse a device or a provider: from now on nothing it sends is stored for the patient.

    Each refused reading is recorded in the patient's audit trail (no reading is kept).
    Objecting twice to the same source returns the objection in force (200).
    """
    authorize_patient_access(context, principal, patient_id, "consent.object", practitioners=False)
    objection_id, created = context.registry.consent.add_objection(
        patient_id, body.source_kind, body.source_id, now=context.clock()
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    [row] = [r for r in context.registry.consent.objections(patient_id) if r.id == objection_id]
    return _objection(row)


@router.delete("/{patient_id}/objections/{objection_id}", status_code=status.HTTP_204_NO_CONTENT)
def withdraw_objection(
    patient_id: str, objection_id: RowId, principal: CurrentPrincipal, context: Context
) -> Response:
    """Withdraw an objection: the source may feed the patient's space again from now on."""
    authorize_patient_access(
        context, principal, patient_id, "consent.withdraw", practitioners=False
    )
    if not context.registry.consent.withdraw_objection(
        patient_id, objection_id, now=context.clock()
    ):
        raise Problem(404, "not-found", "no objection in force with this id")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{patient_id}/document-visibility", response_model=ConsentOut)
def set_visibility(
    patient_id: str, body: VisibilityIn, principal: CurrentPrincipal, context: Context
) -> ConsentOut:
    """Hide (or show) the hub's documents from health professionals in the patient's space.

    The choice travels with every document the hub files to the vault (IHE MHD ITI-65
    ``confidentialityCode``). Documents already filed take it when they are replaced: the
    reports of the periods still recomputed (``HUB_REPORTS__RECOMPUTE_PERIODS``) are filed
    again with it; older ones keep the visibility they were filed with (docs/documents.md).
    """
    authorize_patient_access(
        context, principal, patient_id, "consent.visibility", practitioners=False
    )
    if not context.registry.patients.set_document_visibility(
        patient_id, hidden_from_professionals=body.hidden_from_professionals
    ):
        raise Problem(404, "not-found", "this patient is not registered (POST /v1/patients)")
    return _consent(context, patient_id)  # authorized and audited once, above


# --- GDPR ------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _all_readings(context: HubContext, patient_id: str) -> Iterator[Reading]:
    """Every reading of the patient, page by page (a year of CGM is over 100,000)."""
    after: ReadingCursor | None = None
    while True:
        page = context.store.readings(
            patient_id,
            None,
            MIN_TIME,
            MAX_TIME,
            after=after,
            limit=EXPORT_PAGE,
            include_untrusted=True,  # everything the hub holds, untrusted times too
        )
        yield from page
        if len(page) < EXPORT_PAGE:
            return
        after = cursor_of(page[-1])


def _device(context: HubContext, device_id: str) -> dict[str, Any]:
    """A device as a FHIR Device: its maker and model from its catalog profile, if known."""
    row = context.registry.devices.get(device_id)
    profile = context.ingestor.decoder.catalog.get(row.profile) if row else None
    if profile is None:
        return outbound.device(device_id)
    return outbound.device(device_id, manufacturer=profile.manufacturer, model=profile.model)


@router.get("/{patient_id}/export")
def export(
    patient_id: str, request: Request, principal: CurrentPrincipal, context: Context
) -> JSONResponse:
    """Everything the hub holds about the patient, as a FHIR ``collection`` Bundle.

    The Patient (INS and pseudonymous id), a Device per device that measured or is enrolled,
    the readings as Observations (R4 vital-signs profiles, docs/fhir.md), and the registry's
    rows as one ``Basic`` entry per table (rows as JSON), so nothing is left out: every table
    of the registry's GDPR map (``hub.adapters.registry.gdpr.TABLES``) that relates to
    patients — enrollments, consent, audit trail, documents, the patient's devices, and the
    quarantine and dead letters of those devices while the patient held them.
    """
    authorize_patient_access(context, principal, patient_id, "patient.export", practitioners=False)
    readings = list(_all_readings(context, patient_id))
    exported = context.registry.gdpr.export(patient_id)
    base = fhir_base(request, patient_id)
    patient_rows = exported.table("patients").records()
    ins = str(patient_rows[0]["ins"]) if patient_rows else None
    entries = [outbound.entry(outbound.patient(patient_id, ins), base)]
    devices = {r.device_id for r in readings}
    devices |= {str(row["device_id"]) for row in exported.table("enrollments").records()}
    entries += [outbound.entry(_device(context, d), base) for d in sorted(devices)]
    entries += [outbound.entry(o, base) for o in outbound.observations(readings)]
    for table in exported.tables:
        if table.table == "patients":
            continue  # the Patient resource above
        rows_json = json.dumps([{k: _plain(v) for k, v in row.items()} for row in table.records()])
        entries.append(outbound.entry(outbound.basic(table.table, rows_json), base))
    bundle = outbound.collection(entries, timestamp=context.clock())
    return JSONResponse(bundle, media_type=FHIR_MEDIA)


class ErasureOut(BaseModel):
    readings: int
    registry: dict[str, int]


@router.delete("/{patient_id}", response_model=ErasureOut)
def erase(patient_id: str, principal: CurrentPrincipal, context: Context) -> ErasureOut:
    """Erase everything about the patient: readings, registry rows, the quarantine and dead
    letters of their devices while they held them, documents waiting to be filed, consent
    and the audit trail (the registry's GDPR map says what goes).

    One audit event survives: the erasure itself, under the pseudonymous id.
    """
    authorize_patient_access(context, principal, patient_id, "patient.erase", practitioners=False)
    readings = context.store.erase_patient(patient_id)
    counts = context.registry.gdpr.erase(patient_id)
    detail = f"{readings} readings; registry rows {sum(counts.values())}"
    audit.record(context, principal, "patient.erased", patient_id, detail=detail)
    return ErasureOut(readings=readings, registry=counts)
