"""The reference vault: an IHE MHD Document Recipient and Document Responder (a subset),
standing in for the health space's core vault in local runs and tests (``hub vault``).

* ``POST /fhir`` — ITI-65 *Provide Document Bundle* (ITI TF-2: 3.65): the metadata rules of
  ``api.vault.provide``; a replacement supersedes what it replaces; a bundle whose documents
  are all stored already with the same content is answered as the first time (idempotent),
  one that reuses a uniqueId for other content is refused (409, XDS "non-identical hash").
* ``GET /fhir/DocumentReference?patient.identifier=&status=&type=&category=&date=`` — ITI-67
  *Find Document References* (3.67), a ``searchset``.
* ``GET /fhir/DocumentReference/{id}``; ``GET /fhir/Binary/{id}`` — ITI-68 *Retrieve
  Document* (3.68): the document's bytes.

Bearer tokens as the hub's (``hub.adapters.tokens``). Only the configured document source
(``vault.source_subject``, role admin) provides documents; a patient finds and reads their own
documents (those filed with their pseudonymous id, or an INS filed with it), hidden ones
included; a practitioner finds and reads documents the patient did not hide from
professionals (``MASQUE_PS``). Every access, allowed or refused, is audited in the vault.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from api.vault.provide import Invalid, ReceivedDocument, read_submission
from api.vault.store import NewDocument, Query, StoredDocument, VaultStore
from hub.adapters.tokens import Principal, Role, TokenError, TokenVerifier
from hub.config import Settings
from hub.core.fhir.codes import INS_SYSTEMS
from hub.core.fhir.outbound import PATIENT_ID_SYSTEM
from hub.core.model import epoch_ms

FHIR_JSON = "application/fhir+json"
JSON = dict[str, Any]
_DATE = re.compile(r"(eq|ge|gt|le|lt)?(\d{4}-\d{2}-\d{2})(T[0-9:.]+(Z|[+-]\d{2}:\d{2}))?")


@dataclass
class Vault:
    settings: Settings
    store: VaultStore
    verifier: TokenVerifier
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def now_ms(self) -> int:
        return epoch_ms(self.clock())


class Refused(Exception):
    """An access the vault refuses: an OperationOutcome with this status."""

    def __init__(self, status: int, code: str, diagnostics: str) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics


def outcome(status: int, issues: list[tuple[str, str, str | None]]) -> JSONResponse:
    """An OperationOutcome: (code, diagnostics, expression) per issue."""
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": code, "diagnostics": text}
            | ({"expression": [where]} if where else {})
            for code, text, where in issues
        ],
    }
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def get_vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


VaultDep = Annotated[Vault, Depends(get_vault)]


def principal(request: Request, vault: VaultDep) -> Principal:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Refused(401, "login", "a bearer token is required")
    try:
        return vault.verifier.verify(token.strip())
    except TokenError as err:
        raise Refused(401, "login", str(err)) from err


PrincipalDep = Annotated[Principal, Depends(principal)]


async def raw_body(request: Request) -> bytes:
    return await request.body()


def _audit(
    vault: Vault,
    who: Principal,
    action: str,
    patient: str | None,
    allowed: bool,
    detail: str | None = None,
) -> None:
    vault.store.audit(
        at_ms=vault.now_ms(),
        actor=who.subject,
        role=who.role.value,
        action=action,
        patient=patient,
        outcome="allowed" if allowed else "refused",
        detail=detail,
    )


def _may_see(vault: Vault, who: Principal, document: StoredDocument) -> bool:
    if who.role is Role.PATIENT:
        return (
            document.source_patient_id == who.subject
            or document.patient_ins in vault.store.ins_of_source_patient(who.subject)
        )
    return who.role is Role.PRACTITIONER and not document.hidden


def _shown(request: Request, document: StoredDocument) -> JSON:
    """The DocumentReference as stored, with its current status and an ITI-68 URL."""
    resource: JSON = json.loads(json.dumps(document.resource))
    resource["id"] = document.id
    resource["status"] = document.status
    base = str(request.base_url).rstrip("/")
    resource["content"][0]["attachment"]["url"] = f"{base}/fhir/Binary/{document.binary_id}"
    return resource


def _dates(values: list[str]) -> tuple[tuple[str, str], ...]:
    """ITI-67 ``date`` parameters as (SQL operator, RFC 3339 UTC) conditions on ``date``."""
    found: list[tuple[str, str]] = []
    for value in values:
        match = _DATE.fullmatch(value)
        if match is None:
            raise Refused(400, "invalid", f"date {value!r} is not [prefix]date or dateTime")
        prefix = match[1] or "eq"
        if match[3]:
            moment = datetime.fromisoformat(match[2] + match[3]).astimezone(UTC)
            first = last = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            day = date.fromisoformat(match[2])
            first = f"{day.isoformat()}T00:00:00Z"
            last = f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z"
        found += {
            "ge": [(">=", first)],
            "gt": [(">=", last)],
            "le": [("<", last)] if not match[3] else [("<=", last)],
            "lt": [("<", first)],
            "eq": [(">=", first), ("<", last)] if not match[3] else [("=", first)],
        }[prefix]
    return tuple(found)


def _codes(request: Request, name: str) -> frozenset[str]:
    return frozenset(v for value in request.query_params.getlist(name) for v in value.split(","))


def _patient_ins(vault: Vault, who: Principal, identifier: str) -> frozenset[str]:
    """The INS an ITI-67 ``patient.identifier`` (``system|value``) means, if this principal
    may search it."""
    system, _, value = identifier.partition("|")
    if system == PATIENT_ID_SYSTEM:
        wanted = vault.store.ins_of_source_patient(value)
        mine = who.role is Role.PATIENT and value == who.subject
    elif system in INS_SYSTEMS:
        wanted = frozenset({value})
        mine = who.role is Role.PATIENT and value in vault.store.ins_of_source_patient(who.subject)
    else:
        raise Refused(400, "invalid", "patient.identifier must be INS-NIR or the hub's patient id")
    if not (mine or who.role is Role.PRACTITIONER):
        raise Refused(403, "forbidden", "you may not search this patient's documents")
    return wanted


def create_vault_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        assert settings.vault.data_dir is not None
        app.state.vault = Vault(
            settings, VaultStore(settings.vault.data_dir), TokenVerifier(settings.auth)
        )
        yield

    app = FastAPI(title="Reference document vault (IHE MHD)", lifespan=lifespan)

    @app.exception_handler(Refused)
    async def _refused(_request: Request, exc: Refused) -> JSONResponse:
        return outcome(exc.status, [(exc.code, exc.diagnostics, None)])

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/fhir")
    @app.post("/fhir/")
    def provide(
        vault: VaultDep, who: PrincipalDep, body: Annotated[bytes, Depends(raw_body)]
    ) -> Response:
        """ITI-65 Provide Document Bundle."""
        source = who.role is Role.ADMIN and who.subject == vault.settings.vault.source_subject
        if not source:
            _audit(vault, who, "iti-65", None, False)
            raise Refused(
                403, "forbidden", "only the configured document source provides documents"
            )
        if len(body) > vault.settings.vault.max_bundle_bytes:
            raise Refused(413, "too-costly", "the bundle is larger than vault.max_bundle_bytes")
        try:
            submission = read_submission(json.loads(body))
        except ValueError as err:
            raise Refused(400, "structure", f"not JSON: {err}") from err
        except Invalid as err:
            _audit(vault, who, "iti-65", None, False, str(err)[:500])
            return outcome(422, [("invalid", why, where) for where, why in err.issues])
        ins = submission.patient_ins
        stored = vault.store.by_unique_ids([d.unique_id for d in submission.documents])
        if stored:
            same = {(s.unique_id, s.sha1) for s in stored} == {
                (d.unique_id, d.sha1) for d in submission.documents
            }
            if not same:
                _audit(vault, who, "iti-65", ins, False, "uniqueId reused")
                raise Refused(
                    409, "duplicate", "XDSNonIdenticalHash: a uniqueId is stored with other content"
                )
            _audit(vault, who, "iti-65", ins, True, "already stored")
            return _transaction_response(submission.id, submission.documents, "200 OK")
        new = []
        for document in submission.documents:
            for replaced in document.replaces:
                old = vault.store.document(replaced)
                if old is None or old.patient_ins != ins or old.status != "current":
                    _audit(vault, who, "iti-65", ins, False, f"cannot replace {replaced}")
                    return outcome(
                        422,
                        [
                            (
                                "invalid",
                                "XDSUnresolvedReferenceException: the replaced document is not a "
                                "current document of this patient",
                                f"DocumentReference {document.id} relatesTo",
                            )
                        ],
                    )
            new.append(
                NewDocument(
                    StoredDocument(
                        id=document.id,
                        unique_id=document.unique_id,
                        patient_ins=ins,
                        source_patient_id=document.source_patient_id,
                        status="current",
                        type_code=document.type_code,
                        class_code=document.class_code,
                        date=document.date,
                        hidden=document.hidden,
                        binary_id=document.binary_id,
                        content_type=document.content_type,
                        sha1=document.sha1,
                        resource=document.resource,
                    ),
                    document.data,
                    document.replaces,
                )
            )
        vault.store.store(
            submission.id,
            submission.unique_id,
            submission.source_id,
            submission.resource,
            new,
            now_ms=vault.now_ms(),
        )
        _audit(vault, who, "iti-65", ins, True, f"{len(new)} documents")
        return _transaction_response(submission.id, submission.documents, "201 Created")

    @app.get("/fhir/DocumentReference")
    def find(request: Request, vault: VaultDep, who: PrincipalDep) -> JSONResponse:
        """ITI-67 Find Document References."""
        identifier = request.query_params.get("patient.identifier")
        if not identifier:
            raise Refused(400, "required", "patient.identifier is required")
        try:
            ins = _patient_ins(vault, who, identifier)
        except Refused:
            _audit(vault, who, "iti-67", None, False, "patient not searchable by this principal")
            raise
        query = Query(
            patient_ins=ins,
            statuses=_codes(request, "status"),
            type_codes=_codes(request, "type"),
            class_codes=_codes(request, "category"),
            dates=_dates(request.query_params.getlist("date")),
            include_hidden=who.role is Role.PATIENT,
        )
        found = vault.store.search(query) if ins else []
        patients: list[str | None] = [*sorted(ins)] or [None]
        for patient in patients:
            _audit(vault, who, "iti-67", patient, True, f"{len(found)} found")
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "link": [{"relation": "self", "url": str(request.url)}],
            "entry": [
                {
                    "fullUrl": f"{str(request.base_url).rstrip('/')}/fhir/DocumentReference/{d.id}",
                    "resource": _shown(request, d),
                    "search": {"mode": "match"},
                }
                for d in found
            ],
        }
        return JSONResponse(bundle, media_type=FHIR_JSON)

    def _readable(
        vault: Vault, who: Principal, document: StoredDocument | None, action: str
    ) -> StoredDocument:
        allowed = document is not None and _may_see(vault, who, document)
        _audit(vault, who, action, None if document is None else document.patient_ins, allowed)
        if document is None or not allowed:
            raise Refused(404, "not-found", "no such document")
        return document

    @app.get("/fhir/DocumentReference/{document_id}")
    def read(
        request: Request, document_id: str, vault: VaultDep, who: PrincipalDep
    ) -> JSONResponse:
        document = _readable(vault, who, vault.store.document(document_id), "read")
        return JSONResponse(_shown(request, document), media_type=FHIR_JSON)

    @app.get("/fhir/Binary/{binary_id}")
    def retrieve(binary_id: str, vault: VaultDep, who: PrincipalDep) -> Response:
        """ITI-68 Retrieve Document: the bytes, with the document's MIME type."""
        document = _readable(vault, who, vault.store.by_binary(binary_id), "iti-68")
        return Response(vault.store.read_file(document.binary_id), media_type=document.content_type)

    return app


def _transaction_response(
    submission_id: str, documents: Sequence[ReceivedDocument], status: str
) -> JSONResponse:
    entries = [{"response": {"status": status, "location": f"List/{submission_id}"}}]
    for document in documents:
        entries.append(
            {"response": {"status": status, "location": f"DocumentReference/{document.id}"}}
        )
        entries.append({"response": {"status": status, "location": f"Binary/{document.binary_id}"}})
    body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
    return JSONResponse(body, status_code=200, media_type=FHIR_JSON)
