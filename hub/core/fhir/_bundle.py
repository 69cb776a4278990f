"""A request Bundle's entries, and the references between them (R4 Bundle §"Resolving
references in Bundles"): by ``fullUrl`` (``urn:uuid:...`` or an absolute URL), by
``Type/id`` of an entry's resource, by an absolute URL ending in ``Type/id``, and by logical
reference (``identifier``).

**Devices.** The hub's device id of a Device entry is its PHD system id (HL7 PHD IG
PhdDevice: identifier of type SYSID, system ``urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680``),
else its first identifier. ``Observation.device`` may also name a Device the bundle does not
carry — by ``Device/<id>`` (the PHD IG's own example bundles do so; ``<id>`` is then the hub's
device id) or by ``identifier`` (its ``value``).

**Subjects.** ``Observation.subject`` names its patient by an INS (ANS: identifier system
INS-NIR ``urn:oid:1.2.250.1.213.1.4.8``, INS-NIA, or the test authorities), directly
(``subject.identifier``) or through a Patient entry of the bundle that carries one. A subject
that is a Device marks a device setting (PHD IG: "For device settings ... the subject"), not
a patient reading. Any other subject names no INS and is not checked.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from hub.core.fhir import codes
from hub.core.fhir._values import array, codings, obj, text
from hub.core.ins import InsError, validate_ins
from hub.core.provider import device_id_of
from hub.core.wire import WireError


class SubjectKind(enum.StrEnum):
    PATIENT = "patient"  # names its patient by an INS
    DEVICE = "device"  # a device setting: no patient reading
    UNCHECKED = "unchecked"  # no subject, or one that names no INS


@dataclass(frozen=True, slots=True)
class Subject:
    kind: SubjectKind
    ins: str | None = None


class BundleIndex:
    """The entries of one request and the references among them."""

    def __init__(self, entries: list[Any]) -> None:
        self.entries = entries
        self._by_ref: dict[str, int] = {}
        for index, entry in enumerate(entries):
            resource = self.resource(index)
            if resource is None:
                continue
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str):
                self._by_ref.setdefault(full_url, index)
            kind, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(kind, str) and isinstance(rid, str):
                self._by_ref.setdefault(f"{kind}/{rid}", index)

    def resource(self, index: int) -> dict[str, Any] | None:
        entry = self.entries[index]
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            resource: dict[str, Any] = entry["resource"]
            return resource
        return None

    def kind(self, index: int) -> str | None:
        resource = self.resource(index)
        kind = None if resource is None else resource.get("resourceType")
        return kind if isinstance(kind, str) else None

    def resolve(self, reference: str) -> int | None:
        """The entry a reference points to, if it is in the bundle."""
        if reference in self._by_ref:
            return self._by_ref[reference]
        parts = reference.rstrip("/").split("/")
        if len(parts) >= 2:
            return self._by_ref.get(f"{parts[-2]}/{parts[-1]}")
        return None

    def references(self, value: Any) -> list[int]:
        """Entries named by a list of References (``derivedFrom``), those in the bundle."""
        found = []
        for item in value if isinstance(value, list) else ():
            if isinstance(item, dict) and isinstance(item.get("reference"), str):
                index = self.resolve(item["reference"])
                if index is not None:
                    found.append(index)
        return found

    # --- devices --------------------------------------------------------------------------

    def device_of_entry(self, index: int) -> str:
        """The hub device id of a Device entry (its SYSID identifier, else the first)."""
        where = f"entry[{index}].resource.identifier"
        resource = self.resource(index) or {}
        identifiers = array(resource.get("identifier"), where)
        if not identifiers:
            raise WireError("the Device has no identifier: the hub cannot know it", field=where)
        chosen = 0
        for number, identifier in enumerate(identifiers):
            if isinstance(identifier, dict) and _is_sysid(identifier):
                chosen = number
                break
        identifier = obj(identifiers[chosen], f"{where}[{chosen}]")
        return device_id_of(identifier.get("value"), f"{where}[{chosen}].value")

    def device(self, value: Any, field: str) -> tuple[str, int | None]:
        """The hub device id a Reference names, and its bundle entry if it has one."""
        ref = obj(value, field)
        reference = ref.get("reference")
        if isinstance(reference, str):
            index = self.resolve(reference)
            if index is not None:
                if self.kind(index) != "Device":
                    raise WireError(
                        f"must reference a Device; entry[{index}] is a {self.kind(index)}",
                        field=f"{field}.reference",
                    )
                return self.device_of_entry(index), index
            parts = reference.rstrip("/").split("/")
            if len(parts) >= 2 and parts[-2] == "Device":
                return device_id_of(parts[-1], f"{field}.reference"), None
            raise WireError(
                f"{reference!r} is not a Device of this bundle and not Device/<id>",
                field=f"{field}.reference",
            )
        identifier = ref.get("identifier")
        if isinstance(identifier, dict):
            return device_id_of(identifier.get("value"), f"{field}.identifier.value"), None
        raise WireError("a Device reference or identifier is required", field=field)

    def specializations(self, index: int | None) -> set[str]:
        """The PHD specialization codes (MDC_DEV_SPEC_PROFILE_*) of a Device entry."""
        resource = None if index is None else self.resource(index)
        if resource is None:
            return set()
        found: set[str] = set()
        for spec in resource.get("specialization") or ():
            if isinstance(spec, dict):
                found.update(
                    code for system, code in codings(spec.get("systemType")) if system == codes.MDC
                )
        return found

    # --- subjects -------------------------------------------------------------------------

    def subject(self, value: Any, field: str) -> Subject:
        if value is None:
            return Subject(SubjectKind.UNCHECKED)
        ref = obj(value, field)
        reference = ref.get("reference")
        if isinstance(reference, str):
            index = self.resolve(reference)
            if index is not None:
                kind = self.kind(index)
                if kind == "Device":
                    return Subject(SubjectKind.DEVICE)
                if kind == "Patient":
                    ins = self._patient_ins(index)
                    if ins is not None:
                        return Subject(SubjectKind.PATIENT, ins)
                return Subject(SubjectKind.UNCHECKED)
            if reference.rstrip("/").split("/")[-2:-1] == ["Device"]:
                return Subject(SubjectKind.DEVICE)
        identifier = ref.get("identifier")
        if isinstance(identifier, dict) and identifier.get("system") in codes.INS_SYSTEMS:
            return Subject(SubjectKind.PATIENT, _ins(identifier, f"{field}.identifier"))
        return Subject(SubjectKind.UNCHECKED)

    def _patient_ins(self, index: int) -> str | None:
        where = f"entry[{index}].resource.identifier"
        resource = self.resource(index) or {}
        for number, identifier in enumerate(array(resource.get("identifier"), where)):
            if isinstance(identifier, dict) and identifier.get("system") in codes.INS_SYSTEMS:
                return _ins(identifier, f"{where}[{number}]")
        return None


def _is_sysid(identifier: dict[str, Any]) -> bool:
    if identifier.get("system") == codes.SYSID_SYSTEM:
        return True
    return any(
        system in codes.DEVICE_ID_TYPE_SYSTEMS and code == "SYSID"
        for system, code in codings(identifier.get("type"))
    )


def _ins(identifier: dict[str, Any], field: str) -> str:
    value = text(identifier.get("value"), f"{field}.value", max_length=32)
    try:
        return validate_ins(value)
    except InsError as err:
        raise WireError(f"not a valid INS: {err}", field=f"{field}.value") from err
