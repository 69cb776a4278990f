"""``/v1/gateways``: BLE gateways are registered objects, with the devices they may speak for.

A gateway forwards raw frames for the devices of one home (``hs/v1/gateways/{id}/frames``).
It is registered by the device maker or remote-monitoring provider that deploys it (or an
admin), with the IANA time zone of the home; its owner pairs it with devices the owner
registered. The hub refuses frames — dead letter ``not-paired``, audited — for a device the
gateway is not paired with at that time, and every frame of an unregistered or revoked
gateway. Pairing, unpairing and revocation take effect with the next message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, Field, field_validator

from api.auth import CurrentPrincipal, require_role
from api.deps import Context, HubContext
from api.errors import Problem
from api.types import DeviceId
from hub.adapters.registry.repo import DeviceConflict, GatewayRecord
from hub.adapters.tokens import Principal, Role
from hub.core.wire import WireError, check_zone

router = APIRouter(prefix="/v1/gateways", tags=["gateways"])

GatewayId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]


class GatewayIn(BaseModel):
    gateway_id: DeviceId = Field(examples=["gw-0001"])
    zone: str | None = Field(None, description="IANA time zone of the home, e.g. Europe/Paris")
    owner: str | None = Field(None, description="admins only: the owner's principal id")

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        try:
            return check_zone(value)
        except WireError as err:
            raise ValueError(err.reason) from err


class GatewayOut(BaseModel):
    gateway_id: str
    owner: str
    zone: str | None
    registered: datetime
    revoked: datetime | None
    devices: list[str] = Field(description="devices it may speak for now")


def _out(record: GatewayRecord) -> GatewayOut:
    return GatewayOut(
        gateway_id=record.id,
        owner=record.owner,
        zone=record.zone,
        registered=record.created,
        revoked=record.revoked,
        devices=list(record.devices),
    )


def _owned(context: HubContext, principal: Principal, gateway_id: str) -> GatewayRecord:
    """The gateway if the principal may manage it; 404 otherwise (existence is not leaked)."""
    require_role(principal, Role.DEVICE_MAKER, Role.ADMIN)
    record = context.registry.gateway(gateway_id)
    if record is None or (
        principal.role is Role.DEVICE_MAKER and record.owner != principal.subject
    ):
        raise Problem(404, "not-found", "no such gateway among yours")
    return record


@router.post("", status_code=status.HTTP_201_CREATED, response_model=GatewayOut)
def register(
    body: GatewayIn, principal: CurrentPrincipal, context: Context, response: Response
) -> GatewayOut:
    require_role(principal, Role.DEVICE_MAKER, Role.ADMIN)
    if principal.role is Role.DEVICE_MAKER:
        if body.owner not in (None, principal.subject):
            raise Problem(403, "forbidden", "a device maker registers its own gateways")
        owner = principal.subject
    elif body.owner is None:
        raise Problem(422, "validation-error", "admins must name the owner", field="owner")
    else:
        owner = body.owner
    known = context.registry.gateway(body.gateway_id) is not None
    try:
        record = context.registry.register_gateway(
            body.gateway_id, owner=owner, zone=body.zone, now=context.clock()
        )
    except DeviceConflict as err:
        # Another owner's gateway: the same answer as an unknown one would be a lie; say no.
        raise Problem(409, "gateway-conflict", "this gateway id is not available") from err
    if known:
        response.status_code = status.HTTP_200_OK
    return _out(record)


@router.get("/{gateway_id}", response_model=GatewayOut)
def get(gateway_id: GatewayId, principal: CurrentPrincipal, context: Context) -> GatewayOut:
    return _out(_owned(context, principal, gateway_id))


@router.put("/{gateway_id}/devices/{device_id}", response_model=GatewayOut)
def pair(
    gateway_id: GatewayId,
    device_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")],
    principal: CurrentPrincipal,
    context: Context,
) -> GatewayOut:
    """Let the gateway forward this device's frames from now on (its owner must own both)."""
    gateway = _owned(context, principal, gateway_id)
    if gateway.revoked is not None:
        raise Problem(409, "gateway-revoked", "this gateway is revoked")
    device = context.registry.device(device_id)
    if device is None or (
        principal.role is Role.DEVICE_MAKER and device["maker"] != principal.subject
    ):
        raise Problem(404, "not-found", "no such device among yours")
    context.registry.pair_gateway_device(gateway_id, device_id, now=context.clock())
    return _out(_owned(context, principal, gateway_id))


@router.delete("/{gateway_id}/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
def unpair(
    gateway_id: GatewayId,
    device_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")],
    principal: CurrentPrincipal,
    context: Context,
) -> Response:
    _owned(context, principal, gateway_id)
    if not context.registry.unpair_gateway_device(gateway_id, device_id, now=context.clock()):
        raise Problem(404, "not-found", "this gateway is not paired with this device")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{gateway_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke(gateway_id: GatewayId, principal: CurrentPrincipal, context: Context) -> Response:
    """Revoke a gateway (stolen, lost, retired): its frames are refused from now on."""
    _owned(context, principal, gateway_id)
    if not context.registry.revoke_gateway(gateway_id, now=context.clock()):
        raise Problem(404, "not-found", "this gateway is revoked already")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
