"""``/v1/devices``: device registration by their maker, and one-time pairing codes.

A device maker (or remote-monitoring provider: same role) registers its devices with the
catalog profile of their model, and sees only its own devices. A pairing code lets a patient
enroll a device to themselves (``POST /v1/enrollments`` with ``pairing_code``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field, field_validator

from api.auth import CurrentPrincipal, require_role
from api.deps import Context, HubContext
from api.errors import Problem
from api.types import DeviceId
from device_profiles.catalog import load_catalog
from hub.adapters.registry.errors import DeviceConflict
from hub.adapters.tokens import Principal, Role

router = APIRouter(prefix="/v1/devices", tags=["devices"])
_CATALOG = load_catalog()


class DeviceIn(BaseModel):
    device_id: DeviceId
    profile: str = Field(description="catalog profile of the model (GET via `hub profiles list`)")
    maker: str | None = Field(None, description="admins only: the maker's principal id")

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: str) -> str:
        if value not in _CATALOG:
            raise ValueError(f"unknown catalog profile {value!r}")
        return value


class DeviceOut(BaseModel):
    device_id: str
    profile: str
    maker: str
    registered: datetime


class PairingCodeOut(BaseModel):
    code: str = Field(description="shown once; give it to the patient")
    expires: datetime


def _owned_device(context: HubContext, principal: Principal, device_id: str) -> DeviceOut:
    """The device if the principal may manage it; 404 otherwise (existence is not leaked)."""
    row = context.registry.devices.get(device_id)
    if row is None or (principal.role is Role.DEVICE_MAKER and row.maker != principal.subject):
        raise Problem(404, "not-found", "no such device among yours")
    return DeviceOut(device_id=row.id, profile=row.profile, maker=row.maker, registered=row.created)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DeviceOut)
def register(
    body: DeviceIn, principal: CurrentPrincipal, context: Context, response: Response
) -> DeviceOut:
    require_role(principal, Role.DEVICE_MAKER, Role.ADMIN)
    if principal.role is Role.DEVICE_MAKER:
        if body.maker not in (None, principal.subject):
            raise Problem(
                403, "forbidden", "a device maker registers its own devices", field="maker"
            )
        maker = principal.subject
    elif body.maker is None:
        raise Problem(422, "validation-error", "admins must name the maker", field="maker")
    else:
        maker = body.maker
    known = context.registry.devices.get(body.device_id)
    if (
        known is None
        and principal.role is Role.DEVICE_MAKER
        and context.registry.devices.in_use(body.device_id)
    ):
        # Enrolled or holding readings without a registered maker: first come, first served
        # would let any maker claim a patient's device (then push into or move it).
        raise Problem(
            409,
            "device-conflict",
            "this device id is not available; an admin registers devices already in use",
            field="device_id",
        )
    try:
        created = context.registry.devices.register(
            body.device_id, profile=body.profile, maker=maker, now=context.clock()
        )
    except DeviceConflict as err:
        # Device ids are global (they name MQTT topics): registration must say an id is
        # taken, and says nothing else — not whose it is, nor its model.
        raise Problem(
            409, "device-conflict", "this device id is not available", field="device_id"
        ) from err
    if not created:
        response.status_code = status.HTTP_200_OK
    return _owned_device(context, principal, body.device_id)


@router.get("/{device_id}", response_model=DeviceOut)
def get(device_id: str, principal: CurrentPrincipal, context: Context) -> DeviceOut:
    require_role(principal, Role.DEVICE_MAKER, Role.ADMIN)
    return _owned_device(context, principal, device_id)


@router.post(
    "/{device_id}/pairing-codes", status_code=status.HTTP_201_CREATED, response_model=PairingCodeOut
)
def pairing_code(device_id: str, principal: CurrentPrincipal, context: Context) -> PairingCodeOut:
    """A one-time code with which a patient enrolls this device to themselves.

    Issued by the device's maker (printed in the kit) or an admin; valid once, for
    ``api.pairing_code_ttl_s`` seconds.
    """
    require_role(principal, Role.DEVICE_MAKER, Role.ADMIN)
    _owned_device(context, principal, device_id)
    now = context.clock()
    ttl = timedelta(seconds=context.settings.api.pairing_code_ttl_s)
    code = context.registry.devices.create_pairing_code(
        device_id, created_by=principal.subject, now=now, ttl=ttl
    )
    return PairingCodeOut(code=code, expires=now + ttl)
