"""``/v1/gateways``: BLE gateways are registered objects, with the devices they may speak for.

A gateway forwards raw frames for the devices of one home (``hs/v1/gateways/{id}/frames``).
It is registered by the device maker or remote-monitoring provider that deploys it (or an
admin), with the IANA time zone of the home; its owner pairs it with devices the owner
registered. The hub refuses frames — dead letter ``not-paired``, audited — for a device the
gateway is not paired with at that time, and every frame of an unregistered or revoked
gateway. Pairing, unpairing and revocation take effect with the next message. ``GET`` also
says how the gateway is doing: its retained status (docs/wire.md, "Gateway status"), as the
bridge recorded it — online or offline since when, its outbox, each device's last-seen time,
battery and clock offset.
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
from hub.adapters.registry.errors import DeviceConflict
from hub.adapters.registry.gateways import GatewayHealth, GatewayRecord
from hub.adapters.tokens import Principal, Role
from hub.core.identity import ANCHORED_ID_PATTERN
from hub.core.wire import WireError, check_zone

router = APIRouter(prefix="/v1/gateways", tags=["gateways"])

GatewayId = Annotated[str, Path(pattern=ANCHORED_ID_PATTERN)]


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


class DeviceHealthOut(BaseModel):
    device_id: str
    address: str | None
    profile: str | None
    connected: bool | None
    last_seen: datetime | None = Field(description="the gateway's time when it last heard it")
    battery_percent: int | None
    clock_offset_s: float | None = Field(
        description="device clock minus the gateway's, when the gateway last read it"
    )


class OutboxHealthOut(BaseModel):
    pending: int = Field(description="frames waiting for the hub's ack")
    bytes: int
    refused: int = Field(description="frames refused because the outbox was full, ever")


class GatewayHealthOut(BaseModel):
    status: str = Field(description="online | offline (its retained status, docs/wire.md)")
    since: datetime = Field(description="when the hub first received this state")
    reported: datetime | None = Field(description="the gateway's own time in its last status")
    software: str | None
    outbox: OutboxHealthOut | None
    devices: list[DeviceHealthOut]


class GatewayOut(BaseModel):
    gateway_id: str
    owner: str
    zone: str | None
    registered: datetime
    revoked: datetime | None
    devices: list[str] = Field(description="devices it may speak for now")
    health: GatewayHealthOut | None = Field(description="None: it never reported a status")


def _health(health: GatewayHealth | None) -> GatewayHealthOut | None:
    if health is None:
        return None
    details = health.details
    outbox = None if details is None else details.outbox
    return GatewayHealthOut(
        status=health.status,
        since=health.since,
        reported=health.reported,
        software=None if details is None else details.software,
        outbox=None
        if outbox is None
        else OutboxHealthOut(pending=outbox.pending, bytes=outbox.bytes, refused=outbox.refused),
        devices=[
            DeviceHealthOut(
                device_id=d.device_id,
                address=d.address,
                profile=d.profile_id,
                connected=d.connected,
                last_seen=d.last_seen,
                battery_percent=d.battery_percent,
                clock_offset_s=None if d.clock_offset_s is None else float(d.clock_offset_s),
            )
            for d in (details.devices if details is not None else ())
        ],
    )


def _out(record: GatewayRecord) -> GatewayOut:
    return GatewayOut(
        gateway_id=record.id,
        owner=record.owner,
        zone=record.zone,
        registered=record.created,
        revoked=record.revoked,
        devices=list(record.devices),
        health=_health(record.health),
    )


def _owned(context: HubContext, principal: Principal, gateway_id: str) -> GatewayRecord:
    """The gateway if the principal may manage it; 404 otherwise (existence is not leaked)."""
    require_role(principal, Role.DEVICE_MAKER, Role.ADMIN)
    record = context.registry.gateways.get(gateway_id)
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
    known = context.registry.gateways.get(body.gateway_id) is not None
    try:
        record = context.registry.gateways.register(
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
    device_id: Annotated[str, Path(pattern=ANCHORED_ID_PATTERN)],
    principal: CurrentPrincipal,
    context: Context,
) -> GatewayOut:
    """Let the gateway forward this device's frames from now on (its owner must own both)."""
    gateway = _owned(context, principal, gateway_id)
    if gateway.revoked is not None:
        raise Problem(409, "gateway-revoked", "this gateway is revoked")
    device = context.registry.devices.get(device_id)
    if device is None or (
        principal.role is Role.DEVICE_MAKER and device.maker != principal.subject
    ):
        raise Problem(404, "not-found", "no such device among yours")
    context.registry.gateways.pair_device(gateway_id, device_id, now=context.clock())
    return _out(_owned(context, principal, gateway_id))


@router.delete("/{gateway_id}/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
def unpair(
    gateway_id: GatewayId,
    device_id: Annotated[str, Path(pattern=ANCHORED_ID_PATTERN)],
    principal: CurrentPrincipal,
    context: Context,
) -> Response:
    _owned(context, principal, gateway_id)
    if not context.registry.gateways.unpair_device(gateway_id, device_id, now=context.clock()):
        raise Problem(404, "not-found", "this gateway is not paired with this device")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{gateway_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke(gateway_id: GatewayId, principal: CurrentPrincipal, context: Context) -> Response:
    """Revoke a gateway (stolen, lost, retired): its frames are refused from now on."""
    _owned(context, principal, gateway_id)
    if not context.registry.gateways.revoke(gateway_id, now=context.clock()):
        raise Problem(404, "not-found", "this gateway is revoked already")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
