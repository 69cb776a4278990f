"""Authentication (bearer JWT) and object-level authorization, with the audit trail.

Every access to a patient's data — allowed or refused — is written to the audit trail before
the answer is sent. Object rules (docs/api.md):

* a patient reads only their own data (token subject = pseudonymous patient id);
* a practitioner reads the data of patients with whom they have an active care relationship;
  consent, the audit trail, export and erasure are the patient's own;
* device makers and admins never read patient data through these routes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api import audit
from api.deps import Context, HubContext
from api.errors import Problem
from hub.adapters.tokens import Principal, Role, TokenError

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="health-device-hub"'}


def current_principal(request: Request, context: Context) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "unauthenticated", "a bearer token is required", headers=_CHALLENGE)
    try:
        return context.verifier.verify(token.strip())
    except TokenError as err:
        raise Problem(401, "invalid-token", str(err), headers=_CHALLENGE) from err


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Problem(403, "forbidden", f"this operation needs the role {allowed}")


def may_access_patient(
    context: HubContext, principal: Principal, patient_id: str, *, practitioners: bool = True
) -> bool:
    """The object rule: the patient themselves, or a practitioner in active care."""
    if principal.role is Role.PATIENT:
        return principal.subject == patient_id
    if principal.role is Role.PRACTITIONER and practitioners:
        return context.registry.care.in_care(principal.subject, patient_id, at=context.clock())
    return False


def authorize_patient_access(
    context: HubContext,
    principal: Principal,
    patient_id: str,
    action: str,
    *,
    practitioners: bool = True,
) -> None:
    """Allow or refuse ``action`` on ``patient_id``'s data; audit the decision either way.

    ``practitioners=False`` for what only the patient may do (consent, audit trail, export,
    erasure).
    """
    allowed = may_access_patient(context, principal, patient_id, practitioners=practitioners)
    audit.record(
        context, principal, action, patient_id, outcome="allowed" if allowed else "refused"
    )
    if not allowed:
        raise Problem(403, "forbidden", "you may not access this patient's data")
