"""``/v1/enrollments``: which patient holds which device, over which period — and corrections.

Who may bind a device to a patient (docs/api.md, "Enrollments"):

* an admin, for any period;
* a practitioner in an active care relationship with the patient — and, when the device is
  held by another patient now, with that patient too (moving a device takes a right over both
  sides); from now on, never backdated;
* the patient themselves with the device's one-time pairing code (from its maker); from now
  on.

A binding ends the device's current one; the patient who held it is told in their audit trail.
A mistaken enrollment is corrected (``PATCH``: patient, start, end) or removed (``DELETE``) by
an admin or by the practitioner who created it while they care for every patient concerned.
After every change the device's readings are attributed afresh: each goes to the patient who
held the device at its time, readings no enrollment covers go to quarantine, quarantined
readings now covered are stored (``hub.services.attribution``). Every patient concerned gets
an audit event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import AwareDatetime, BaseModel, Field

from api import audit
from api.auth import CurrentPrincipal, require_role
from api.deps import Context, HubContext
from api.errors import Problem
from api.types import DeviceId, PatientId, RowId
from hub.adapters.registry.enrollments import KEEP, EnrollmentRecord
from hub.adapters.registry.errors import EnrollmentConflict, EnrollmentNotFound
from hub.adapters.tokens import Principal, Role
from hub.services.attribution import Reattribution, reattribute_device

router = APIRouter(prefix="/v1/enrollments", tags=["enrollments"])

# A start a little in the past is "now" (clocks of callers differ); earlier is a backdating.
BACKDATING_TOLERANCE = timedelta(minutes=5)


class EnrollmentIn(BaseModel):
    device_id: DeviceId = Field(examples=["sim-cgm-0001"])
    patient_id: PatientId = Field(examples=["pat-demo-0001"])
    start: AwareDatetime | None = Field(None, description="default: now; only admins backdate")
    pairing_code: str | None = Field(
        None, max_length=32, description="a patient enrolling a device to themselves"
    )


class EnrollmentPatch(BaseModel):
    patient_id: PatientId | None = Field(None, description="the patient who really held it")
    start: AwareDatetime | None = None
    end: AwareDatetime | None = Field(
        None, description='when the device left the patient; `"end": null` opens it again'
    )


class EnrollmentOut(BaseModel):
    id: int
    device_id: str
    patient_id: str
    start: datetime
    end: datetime | None
    created: datetime
    created_by: str
    released_from_quarantine: int = Field(
        0, description="readings held for this device that the change now attributes"
    )
    moved: int = Field(0, description="stored readings moved to another patient")
    to_quarantine: int = Field(0, description="readings no enrollment covers any more")


class EnrollmentPage(BaseModel):
    items: list[EnrollmentOut]


def _out(record: EnrollmentRecord, change: Reattribution | None = None) -> EnrollmentOut:
    change = change or Reattribution()
    return EnrollmentOut(
        id=record.id,
        device_id=record.device_id,
        patient_id=record.patient_id,
        start=record.start,
        end=record.end,
        created=record.created,
        created_by=record.created_by,
        released_from_quarantine=change.from_quarantine,
        moved=change.moved,
        to_quarantine=change.to_quarantine,
    )


def _audit(
    context: HubContext,
    principal: Principal,
    action: str,
    patients: set[str],
    outcome: audit.Outcome,
    detail: str,
) -> None:
    """One event in the trail of every patient concerned."""
    for patient_id in sorted(patients):
        audit.record(context, principal, action, patient_id, outcome=outcome, detail=detail)


def _in_care(context: HubContext, principal: Principal, patients: set[str]) -> bool:
    now = context.clock()
    return all(context.registry.care.in_care(principal.subject, p, at=now) for p in patients)


def _holder(context: HubContext, device_id: str, at: datetime) -> str | None:
    """The patient holding the device at ``at`` or after (whose binding a new one ends)."""
    holders = {
        e.patient_id
        for e in context.registry.enrollments.of_device(device_id)
        if e.end is None or e.end > at
    }
    return None if not holders else sorted(holders)[0]


def _refuse(
    context: HubContext, principal: Principal, action: str, patients: set[str], why: str
) -> Problem:
    _audit(context, principal, action, patients, "refused", why)
    return Problem(403, "forbidden", why)


def _authorize_create(
    context: HubContext, principal: Principal, body: EnrollmentIn, start: datetime
) -> str | None:
    """Raise unless the principal may make this binding; the holder it takes the device from."""
    now = context.clock()
    holder = _holder(context, body.device_id, start)
    concerned = {body.patient_id} | ({holder} if holder else set())
    action = "enrollment.create"
    if principal.role is Role.ADMIN:
        return holder
    if start < now - BACKDATING_TOLERANCE:
        raise _refuse(
            context, principal, action, concerned, "only an admin backdates an enrollment"
        )
    if principal.role is Role.PRACTITIONER:
        if not _in_care(context, principal, concerned):
            raise _refuse(
                context,
                principal,
                action,
                concerned,
                "you may not enroll devices for this patient"
                + (" (the device is held by a patient not in your care)" if holder else ""),
            )
        return holder
    if principal.role is Role.PATIENT and principal.subject == body.patient_id:
        if body.pairing_code and context.registry.devices.redeem_pairing_code(
            body.pairing_code, body.device_id, now=now
        ):
            return holder
        raise _refuse(
            context,
            principal,
            action,
            {body.patient_id},
            "you may not enroll devices for this patient (pairing code unknown, used or expired)",
        )
    raise _refuse(
        context, principal, action, {body.patient_id}, "you may not enroll devices for this patient"
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EnrollmentOut)
def create_enrollment(
    body: EnrollmentIn, principal: CurrentPrincipal, context: Context
) -> EnrollmentOut:
    """Bind ``device_id`` to ``patient_id`` from ``start``; ends the device's current binding.

    Readings the device sent before it was enrolled were quarantined; those this binding
    covers are attributed and stored now. See the module documentation for who may.
    """
    now = context.clock()
    start = body.start or now
    holder = _authorize_create(context, principal, body, start)
    try:
        record = context.registry.enrollments.enroll(
            body.device_id,
            body.patient_id,
            start,
            actor=principal.subject,
            role=principal.role.value,
            created=now,
        )
    except EnrollmentConflict as err:
        raise Problem(409, "enrollment-conflict", str(err), field="start") from err
    change = reattribute_device(context.store, context.registry, body.device_id)
    detail = f"device {body.device_id} from {start.isoformat()}"
    _audit(context, principal, "enrollment.create", {body.patient_id}, "allowed", detail)
    if holder and holder != body.patient_id:
        _audit(context, principal, "enrollment.ended", {holder}, "allowed", detail)
    return _out(record, change)


@router.get("", response_model=EnrollmentPage)
def list_enrollments(
    principal: CurrentPrincipal,
    context: Context,
    device_id: Annotated[DeviceId | None, Query()] = None,
    patient_id: Annotated[PatientId | None, Query()] = None,
) -> EnrollmentPage:
    """A device's or a patient's enrollments, oldest first. An admin sees all; a practitioner
    those of the patients in their care; a patient their own."""
    if (device_id is None) == (patient_id is None):
        raise Problem(422, "validation-error", "give exactly one of device_id and patient_id")
    require_role(principal, Role.ADMIN, Role.PRACTITIONER, Role.PATIENT)
    if patient_id is not None:
        allowed = principal.role is Role.ADMIN or (
            principal.subject == patient_id
            if principal.role is Role.PATIENT
            else _in_care(context, principal, {patient_id})
        )
        if not allowed:
            raise _refuse(
                context, principal, "enrollment.list", {patient_id}, "you may not see them"
            )
        records = context.registry.enrollments.of_patient(patient_id)
    else:
        records = context.registry.enrollments.of_device(device_id or "")
        if principal.role is Role.PATIENT:
            records = [r for r in records if r.patient_id == principal.subject]
        elif principal.role is Role.PRACTITIONER:
            records = [r for r in records if _in_care(context, principal, {r.patient_id})]
    _audit(context, principal, "enrollment.list", {r.patient_id for r in records}, "allowed", "")
    return EnrollmentPage(items=[_out(r) for r in records])


def _period(record: EnrollmentRecord) -> str:
    end = record.end.isoformat() if record.end else ""
    return f"{record.patient_id} {record.start.isoformat()}..{end}"


def _existing(context: HubContext, enrollment_id: int) -> EnrollmentRecord:
    record = context.registry.enrollments.get(enrollment_id)
    if record is None:
        raise Problem(404, "not-found", "no such enrollment")
    return record


def _authorize_correction(
    context: HubContext,
    principal: Principal,
    record: EnrollmentRecord,
    action: str,
    concerned: set[str],
) -> None:
    if principal.role is Role.ADMIN:
        return
    if (
        principal.role is Role.PRACTITIONER
        and record.created_by == principal.subject
        and _in_care(context, principal, concerned)
    ):
        return
    raise _refuse(
        context,
        principal,
        action,
        concerned,
        "only an admin, or the practitioner who made it while caring for every patient "
        "concerned, corrects an enrollment",
    )


@router.patch("/{enrollment_id}", response_model=EnrollmentOut)
def correct_enrollment(
    enrollment_id: RowId,
    body: EnrollmentPatch,
    principal: CurrentPrincipal,
    context: Context,
) -> EnrollmentOut:
    """Correct a mistaken enrollment: the patient who really held the device, or its period.
    The device's readings are attributed afresh; every patient concerned is told."""
    record = _existing(context, enrollment_id)
    concerned = {record.patient_id} | ({body.patient_id} if body.patient_id else set())
    _authorize_correction(context, principal, record, "enrollment.correct", concerned)
    end = body.end if "end" in body.model_fields_set else KEEP
    try:
        before, after = context.registry.enrollments.correct(
            enrollment_id, patient_id=body.patient_id, start=body.start, end=end
        )
    except EnrollmentConflict as err:
        raise Problem(409, "enrollment-conflict", str(err)) from err
    change = reattribute_device(context.store, context.registry, record.device_id)
    detail = (
        f"enrollment {enrollment_id} of device {record.device_id}: {_period(before)} -> "
        f"{_period(after)}; {change.moved} moved, {change.to_quarantine} to quarantine, "
        f"{change.from_quarantine} from quarantine"
    )
    _audit(context, principal, "enrollment.correct", concerned | change.patients, "allowed", detail)
    return _out(after, change)


@router.delete("/{enrollment_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_enrollment(
    enrollment_id: RowId,
    principal: CurrentPrincipal,
    context: Context,
) -> Response:
    """Remove an enrollment made by mistake: its readings go to whoever else held the device
    then, or back to quarantine."""
    record = _existing(context, enrollment_id)
    _authorize_correction(context, principal, record, "enrollment.delete", {record.patient_id})
    try:
        context.registry.enrollments.delete(enrollment_id)
    except EnrollmentNotFound as err:
        raise Problem(404, "not-found", "no such enrollment") from err
    change = reattribute_device(context.store, context.registry, record.device_id)
    detail = (
        f"enrollment {enrollment_id} of device {record.device_id} removed; {change.moved} "
        f"moved, {change.to_quarantine} to quarantine"
    )
    concerned = {record.patient_id} | change.patients
    _audit(context, principal, "enrollment.delete", concerned, "allowed", detail)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
