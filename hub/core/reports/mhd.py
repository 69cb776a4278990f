"""IHE MHD ITI-65 *Provide Document Bundle* (ITI TF-2: 3.65) for a report's documents.

One ``transaction`` Bundle per report version (MHD Comprehensive Metadata, as the ANS PDSm
guide profiles it for the French health space): the SubmissionSet ``List``, one
``DocumentReference`` per document (the PDF, the FHIR document) and one ``Binary`` each. The
PDF ``transforms`` the FHIR document of the same version; a new version ``replaces`` the
previous version of each (``relatesTo``; XDS RPLC). docs/documents.md has the metadata table.

The INS is the one thing not in what this module builds: the outbox keeps bundles without it
(the INS lives in one registry column), and :func:`with_patient_ins` puts it in — in the
SubmissionSet's ``subject`` and the DocumentReferences' contained Patient — right before the
bundle goes to the vault.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from dataclasses import dataclass
from typing import Any

from hub.core.fhir import outbound
from hub.core.fhir.codes import INS_NIR
from hub.core.reports import codes
from hub.core.reports.fhir_document import Authoring
from hub.core.reports.versioning import VersionIds
from hub.core.summaries import rfc3339_utc

JSON = dict[str, Any]
MHD = "https://profiles.ihe.net/ITI/MHD/StructureDefinition"
PROVIDE_BUNDLE_PROFILE = f"{MHD}/IHE.MHD.Comprehensive.ProvideBundle"
SUBMISSION_SET_PROFILE = f"{MHD}/IHE.MHD.Comprehensive.SubmissionSet"
DOCUMENT_REFERENCE_PROFILE = f"{MHD}/IHE.MHD.Comprehensive.DocumentReference"
SOURCE_ID_EXT = f"{MHD}/ihe-sourceId"
DESIGNATION_TYPE_EXT = f"{MHD}/ihe-designationType"
RFC3986 = "urn:ietf:rfc:3986"
DOCUMENT_SET_SYSTEM = "urn:health-device-hub:document-set"


@dataclass(frozen=True, slots=True)
class FiledDocument:
    """One document of a submission: its version's identifiers and bytes."""

    set_id: str
    ids: VersionIds
    content_type: str
    data: bytes
    title: str
    replaces: VersionIds | None = None  # the version this one replaces
    transforms: VersionIds | None = None  # the document (same submission) it renders


@dataclass(frozen=True, slots=True)
class Submission:
    patient_id: str
    language: str  # fr | en
    hidden_from_professionals: bool
    period_start_ms: int
    period_end_ms: int
    created_ms: int
    ids: VersionIds
    title: str
    source_oid: str
    authoring: Authoring
    documents: tuple[FiledDocument, ...]


def _identifiers(ids: VersionIds) -> list[JSON]:
    return [
        {"use": "usual", "system": RFC3986, "value": ids.unique_id},
        {"use": "official", "system": RFC3986, "value": ids.entry_urn},
    ]


def _authors(submission: Submission) -> list[JSON]:
    """The contained Organization (``#org``) and the hub as a Device (``#hub``)."""
    return [
        {
            "resourceType": "Organization",
            "id": "org",
            "identifier": [
                {"system": codes.HUB_ORGANIZATION_ID, "value": submission.authoring.organization_id}
            ],
            "name": submission.authoring.organization_name,
        },
        {
            "resourceType": "Device",
            "id": "hub",
            "deviceName": [{"name": outbound.HUB_NAME, "type": "manufacturer-name"}],
            "version": [{"value": submission.authoring.hub_version}],
            "owner": {"reference": "#org"},
        },
    ]


def _document_reference(submission: Submission, doc: FiledDocument) -> JSON:
    created = rfc3339_utc(submission.created_ms)
    patient: JSON = {
        "resourceType": "Patient",
        "id": "patient",
        "identifier": [
            {"use": "official", "system": INS_NIR},  # the INS: with_patient_ins
            {"system": outbound.PATIENT_ID_SYSTEM, "value": submission.patient_id},
        ],
    }
    relates: list[JSON] = []
    if doc.replaces is not None:
        target = f"DocumentReference/{doc.replaces.resource_id}"
        relates.append({"code": "replaces", "target": {"reference": target}})
    if doc.transforms is not None:
        relates.append({"code": "transforms", "target": {"reference": doc.transforms.entry_urn}})
    resource: JSON = {
        "resourceType": "DocumentReference",
        "meta": {"profile": [DOCUMENT_REFERENCE_PROFILE]},
        "contained": [patient, *_authors(submission)],
        "masterIdentifier": _identifiers(doc.ids)[0],
        "identifier": [
            _identifiers(doc.ids)[1],
            {"use": "secondary", "system": DOCUMENT_SET_SYSTEM, "value": doc.set_id},
        ],
        "status": "current",
        "type": codes.concept(codes.TYPE_CODE),
        "category": [codes.concept(codes.CLASS_CODE)],
        "subject": {"reference": "#patient"},
        "date": created,
        "author": [{"reference": "#hub"}, {"reference": "#org"}],
        "authenticator": {"reference": "#org"},
        "description": doc.title,
        "securityLabel": codes.security_labels(submission.hidden_from_professionals),
        "content": [
            {
                "attachment": {
                    "contentType": doc.content_type,
                    "language": "fr-FR" if submission.language == "fr" else "en",
                    "url": f"urn:uuid:{doc.ids.binary_uuid}",
                    "size": len(doc.data),
                    "hash": base64.b64encode(hashlib.sha1(doc.data).digest()).decode(),  # noqa: S324 - XDS hash is SHA-1
                    "title": doc.title,
                    "creation": created,
                },
                "format": codes.FORMAT_MIME_SUFFICIENT,
            }
        ],
        "context": {
            "period": {
                "start": rfc3339_utc(submission.period_start_ms),
                "end": rfc3339_utc(submission.period_end_ms),
            },
            "facilityType": codes.concept(codes.SNR),
            "practiceSetting": codes.concept(codes.SNR),
            "sourcePatientInfo": {"reference": "#patient"},
        },
    }
    if relates:
        resource["relatesTo"] = relates
    return resource


def provide_bundle(submission: Submission) -> JSON:
    """The ITI-65 transaction Bundle of a submission, without the patient's INS."""
    submission_set: JSON = {
        "resourceType": "List",
        "meta": {"profile": [SUBMISSION_SET_PROFILE]},
        "contained": _authors(submission),
        "extension": [
            {
                "url": SOURCE_ID_EXT,
                "valueIdentifier": {"system": RFC3986, "value": f"urn:oid:{submission.source_oid}"},
            },
            {"url": DESIGNATION_TYPE_EXT, "valueCodeableConcept": codes.concept(codes.SNR)},
        ],
        "identifier": _identifiers(submission.ids),
        "status": "current",
        "mode": "working",
        "title": submission.title,
        "code": codes.concept(codes.SUBMISSION_SET),
        "subject": {"identifier": {"system": INS_NIR}},  # the INS: with_patient_ins
        "date": rfc3339_utc(submission.created_ms),
        "source": {"reference": "#hub"},
        "entry": [{"item": {"reference": d.ids.entry_urn}} for d in submission.documents],
    }
    entries: list[JSON] = [
        {
            "fullUrl": submission.ids.entry_urn,
            "resource": submission_set,
            "request": {"method": "POST", "url": "List"},
        }
    ]
    for doc in submission.documents:
        entries.append(
            {
                "fullUrl": doc.ids.entry_urn,
                "resource": _document_reference(submission, doc),
                "request": {"method": "POST", "url": "DocumentReference"},
            }
        )
        entries.append(
            {
                "fullUrl": f"urn:uuid:{doc.ids.binary_uuid}",
                "resource": {
                    "resourceType": "Binary",
                    "contentType": doc.content_type,
                    "data": base64.b64encode(doc.data).decode(),
                },
                "request": {"method": "POST", "url": "Binary"},
            }
        )
    return {
        "resourceType": "Bundle",
        "meta": {"profile": [PROVIDE_BUNDLE_PROFILE]},
        "type": "transaction",
        "entry": entries,
    }


def with_patient_ins(bundle: JSON, ins: str) -> JSON:
    """The bundle to send: a copy with the patient's INS (INS-NIR) where the vault needs it."""
    sent = copy.deepcopy(bundle)
    for item in sent["entry"]:
        resource = item["resource"]
        if resource["resourceType"] == "List":
            resource["subject"]["identifier"]["value"] = ins
        elif resource["resourceType"] == "DocumentReference":
            for contained in resource["contained"]:
                for identifier in contained.get("identifier", []):
                    if contained["resourceType"] == "Patient" and identifier["system"] == INS_NIR:
                        identifier["value"] = ins
    return sent
