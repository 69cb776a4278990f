"""BLE gateways at patients' homes: who registered them, their retained status, and which
devices each may speak for, when (tables ``gateways``, ``gateway_devices``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hub.adapters.registry import schema
from hub.adapters.registry.database import Database
from hub.adapters.registry.errors import DeviceConflict
from hub.core.model import epoch_ms, from_epoch_ms
from hub.core.wire import GatewayStatus, encode_gateway_status, parse_gateway_status


@dataclass(frozen=True, slots=True)
class GatewayHealth:
    """A gateway's retained status as the hub last recorded it (docs/wire.md).

    ``since``: when the hub first received the current state; ``reported``: the gateway's own
    time in its last status; ``details``: the last status that carried details (outbox,
    devices), kept through an ``offline`` last will."""

    status: str
    since: datetime
    reported: datetime | None
    details: GatewayStatus | None


@dataclass(frozen=True, slots=True)
class GatewayRecord:
    id: str
    owner: str
    zone: str | None
    created: datetime
    revoked: datetime | None
    devices: tuple[str, ...]  # paired now
    health: GatewayHealth | None = None  # None: it never reported its status


@dataclass(frozen=True, slots=True)
class GatewayPairings:
    """Which devices a gateway may speak for, and when (``[start, end)``; end None: still)."""

    gateway_id: str
    revoked: datetime | None
    devices: dict[str, list[tuple[datetime, datetime | None]]]

    def may_speak_for(self, device_id: str, at: datetime) -> bool:
        if self.revoked is not None and at >= self.revoked:
            return False
        return any(
            start <= at and (end is None or at < end)
            for start, end in self.devices.get(device_id, ())
        )


def _record(conn: Connection, row: Any) -> GatewayRecord:
    gateway_devices = schema.gateway_devices
    devices = conn.execute(
        select(gateway_devices.c.device_id)
        .where(gateway_devices.c.gateway_id == row.id, gateway_devices.c.end_ms.is_(None))
        .order_by(gateway_devices.c.device_id)
    ).scalars()
    return GatewayRecord(
        id=str(row.id),
        owner=str(row.owner),
        zone=row.zone,
        created=from_epoch_ms(row.created_ms),
        revoked=None if row.revoked_ms is None else from_epoch_ms(row.revoked_ms),
        devices=tuple(str(d) for d in devices),
        health=_health(row),
    )


def _health(row: Any) -> GatewayHealth | None:
    if row.status is None or row.status_since_ms is None:
        return None
    reported = row.status_reported_ms
    return GatewayHealth(
        status=str(row.status),
        since=from_epoch_ms(row.status_since_ms),
        reported=None if reported is None else from_epoch_ms(reported),
        # written by record_status from a parsed status: it parses again
        details=None if row.health is None else parse_gateway_status(row.health.encode()),
    )


_IN_CHUNK = 500  # ids per IN (...) list, well below every driver's parameter limit


class Gateways:
    def __init__(self, db: Database) -> None:
        self.db = db

    def register(
        self, gateway_id: str, *, owner: str, zone: str | None, now: datetime
    ) -> GatewayRecord:
        """Register a gateway (idempotent for the same owner); :class:`DeviceConflict` if
        another owner has it."""
        gateways = schema.gateways
        with self.db.write("register gateway") as conn:
            row = conn.execute(select(gateways).where(gateways.c.id == gateway_id)).one_or_none()
            if row is not None:
                if row.owner != owner:
                    raise DeviceConflict(f"gateway {gateway_id} is registered already")
                if zone is not None and zone != row.zone:
                    conn.execute(
                        update(gateways).where(gateways.c.id == gateway_id).values(zone=zone)
                    )
            else:
                conn.execute(
                    insert(gateways).values(
                        id=gateway_id, owner=owner, zone=zone, created_ms=epoch_ms(now)
                    )
                )
            row = conn.execute(select(gateways).where(gateways.c.id == gateway_id)).one()
            return _record(conn, row)

    def get(self, gateway_id: str) -> GatewayRecord | None:
        gateways = schema.gateways
        with self.db.read("gateway") as conn:
            row = conn.execute(select(gateways).where(gateways.c.id == gateway_id)).one_or_none()
            return None if row is None else _record(conn, row)

    def record_status(self, gateway_id: str, status: GatewayStatus, *, received: datetime) -> bool:
        """Record a gateway's retained status; False for a gateway that is not registered.

        The state's ``since`` moves only when the state changes; a status with details (an
        ``online`` one) replaces the recorded details, a bare last will keeps them.
        """
        return self.record_statuses([(gateway_id, status, received)])[0]

    def record_statuses(self, reports: Sequence[tuple[str, GatewayStatus, datetime]]) -> list[bool]:
        """Record ``(gateway id, status, received)`` reports in order, as :meth:`record_status`
        does one, in one transaction: a bridge takes a batch's statuses at once, and when
        thousands of gateways connect together one commit each held their readings back. One
        answer per report: False for a gateway that is not registered."""
        gateways = schema.gateways
        ids = sorted({gateway_id for gateway_id, _, _ in reports})
        with self.db.write("gateway statuses") as conn:
            current: dict[str, str | None] = {}
            for start in range(0, len(ids), _IN_CHUNK):
                rows = conn.execute(
                    select(gateways.c.id, gateways.c.status).where(
                        gateways.c.id.in_(ids[start : start + _IN_CHUNK])
                    )
                ).all()
                current.update((str(row.id), row.status) for row in rows)
            known = []
            for gateway_id, status, received in reports:
                if gateway_id not in current:
                    known.append(False)
                    continue
                values: dict[str, Any] = {
                    "status": status.status,
                    "status_reported_ms": None if status.time is None else epoch_ms(status.time),
                }
                if status.outbox is not None or status.devices:
                    values["health"] = encode_gateway_status(status).decode()
                if current[gateway_id] != status.status:
                    values["status_since_ms"] = epoch_ms(received)
                    current[gateway_id] = status.status
                conn.execute(update(gateways).where(gateways.c.id == gateway_id).values(**values))
                known.append(True)
        return known

    def revoke(self, gateway_id: str, *, now: datetime) -> bool:
        """False if the gateway is unknown or revoked already."""
        gateways = schema.gateways
        with self.db.write("revoke gateway") as conn:
            result = conn.execute(
                update(gateways)
                .where(gateways.c.id == gateway_id, gateways.c.revoked_ms.is_(None))
                .values(revoked_ms=epoch_ms(now))
            )
        return result.rowcount == 1

    def pair_device(self, gateway_id: str, device_id: str, *, now: datetime) -> bool:
        """Let the gateway speak for the device from now on; False if it already may."""
        gateway_devices = schema.gateway_devices
        with self.db.write("pair gateway device") as conn:
            current = conn.execute(
                select(gateway_devices.c.start_ms).where(
                    gateway_devices.c.gateway_id == gateway_id,
                    gateway_devices.c.device_id == device_id,
                    gateway_devices.c.end_ms.is_(None),
                )
            ).first()
            if current is not None:
                return False
            conn.execute(
                insert(gateway_devices).values(
                    gateway_id=gateway_id, device_id=device_id, start_ms=epoch_ms(now), end_ms=None
                )
            )
        return True

    def unpair_device(self, gateway_id: str, device_id: str, *, now: datetime) -> bool:
        """End the gateway's right to speak for the device; False if it had none."""
        gateway_devices = schema.gateway_devices
        with self.db.write("unpair gateway device") as conn:
            result = conn.execute(
                update(gateway_devices)
                .where(
                    gateway_devices.c.gateway_id == gateway_id,
                    gateway_devices.c.device_id == device_id,
                    gateway_devices.c.end_ms.is_(None),
                )
                .values(end_ms=epoch_ms(now))
            )
        return result.rowcount == 1

    def pairings(self, gateway_ids: Iterable[str]) -> dict[str, GatewayPairings]:
        """For each known gateway: whether it is revoked, and the periods of its devices."""
        ids = sorted(set(gateway_ids))
        if not ids:
            return {}
        gateways, gateway_devices = schema.gateways, schema.gateway_devices
        result: dict[str, GatewayPairings] = {}
        with self.db.read("gateway pairings") as conn:
            for row in conn.execute(
                select(gateways.c.id, gateways.c.revoked_ms).where(gateways.c.id.in_(ids))
            ):
                revoked = None if row.revoked_ms is None else from_epoch_ms(row.revoked_ms)
                result[row.id] = GatewayPairings(row.id, revoked, {})
            for row in conn.execute(
                select(gateway_devices).where(gateway_devices.c.gateway_id.in_(list(result)))
            ):
                end = None if row.end_ms is None else from_epoch_ms(row.end_ms)
                periods = result[row.gateway_id].devices.setdefault(row.device_id, [])
                periods.append((from_epoch_ms(row.start_ms), end))
        return result
