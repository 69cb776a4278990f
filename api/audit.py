"""The API's one way to write the audit trail: who did what to whose data, and whether it
was allowed. Every route records through :func:`record` (``api.auth`` too, for each
authorization decision), so every event has the same shape: the context's clock, the token's
subject and role."""

from __future__ import annotations

from typing import Literal

from api.deps import HubContext
from hub.adapters.registry.audit import AuditEvent
from hub.adapters.tokens import Principal

Outcome = Literal["allowed", "refused"]


def record(
    context: HubContext,
    principal: Principal,
    action: str,
    patient_id: str | None,
    *,
    outcome: Outcome = "allowed",
    detail: str | None = None,
) -> None:
    """Append one event to the audit trail (``patient_id`` None: no patient's data)."""
    context.registry.audit.record(
        AuditEvent(
            at=context.clock(),
            actor=principal.subject,
            role=principal.role.value,
            action=action,
            patient_id=patient_id,
            outcome=outcome,
            detail=detail,
        )
    )
