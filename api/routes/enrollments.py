"""``/v1/enrollments``: bind a device to a patient over time."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import AwareDatetime, BaseModel, Field

from api.auth import CurrentPrincipal
from api.deps import Context, HubContext
from api.errors import Problem
from api.types import DeviceId, PatientId
from hub.adapters.registry.repo import EnrollmentConflict
from hub.adapters.tokens import Principal, Role

router = APIRouter(prefix="/v1/enrollments", tags=["enrollments"])


class EnrollmentIn(BaseModel):
    device_id: DeviceId = Field(examples=["sim-cgm-0001"])
    patient_id: PatientId = Field(examples=["pat-demo-0001"])
    start: AwareDatetime | None = Field(None, description="default: now")
    pairing_code: str | None = Field(
        None, max_length=32, description="a patient enrolling a device to themselves"
    )


class EnrollmentOut(BaseModel):
    device_id: str
    patient_id: str
    start: datetime
    released_from_quarantine: int = Field(
        description="readings held for this device that the enrollment now attributes"
    )


def _authorize(
    context: HubContext, principal: Principal, body: EnrollmentIn, now: datetime
) -> None:
    if principal.role is Role.ADMIN:
        allowed = True
    elif principal.role is Role.PRACTITIONER:
        allowed = context.registry.has_care_relationship(principal.subject, body.patient_id, at=now)
    elif principal.role is Role.PATIENT:
        allowed = principal.subject == body.patient_id and body.pairing_code is not None
        if allowed and body.pairing_code is not None:
            allowed = context.registry.redeem_pairing_code(
                body.pairing_code, body.device_id, now=now
            )
    else:
        allowed = False
    if not allowed:
        context.registry.audit(
            at=now,
            actor=principal.subject,
            role=principal.role.value,
            action="enrollment.create",
            patient_id=body.patient_id,
            outcome="refused",
            detail=f"device {body.device_id}",
        )
        raise Problem(
            403,
            "forbidden",
            "you may not enroll devices for this patient"
            + (
                " (pairing code unknown, used or expired)"
                if principal.role is Role.PATIENT and body.pairing_code
                else ""
            ),
        )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EnrollmentOut)
def create_enrollment(
    body: EnrollmentIn, principal: CurrentPrincipal, context: Context
) -> EnrollmentOut:
    """Bind ``device_id`` to ``patient_id`` from ``start``; ends the device's current binding.

    Who may: an admin; a practitioner in an active care relationship with the patient; or the
    patient themselves with the device's one-time ``pairing_code``. Readings the device sent
    before it was enrolled were quarantined; those this binding covers are attributed and
    stored now.
    """
    now = context.clock()
    _authorize(context, principal, body, now)
    try:
        enrollment = context.registry.enroll(
            body.device_id, body.patient_id, body.start or now, actor=principal.subject, created=now
        )
    except EnrollmentConflict as err:
        raise Problem(409, "enrollment-conflict", str(err), field="start") from err
    context.registry.audit(
        at=now,
        actor=principal.subject,
        role=principal.role.value,
        action="enrollment.create",
        patient_id=body.patient_id,
        outcome="allowed",
        detail=f"device {body.device_id}",
    )
    released = context.ingestor.release_quarantine(body.device_id)
    return EnrollmentOut(
        device_id=enrollment.device_id,
        patient_id=enrollment.patient_id,
        start=enrollment.start,
        released_from_quarantine=released,
    )
