"""The reference vault in process (its FastAPI app on real SQLite and files): the ITI-65
metadata rules, idempotent provides, replacement, ITI-67 / ITI-68, visibility, ownership and
the vault's own audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.vault.app import create_vault_app
from hub.adapters.tokens import Role
from hub.config import Settings
from hub.core.fhir.outbound import PATIENT_ID_SYSTEM
from hub.core.reports import mhd
from tests.conftest import bearer
from tests.unit.reports.week import INS, NOW, PATIENT, ids, submission, week

OTHER = "pat-fedcba9876543210"
OTHER_INS = "185057812345618"
PDF = b"%PDF-1.7 a report"


def auth(role: Role, subject: str) -> dict[str, str]:
    return bearer(role, subject, NOW)


SOURCE = auth(Role.ADMIN, "health-device-hub")
PATIENT_A = auth(Role.PATIENT, PATIENT)
PATIENT_B = auth(Role.PATIENT, OTHER)
DOCTOR = auth(Role.PRACTITIONER, "dr-1")


@pytest.fixture
def vault(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_vault_app(settings)) as client:
        yield client


def bundle(
    version: int = 1, *, hidden: bool = False, patient: str = PATIENT, pdf: bytes = PDF
) -> bytes:
    made = submission(week(), version=version, hidden=hidden, patient=patient, pdf=pdf)
    ins = INS if patient == PATIENT else OTHER_INS
    return json.dumps(mhd.with_patient_ins(mhd.provide_bundle(made), ins)).encode()


def provide(vault: TestClient, body: bytes, headers: dict[str, str] = SOURCE) -> Any:
    return vault.post(
        "/fhir", content=body, headers={**headers, "Content-Type": "application/fhir+json"}
    )


def find(vault: TestClient, headers: dict[str, str], patient: str = PATIENT, **params: str) -> Any:
    query = {"patient.identifier": f"{PATIENT_ID_SYSTEM}|{patient}", **params}
    return vault.get("/fhir/DocumentReference", params=query, headers=headers)


def test_provide_find_and_retrieve(vault: TestClient) -> None:
    answer = provide(vault, bundle())
    assert answer.status_code == 200, answer.text
    statuses = [e["response"]["status"] for e in answer.json()["entry"]]
    assert statuses == ["201 Created"] * 5  # List, 2 DocumentReferences, 2 Binaries
    found = find(vault, PATIENT_A)
    assert found.status_code == 200 and found.json()["total"] == 2
    pdf = next(
        r["resource"]
        for r in found.json()["entry"]
        if r["resource"]["content"][0]["attachment"]["contentType"] == "application/pdf"
    )
    assert pdf["id"] == ids("pdf", 1).resource_id and pdf["status"] == "current"
    url = pdf["content"][0]["attachment"]["url"]
    content = vault.get(url, headers=PATIENT_A)
    assert (content.status_code, content.content) == (200, PDF)
    assert content.headers["content-type"] == "application/pdf"
    # found by INS too, by the patient and by a practitioner
    by_ins = vault.get(
        "/fhir/DocumentReference",
        params={"patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{INS}"},
        headers=DOCTOR,
    )
    assert by_ins.json()["total"] == 2


def test_a_resent_bundle_is_stored_once(vault: TestClient, settings: Settings) -> None:
    body = bundle()
    assert provide(vault, body).status_code == 200
    again = provide(vault, body)
    assert again.status_code == 200
    assert {e["response"]["status"] for e in again.json()["entry"]} == {"200 OK"}
    assert find(vault, PATIENT_A).json()["total"] == 2
    # the same uniqueIds with other bytes: refused, nothing changes
    other = provide(vault, bundle(pdf=b"%PDF-1.7 other bytes"))
    assert other.status_code == 409 and "XDSNonIdenticalHash" in other.text
    assert find(vault, PATIENT_A).json()["total"] == 2


def test_a_replacement_supersedes_the_version_it_replaces(vault: TestClient) -> None:
    assert provide(vault, bundle(1)).status_code == 200
    assert provide(vault, bundle(2)).status_code == 200
    current = find(vault, PATIENT_A, status="current").json()
    assert {e["resource"]["id"] for e in current["entry"]} == {
        ids("pdf", 2).resource_id,
        ids("fhir", 2).resource_id,
    }
    old = find(vault, PATIENT_A, status="superseded").json()
    assert {e["resource"]["id"] for e in old["entry"]} == {
        ids("pdf", 1).resource_id,
        ids("fhir", 1).resource_id,
    }
    # version 3 replacing version 1 (superseded already): unresolved, nothing stored
    broken = json.loads(bundle(3))
    for entry in mhd_references(broken):
        for relation in entry["relatesTo"]:
            if relation["code"] == "replaces":
                relation["target"]["reference"] = (
                    relation["target"]["reference"]
                    .replace(ids("pdf", 2).resource_id, ids("pdf", 1).resource_id)
                    .replace(ids("fhir", 2).resource_id, ids("fhir", 1).resource_id)
                )
    refused = provide(vault, json.dumps(broken).encode())
    assert refused.status_code == 422 and "XDSUnresolvedReferenceException" in refused.text
    assert find(vault, PATIENT_A).json()["total"] == 4


def mhd_references(bundle_json: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle_json["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    ]


def test_the_metadata_rules(vault: TestClient) -> None:
    broken = json.loads(bundle())
    structured, pdf = mhd_references(broken)
    del structured["type"]
    pdf["content"][0]["attachment"]["hash"] = "AAAA"
    pdf["securityLabel"] = []
    del pdf["context"]["practiceSetting"]
    answer = provide(vault, json.dumps(broken).encode())
    assert answer.status_code == 422
    issues = {(i["expression"][0], i["diagnostics"]) for i in answer.json()["issue"]}
    assert ("Bundle.entry[1].resource.type", "a typeCode is required") in issues
    assert (
        "Bundle.entry[3].resource.content[0].attachment.hash",
        "is not the SHA-1 of the document",
    ) in issues
    assert any(where == "Bundle.entry[3].resource.securityLabel" for where, _ in issues)
    assert any(where == "Bundle.entry[3].resource.context.practiceSetting" for where, _ in issues)
    assert find(vault, PATIENT_A).json()["total"] == 0
    not_transaction = provide(vault, json.dumps({**broken, "type": "batch"}).encode())
    assert not_transaction.status_code == 422


def test_only_the_document_source_provides(vault: TestClient) -> None:
    body = bundle()
    assert provide(vault, body, {}).status_code == 401
    for headers in (PATIENT_A, DOCTOR, auth(Role.ADMIN, "ops"), auth(Role.DEVICE_MAKER, "acme")):
        assert provide(vault, body, headers).status_code == 403
    assert find(vault, PATIENT_A).json()["total"] == 0


def test_a_hidden_document_is_the_patients_alone(vault: TestClient) -> None:
    assert provide(vault, bundle(hidden=True)).status_code == 200
    assert provide(vault, bundle(patient=OTHER)).status_code == 200
    mine = find(vault, PATIENT_A).json()
    assert mine["total"] == 2
    url = mine["entry"][0]["resource"]["content"][0]["attachment"]["url"]
    doc_id = mine["entry"][0]["resource"]["id"]
    assert find(vault, DOCTOR).json()["total"] == 0
    assert vault.get(url, headers=DOCTOR).status_code == 404
    assert vault.get(f"/fhir/DocumentReference/{doc_id}", headers=DOCTOR).status_code == 404
    assert vault.get(url, headers=PATIENT_A).status_code == 200
    # not hidden: a practitioner finds it; another patient finds and reads nothing of it
    assert find(vault, DOCTOR, patient=OTHER).json()["total"] == 2
    assert find(vault, PATIENT_A, patient=OTHER).status_code == 403
    assert vault.get(url, headers=PATIENT_B).status_code == 404
    assert find(vault, auth(Role.ADMIN, "ops")).status_code == 403
    # every access is in the vault's own audit trail, refusals included
    trail = vault.app.state.vault.store.audit_trail()  # type: ignore[attr-defined]
    refused = {(r["actor"], r["action"]) for r in trail if r["outcome"] == "refused"}
    assert {("dr-1", "iti-68"), ("dr-1", "read"), (PATIENT, "iti-67"), (OTHER, "iti-68")} <= refused
