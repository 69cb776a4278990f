"""The FHIR document and the ITI-65 bundle of a report: both validators, the ANS and MHD
metadata, determinism, and the INS only where the vault needs it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hub.core.fhir.codes import INS_NIR, LOINC, TAASIP
from hub.core.reports import codes, mhd
from hub.core.summaries import rfc3339_utc
from tests.unit.reports.week import INS, document, ids, submission, week

Json = dict[str, Any]
Check = Callable[[Json], None]


def resources(bundle: Json, kind: str) -> list[Json]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_the_fhir_document_passes_both_validators(valid_fhir: Check) -> None:
    valid_fhir(document(week()))
    valid_fhir(document(week(language="en", cgm=False)))


def test_the_fhir_document_carries_the_gmi_as_the_ans_profile_does() -> None:
    content = week()
    doc = document(content)
    assert doc["type"] == "document" and doc["identifier"]["value"] == ids("fhir", 1).unique_id
    composition = doc["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition"
    assert composition["type"]["coding"] == [codes.TYPE_CODE]
    observations = resources(doc, "Observation")
    [gmi] = [
        o
        for o in observations
        if (TAASIP, "MED-972") in {(c["system"], c["code"]) for c in o["code"]["coding"]}
    ]
    assert {"system": LOINC, "code": "97506-0"} in gmi["code"]["coding"]
    assert content.cgm is not None and content.cgm.gmi_percent is not None
    assert gmi["valueQuantity"]["value"] == round(content.cgm.gmi_percent, 4)
    assert gmi["valueQuantity"]["code"] == "%"
    assert gmi["effectiveDateTime"] == rfc3339_utc(content.end_ms)
    [days] = gmi["extension"]
    assert days["url"] == codes.MESURES_NUMBER_OF_DAYS
    assert days["valueCodeableConcept"]["coding"][0]["code"] == "GEN-276"  # 14 days
    # Every Observation is the patient's and names the one device that measured.
    patient = next(e["fullUrl"] for e in doc["entry"] if e["resource"]["resourceType"] == "Patient")
    devices = {
        e["resource"]["identifier"][0]["value"]: e["fullUrl"]
        for e in doc["entry"]
        if e["resource"]["resourceType"] == "Device" and "identifier" in e["resource"]
    }
    assert set(devices) == {"cgm-1", "cuff-1", "scale-1"}
    assert all(o["subject"]["reference"] == patient for o in observations)
    assert gmi["device"]["reference"] == devices["cgm-1"]
    [bp] = [o for o in observations if o["code"]["coding"][0]["code"] == "85354-9"]
    assert bp["device"]["reference"] == devices["cuff-1"]
    assert INS not in json.dumps(doc)


def test_the_document_is_the_same_when_built_twice() -> None:
    assert json.dumps(document(week())) == json.dumps(document(week()))


def test_the_provide_bundle_passes_both_validators(valid_fhir: Check) -> None:
    content = week()
    valid_fhir(mhd.with_patient_ins(mhd.provide_bundle(submission(content)), INS))
    replacing = submission(content, version=2, hidden=True)
    valid_fhir(mhd.with_patient_ins(mhd.provide_bundle(replacing), INS))


def test_the_provide_bundle_has_the_mhd_comprehensive_metadata() -> None:
    bundle = mhd.with_patient_ins(
        mhd.provide_bundle(submission(week(), version=2, hidden=True)), INS
    )
    assert bundle["type"] == "transaction"
    [submission_set] = resources(bundle, "List")
    assert submission_set["code"]["coding"] == [codes.SUBMISSION_SET]
    assert submission_set["subject"]["identifier"] == {"system": INS_NIR, "value": INS}
    references = resources(bundle, "DocumentReference")
    assert [e["item"]["reference"] for e in submission_set["entry"]] == [
        ids("fhir", 2).entry_urn,
        ids("pdf", 2).entry_urn,
    ]
    structured, pdf = references
    for reference, doc_type in ((structured, "fhir"), (pdf, "pdf")):
        assert reference["masterIdentifier"]["value"] == ids(doc_type, 2).unique_id
        assert reference["type"]["coding"] == [codes.TYPE_CODE]
        assert reference["category"][0]["coding"] == [codes.CLASS_CODE]
        assert codes.is_hidden(reference["securityLabel"])
        assert {
            "code": "replaces",
            "target": {"reference": f"DocumentReference/{ids(doc_type, 1).resource_id}"},
        } in reference["relatesTo"]
        [patient] = [c for c in reference["contained"] if c["resourceType"] == "Patient"]
        assert {"use": "official", "system": INS_NIR, "value": INS} in patient["identifier"]
        assert reference["context"]["facilityType"]["coding"] == [codes.SNR]
    assert {"code": "transforms", "target": {"reference": ids("fhir", 2).entry_urn}} in pdf[
        "relatesTo"
    ]
    binaries = resources(bundle, "Binary")
    assert [b["contentType"] for b in binaries] == ["application/fhir+json", "application/pdf"]


def test_the_ins_is_only_where_the_vault_needs_it() -> None:
    kept = mhd.provide_bundle(submission(week()))
    assert INS not in json.dumps(kept)  # what the outbox keeps
    sent = json.dumps(mhd.with_patient_ins(kept, INS))
    # the SubmissionSet's subject, and the contained Patient of each DocumentReference
    assert sent.count(INS) == 3
    assert mhd.provide_bundle(submission(week())) == kept  # deterministic
