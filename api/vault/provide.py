"""ITI-65 *Provide Document Bundle* as the reference vault receives it (ITI TF-2: 3.65.4.1.3,
MHD Comprehensive Metadata; the ANS PDSm profiles of it for the French health space).

:func:`read_submission` checks a transaction Bundle and returns what to store, or raises
:class:`Invalid` with one issue per broken rule (FHIRPath-like location, reason):

* a ``transaction``; every entry with a ``fullUrl`` and a ``POST`` request;
* exactly one SubmissionSet ``List`` (code ``submissionset``, ``mode`` working, ``status``
  current, a ``date``, a ``subject`` naming the patient by INS, the ``ihe-sourceId``
  extension with an OID, a uniqueId OID and an entryUUID), listing every DocumentReference of
  the bundle and nothing else;
* each DocumentReference: ``masterIdentifier`` (uniqueId: an OID, ``urn:ietf:rfc:3986``),
  an entryUUID, ``status`` current, ``type``, one ``category``, a ``subject`` that is the
  SubmissionSet's patient (INS-NIR, in a contained Patient or as an identifier), ``date``,
  at least one ``author``, a ``securityLabel`` with an HL7 v3 confidentiality code, one
  ``content`` whose attachment has ``contentType``, ``language``, ``creation``, ``size`` and
  ``hash`` matching the Binary its ``url`` names in the bundle, a ``format``, and a
  ``context`` with ``period.start``, ``facilityType``, ``practiceSetting`` and
  ``sourcePatientInfo``; ``relatesTo`` codes it understands (replaces, transforms);
* each Binary with a ``contentType`` and base64 ``data``, referenced by one document.

Checking a replaced document (it must exist, be current and be the same patient's) needs the
store: the route does it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

from hub.core.fhir.codes import INS_SYSTEMS
from hub.core.fhir.outbound import PATIENT_ID_SYSTEM
from hub.core.reports.codes import CONFIDENTIALITY, MHD_LIST_TYPES, is_hidden
from hub.core.reports.mhd import SOURCE_ID_EXT

JSON = dict[str, Any]
RFC3986 = "urn:ietf:rfc:3986"


class Invalid(Exception):
    def __init__(self, issues: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{where}: {why}" for where, why in issues))
        self.issues = issues


@dataclass(frozen=True, slots=True)
class ReceivedDocument:
    full_url: str
    id: str  # from the entryUUID
    unique_id: str
    resource: JSON
    binary_id: str  # from the Binary's fullUrl
    data: bytes
    content_type: str
    sha1: str  # base64, as in attachment.hash
    source_patient_id: str | None
    hidden: bool
    type_code: str
    class_code: str
    date: str
    replaces: tuple[str, ...]  # DocumentReference ids
    transforms: tuple[str, ...]  # references (a fullUrl in the bundle or DocumentReference/id)


@dataclass(frozen=True, slots=True)
class ReceivedSubmission:
    id: str
    unique_id: str
    source_id: str
    patient_ins: str
    resource: JSON
    documents: tuple[ReceivedDocument, ...]


def _uuid(value: object) -> str | None:
    if isinstance(value, str) and value.startswith("urn:uuid:") and len(value) == 45:
        return value.removeprefix("urn:uuid:")
    return None


def _oid(value: object) -> bool:
    if not isinstance(value, str) or not value.startswith("urn:oid:"):
        return False
    arcs = value.removeprefix("urn:oid:").split(".")
    return len(arcs) > 1 and all(a.isdigit() for a in arcs) and len(value) <= 72


def _code(concept: object) -> str | None:
    """``system|code`` of the first coding of a CodeableConcept."""
    if not isinstance(concept, dict):
        return None
    for coding in concept.get("coding", []):
        if isinstance(coding, dict) and coding.get("system") and coding.get("code"):
            return f"{coding['system']}|{coding['code']}"
    return None


def _identifier(resource: JSON, use: str) -> str | None:
    for identifier in resource.get("identifier", []):
        if identifier.get("use") == use and identifier.get("system") == RFC3986:
            return str(identifier.get("value"))
    return None


def _contained(resource: JSON, reference: object) -> JSON | None:
    if not isinstance(reference, dict) or not str(reference.get("reference", "")).startswith("#"):
        return None
    wanted = str(reference["reference"])[1:]
    return next((c for c in resource.get("contained", []) if c.get("id") == wanted), None)


def _patient_ids(resource: JSON, reference: object) -> tuple[str | None, str | None]:
    """(INS, the source's own patient id) of a subject: a contained Patient or an identifier."""
    patient = _contained(resource, reference)
    identifiers = (
        patient.get("identifier", [])
        if patient is not None
        else [reference.get("identifier", {})]
        if isinstance(reference, dict)
        else []
    )
    ins = next((i.get("value") for i in identifiers if i.get("system") in INS_SYSTEMS), None)
    local = next(
        (i.get("value") for i in identifiers if i.get("system") == PATIENT_ID_SYSTEM), None
    )
    return ins, local


class _Checker:
    def __init__(self) -> None:
        self.issues: list[tuple[str, str]] = []

    def need(self, condition: bool, where: str, why: str) -> bool:
        if not condition:
            self.issues.append((where, why))
        return condition


def _document(
    check: _Checker,
    where: str,
    full_url: str,
    resource: JSON,
    binaries: dict[str, JSON],
    patient_ins: str | None,
) -> ReceivedDocument | None:
    entry_uuid = _uuid(_identifier(resource, "official"))
    check.need(
        entry_uuid is not None,
        f"{where}.identifier",
        "an entryUUID (use official, urn:uuid:) is required",
    )
    master = resource.get("masterIdentifier", {})
    unique_id = master.get("value")
    check.need(
        master.get("system") == RFC3986 and _oid(unique_id),
        f"{where}.masterIdentifier",
        "the uniqueId must be an OID (urn:oid:) under urn:ietf:rfc:3986",
    )
    check.need(resource.get("status") == "current", f"{where}.status", "a new document is current")
    type_code = _code(resource.get("type"))
    check.need(type_code is not None, f"{where}.type", "a typeCode is required")
    categories = resource.get("category", [])
    class_code = _code(categories[0]) if len(categories) == 1 else None
    check.need(class_code is not None, f"{where}.category", "exactly one classCode is required")
    ins, local = _patient_ids(resource, resource.get("subject"))
    check.need(ins is not None, f"{where}.subject", "the patient must be named by INS")
    check.need(
        ins == patient_ins, f"{where}.subject", "the document's patient is not the SubmissionSet's"
    )
    date = resource.get("date")
    check.need(isinstance(date, str), f"{where}.date", "a date is required")
    check.need(bool(resource.get("author")), f"{where}.author", "at least one author is required")
    labels = resource.get("securityLabel", [])
    check.need(
        any(
            c.get("system") == CONFIDENTIALITY for label in labels for c in label.get("coding", [])
        ),
        f"{where}.securityLabel",
        "a confidentialityCode of HL7 v3 Confidentiality is required",
    )
    contents = resource.get("content", [])
    data = b""
    content_type = sha1 = binary_id = ""
    if check.need(len(contents) == 1, f"{where}.content", "exactly one content is required"):
        attachment = contents[0].get("attachment", {})
        at = f"{where}.content[0].attachment"
        for name in ("contentType", "language", "creation", "size", "hash", "url"):
            check.need(name in attachment, f"{at}.{name}", "required")
        check.need(
            "format" in contents[0], f"{where}.content[0].format", "a formatCode is required"
        )
        binary = binaries.get(str(attachment.get("url")))
        if check.need(binary is not None, f"{at}.url", "must name a Binary of this bundle"):
            assert binary is not None
            data = binary["data"]
            content_type = str(attachment.get("contentType"))
            binary_id = binary["id"]
            sha1 = base64.b64encode(hashlib.sha1(data).digest()).decode()  # noqa: S324 - XDS hash
            check.need(
                attachment.get("size") == len(data), f"{at}.size", "is not the size of the document"
            )
            check.need(
                attachment.get("hash") == sha1, f"{at}.hash", "is not the SHA-1 of the document"
            )
            check.need(
                binary["contentType"] == content_type,
                f"{at}.contentType",
                "differs from the Binary's",
            )
    context = resource.get("context", {})
    check.need(
        bool(context.get("period", {}).get("start")), f"{where}.context.period.start", "required"
    )
    for name in ("facilityType", "practiceSetting", "sourcePatientInfo"):
        check.need(name in context, f"{where}.context.{name}", "required")
    replaces: list[str] = []
    transforms: list[str] = []
    for n, relation in enumerate(resource.get("relatesTo", [])):
        target = str(relation.get("target", {}).get("reference", ""))
        code = relation.get("code")
        if code == "replaces" and target.startswith("DocumentReference/"):
            replaces.append(target.removeprefix("DocumentReference/"))
        elif code == "transforms":
            transforms.append(target)
        else:
            check.need(
                False,
                f"{where}.relatesTo[{n}]",
                "only replaces (DocumentReference/id) and transforms are supported",
            )
    if check.issues or entry_uuid is None or type_code is None or class_code is None:
        return None
    return ReceivedDocument(
        full_url=full_url,
        id=entry_uuid,
        unique_id=str(unique_id),
        resource=resource,
        binary_id=binary_id,
        data=data,
        content_type=content_type,
        sha1=sha1,
        source_patient_id=local,
        hidden=is_hidden(labels),
        type_code=type_code,
        class_code=class_code,
        date=str(date),
        replaces=tuple(replaces),
        transforms=tuple(transforms),
    )


def read_submission(bundle: object) -> ReceivedSubmission:
    """The submission in an ITI-65 bundle; :class:`Invalid` with every broken rule."""
    check = _Checker()
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise Invalid([("Bundle", "the body is not a FHIR Bundle")])
    if not check.need(
        bundle.get("type") == "transaction", "Bundle.type", "ITI-65 is a transaction"
    ):
        raise Invalid(check.issues)
    lists: list[tuple[str, str, JSON]] = []
    references: list[tuple[str, str, JSON]] = []
    binaries: dict[str, JSON] = {}
    for n, entry in enumerate(bundle.get("entry", [])):
        where = f"Bundle.entry[{n}]"
        resource = entry.get("resource", {}) if isinstance(entry, dict) else {}
        full_url = entry.get("fullUrl") if isinstance(entry, dict) else None
        check.need(isinstance(full_url, str), f"{where}.fullUrl", "required")
        check.need(
            entry.get("request", {}).get("method") == "POST",
            f"{where}.request.method",
            "entries are POSTed",
        )
        kind = resource.get("resourceType")
        if kind == "List":
            lists.append((f"{where}.resource", str(full_url), resource))
        elif kind == "DocumentReference":
            references.append((f"{where}.resource", str(full_url), resource))
        elif kind == "Binary":
            binary_id = _uuid(full_url)
            try:
                data = base64.b64decode(str(resource.get("data", "")), validate=True)
            except binascii.Error:
                check.need(False, f"{where}.resource.data", "is not base64")
                continue
            if check.need(
                binary_id is not None and bool(resource.get("contentType")),
                f"{where}.resource",
                "a Binary needs a urn:uuid fullUrl and a contentType",
            ):
                binaries[str(full_url)] = {
                    "id": binary_id,
                    "data": data,
                    "contentType": resource["contentType"],
                }
        else:
            check.need(False, f"{where}.resource", f"{kind} has no place in ITI-65")
    if not check.need(
        len(lists) == 1, "Bundle.entry", "exactly one SubmissionSet List is required"
    ):
        raise Invalid(check.issues)
    where, _, submission = lists[0]
    codes = [
        c.get("code")
        for c in submission.get("code", {}).get("coding", [])
        if c.get("system") == MHD_LIST_TYPES
    ]
    check.need(codes == ["submissionset"], f"{where}.code", "must be MHDlistTypes#submissionset")
    check.need(submission.get("mode") == "working", f"{where}.mode", "must be working")
    check.need(submission.get("status") == "current", f"{where}.status", "must be current")
    check.need(isinstance(submission.get("date"), str), f"{where}.date", "required")
    unique_id = _identifier(submission, "usual")
    check.need(_oid(unique_id), f"{where}.identifier", "a uniqueId OID (use usual) is required")
    submission_id = _uuid(_identifier(submission, "official"))
    check.need(
        submission_id is not None, f"{where}.identifier", "an entryUUID (use official) is required"
    )
    sources = [
        e.get("valueIdentifier", {}).get("value")
        for e in submission.get("extension", [])
        if e.get("url") == SOURCE_ID_EXT
    ]
    check.need(
        len(sources) == 1 and _oid(sources[0]),
        f"{where}.extension",
        "one ihe-sourceId OID is required",
    )
    patient_ins, _ = _patient_ids(submission, submission.get("subject"))
    check.need(patient_ins is not None, f"{where}.subject", "the patient must be named by INS")
    listed = [str(e.get("item", {}).get("reference")) for e in submission.get("entry", [])]
    check.need(
        sorted(listed) == sorted(url for _, url, _ in references) and bool(listed),
        f"{where}.entry",
        "must list every DocumentReference of the bundle",
    )
    documents = [
        _document(check, doc_where, url, resource, binaries, patient_ins)
        for doc_where, url, resource in references
    ]
    used = [d.binary_id for d in documents if d is not None]
    check.need(
        len(used) == len(set(used)) == len(binaries),
        "Bundle.entry",
        "each Binary belongs to exactly one DocumentReference",
    )
    if check.issues:
        raise Invalid(check.issues)
    assert submission_id is not None and patient_ins is not None
    return ReceivedSubmission(
        id=submission_id,
        unique_id=str(unique_id),
        source_id=str(sources[0]),
        patient_ins=patient_ins,
        resource=submission,
        documents=tuple(d for d in documents if d is not None),
    )
