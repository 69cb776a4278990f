"""Document identity and versions: deterministic identifiers, the content hash, and the
decision to file, replace, or leave alone.

* A **document set** is one document type (``pdf`` or ``fhir``) of one patient, program and
  period; its id is a name-based UUID (RFC 9562 version 5) of those four, so every hub
  computes the same one and a rerun finds its earlier versions.
* Each **version** ``n`` of a set has its own identifiers, derived from the set id and ``n``:
  the XDS ``uniqueId`` (``DocumentReference.masterIdentifier``) as an OID under ``2.25``
  (ITU-T X.667: a UUID written as an OID, as XDS wants OIDs) and the ``entryUUID``
  (``DocumentReference.identifier``, ``use=official``). Sending version ``n`` again sends the
  same identifiers: the vault recognises it and stores nothing twice.
* The **content hash** covers the report's canonical JSON and every metadata value that
  shows in the filed documents (visibility, language): equal hash, nothing to file.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

DOC_TYPES = ("pdf", "fhir")
# The hub's namespace for name-based UUIDs (itself uuid5(NAMESPACE_URL, "urn:health-device-hub")).
HUB_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:health-device-hub")


def _uuid(*parts: str) -> uuid.UUID:
    return uuid.uuid5(HUB_NAMESPACE, "\x1f".join(parts))


def report_key(patient_id: str, program_id: str, period_label: str) -> str:
    return f"{patient_id}|{program_id}|{period_label}"


def document_set_id(patient_id: str, program_id: str, period_label: str, doc_type: str) -> str:
    """The deterministic id of one document type of one patient, program and period."""
    if doc_type not in DOC_TYPES:
        raise ValueError(f"unknown document type {doc_type!r}")
    return str(_uuid("document-set", patient_id, program_id, period_label, doc_type))


@dataclass(frozen=True, slots=True)
class VersionIds:
    """The identifiers of one version of a document set (or of its submission set)."""

    entry_uuid: uuid.UUID
    unique_id: str  # urn:oid:2.25.<the version's UUID as an integer>
    binary_uuid: uuid.UUID

    @property
    def entry_urn(self) -> str:
        return f"urn:uuid:{self.entry_uuid}"

    @property
    def resource_id(self) -> str:
        """The FHIR id the vault gives the DocumentReference (the entryUUID)."""
        return str(self.entry_uuid)


def version_ids(set_id: str, version: int) -> VersionIds:
    if version < 1:
        raise ValueError("versions start at 1")
    unique = _uuid("unique-id", set_id, str(version))
    return VersionIds(
        entry_uuid=_uuid("entry-uuid", set_id, str(version)),
        unique_id=f"urn:oid:2.25.{unique.int}",
        binary_uuid=_uuid("binary", set_id, str(version)),
    )


def submission_ids(key: str, version: int) -> VersionIds:
    """The SubmissionSet of version ``version`` of a report (its documents travel together)."""
    return version_ids(str(_uuid("submission-set", key)), version)


def content_hash(content: Mapping[str, object], metadata: Mapping[str, object]) -> str:
    """SHA-256 of the canonical JSON of a report's content and its filed metadata."""
    canonical = json.dumps(
        {"content": content, "metadata": metadata},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class Decision(enum.StrEnum):
    FILE = "file"  # first version
    REPLACE = "replace"  # a new version replacing the latest one
    UNCHANGED = "unchanged"  # the latest version says the same: nothing to file
    EMPTY = "empty"  # no reading in the period: nothing to file


@dataclass(frozen=True, slots=True)
class LatestVersion:
    version: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    version: int | None  # the version to file (FILE, REPLACE)
    replaces: int | None  # the version it replaces (REPLACE)


def decide(latest: LatestVersion | None, new_hash: str, *, empty: bool) -> Verdict:
    """What to do with a (re)computed report, given the latest version decided for it.

    An empty period is never filed — and a version filed before stays as it is (readings
    erased later are not a reason to file an empty report over it).
    """
    if empty:
        return Verdict(Decision.EMPTY, None, None)
    if latest is None:
        return Verdict(Decision.FILE, 1, None)
    if latest.content_hash == new_hash:
        return Verdict(Decision.UNCHANGED, None, None)
    return Verdict(Decision.REPLACE, latest.version + 1, latest.version)
