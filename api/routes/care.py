"""``/v1/care-relationships``: which practitioner cares for which patient, and when.

A practitioner reads a patient's data only during an active care relationship. Relationships
are declared by an admin of the care organisation (in production: fed from the organisation's
directory).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, Field

from api import audit
from api.auth import CurrentPrincipal, require_role
from api.deps import Context
from api.errors import Problem
from api.types import Instant, PatientId
from hub.adapters.tokens import Role

router = APIRouter(prefix="/v1/care-relationships", tags=["care"])


class CareIn(BaseModel):
    practitioner_id: str = Field(min_length=1, max_length=128)
    patient_id: PatientId
    organization: str | None = Field(None, max_length=128)
    start: Instant | None = Field(None, description="default: now")
    end: Instant | None = None


class CareOut(BaseModel):
    id: int
    practitioner_id: str
    patient_id: str
    start: datetime
    end: datetime | None


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CareOut)
def add(body: CareIn, principal: CurrentPrincipal, context: Context) -> CareOut:
    if principal.role is not Role.ADMIN:
        # A refusal that names a patient belongs in that patient's trail.
        audit.record(
            context,
            principal,
            "care.add",
            body.patient_id,
            outcome="refused",
            detail=f"practitioner {body.practitioner_id}",
        )
        require_role(principal, Role.ADMIN)
    start = body.start or context.clock()
    if body.end is not None and body.end <= start:
        raise Problem(422, "invalid-range", "`end` must be after `start`", field="end")
    relationship_id = context.registry.care.add(
        body.practitioner_id,
        body.patient_id,
        organization=body.organization,
        start=start,
        end=body.end,
    )
    detail = f"practitioner {body.practitioner_id}"
    audit.record(context, principal, "care.add", body.patient_id, detail=detail)
    return CareOut(
        id=relationship_id,
        practitioner_id=body.practitioner_id,
        patient_id=body.patient_id,
        start=start,
        end=body.end,
    )


@router.delete("/{relationship_id}", status_code=status.HTTP_204_NO_CONTENT)
def end(
    relationship_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: CurrentPrincipal,
    context: Context,
) -> Response:
    """End a care relationship now: the practitioner loses access at once."""
    require_role(principal, Role.ADMIN)
    ended = context.registry.care.end(relationship_id, at=context.clock())
    if ended is None:
        raise Problem(404, "not-found", "no active care relationship with this id")
    audit.record(context, principal, "care.end", ended, detail=f"relationship {relationship_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
