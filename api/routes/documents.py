"""``/v1/patients/{patient_id}/documents``: the reports filed into the patient's health space.

The list comes from the vault (IHE MHD ITI-67, the patient found by the hub's pseudonymous
id) and a document's PDF from the vault too (ITI-68). The hub checks the object rule and
audits first (the patient; a practitioner in active care), then asks the vault **with the
caller's own token**, so the vault applies its rules as well: a practitioner never gets a
document the patient hid from professionals. Only the PDFs are listed (each report's FHIR
document is filed beside it for machines).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from api.auth import CurrentPrincipal, authorize_patient_access
from api.deps import Context
from api.errors import Problem
from hub.adapters.vault_client import VaultClient, VaultRefused, VaultUnavailable
from hub.core.fhir.outbound import PATIENT_ID_SYSTEM
from hub.core.reports.codes import is_hidden

router = APIRouter(prefix="/v1/patients", tags=["documents"])

PDF = "application/pdf"


class Period(BaseModel):
    start: datetime | None
    end: datetime | None


class DocumentOut(BaseModel):
    id: str
    title: str
    type: str
    period: Period
    created: datetime | None
    status: str
    hidden_from_professionals: bool
    content_url: str


class DocumentList(BaseModel):
    items: list[DocumentOut]


def _token(request: Request) -> str:
    return request.headers["authorization"].partition(" ")[2].strip()


def _vault(context: Context) -> VaultClient:
    vault = context.settings.vault
    return VaultClient(vault.url, timeout_s=vault.timeout_s)


def _unavailable(err: VaultUnavailable) -> Problem:
    return Problem(503, "vault-unavailable", f"the document vault is unavailable: {err}")


def _item(patient_id: str, resource: dict[str, Any]) -> DocumentOut:
    context = resource.get("context", {})
    kind = resource.get("type", {}).get("coding", [{}])[0]
    attachment = resource["content"][0]["attachment"]
    return DocumentOut(
        id=resource["id"],
        title=attachment.get("title") or resource.get("description") or "",
        type=kind.get("display") or kind.get("code", ""),
        period=Period(
            start=context.get("period", {}).get("start"), end=context.get("period", {}).get("end")
        ),
        created=attachment.get("creation") or resource.get("date"),
        status=resource["status"],
        hidden_from_professionals=is_hidden(resource.get("securityLabel", [])),
        content_url=f"/v1/patients/{patient_id}/documents/{resource['id']}/content",
    )


@router.get("/{patient_id}/documents", response_model=DocumentList)
def documents(
    patient_id: str,
    request: Request,
    principal: CurrentPrincipal,
    context: Context,
    status: str = "current",
) -> DocumentList:
    """The patient's filed reports (PDF), newest first; ``status`` ``current`` (default),
    ``superseded`` (earlier versions) or ``current,superseded``."""
    authorize_patient_access(context, principal, patient_id, "documents.list")
    params = {"patient.identifier": f"{PATIENT_ID_SYSTEM}|{patient_id}", "status": status}
    try:
        with _vault(context) as vault:
            found = vault.find(params, token=_token(request))
    except VaultUnavailable as err:
        raise _unavailable(err) from err
    except VaultRefused as err:
        raise Problem(403, "forbidden", "the vault refused the search") from err
    pdfs = [r for r in found if r["content"][0]["attachment"].get("contentType") == PDF]
    return DocumentList(items=[_item(patient_id, r) for r in pdfs])


@router.get("/{patient_id}/documents/{document_id}/content")
def document_content(
    patient_id: str,
    document_id: str,
    request: Request,
    principal: CurrentPrincipal,
    context: Context,
) -> Response:
    """The document itself (the report's PDF), from the vault."""
    authorize_patient_access(context, principal, patient_id, "documents.read")
    token = _token(request)
    try:
        with _vault(context) as vault:
            resource = vault.read(document_id, token=token)
            owners = {
                i.get("value")
                for c in resource.get("contained", [])
                if c.get("resourceType") == "Patient"
                for i in c.get("identifier", [])
                if i.get("system") == PATIENT_ID_SYSTEM
            }
            if patient_id not in owners:
                raise Problem(404, "not-found", "no such document for this patient")
            data, content_type = vault.retrieve(
                resource["content"][0]["attachment"]["url"], token=token
            )
    except VaultUnavailable as err:
        raise _unavailable(err) from err
    except VaultRefused as err:
        raise Problem(404, "not-found", "no such document for this patient") from err
    return Response(data, media_type=content_type)
