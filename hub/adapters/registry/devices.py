"""Devices and their one-time pairing codes (tables ``devices``, ``pairing_codes``)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from hub.adapters.registry import schema
from hub.adapters.registry.database import Database
from hub.adapters.registry.errors import DeviceConflict
from hub.core.model import epoch_ms, from_epoch_ms

_PAIRING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A registered device: its catalog ``profile`` (the model), the ``maker`` principal that
    registered it, and the IANA zone of a local device clock (None: the hub's default)."""

    id: str
    profile: str
    maker: str
    created: datetime
    zone: str | None


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Devices:
    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, device_id: str, *, profile: str, maker: str, now: datetime) -> bool:
        """Register a device (idempotent for the same maker and model); True if new;
        :class:`DeviceConflict` if another maker or model has it."""
        devices = schema.devices
        with self.db.write("register device") as conn:
            row = conn.execute(select(devices).where(devices.c.id == device_id)).one_or_none()
            if row is not None:
                if (row.maker, row.profile) != (maker, profile):
                    raise DeviceConflict(f"device {device_id} is registered already")
                return False
            conn.execute(
                insert(devices).values(
                    id=device_id, profile=profile, maker=maker, created_ms=epoch_ms(now)
                )
            )
        return True

    def get(self, device_id: str) -> DeviceRecord | None:
        devices = schema.devices
        with self.db.read("device") as conn:
            row = conn.execute(select(devices).where(devices.c.id == device_id)).one_or_none()
        if row is None:
            return None
        return DeviceRecord(
            id=str(row.id),
            profile=str(row.profile),
            maker=str(row.maker),
            created=from_epoch_ms(row.created_ms),
            zone=row.zone,
        )

    def in_use(self, device_id: str) -> bool:
        """Whether the hub holds anything of this device id: an enrollment, or readings in
        quarantine (attributed readings imply an enrollment)."""
        enrollments, quarantine = schema.enrollments, schema.quarantine
        with self.db.read("device in use") as conn:
            for table in (enrollments, quarantine):
                found = conn.execute(
                    select(table.c.device_id).where(table.c.device_id == device_id).limit(1)
                ).first()
                if found is not None:
                    return True
        return False

    def create_pairing_code(
        self, device_id: str, *, created_by: str, now: datetime, ttl: timedelta
    ) -> str:
        """A one-time code (shown once, stored hashed) a patient uses to enroll the device."""
        code = "".join(secrets.choice(_PAIRING_ALPHABET) for _ in range(10))
        with self.db.write("create pairing code") as conn:
            conn.execute(
                insert(schema.pairing_codes).values(
                    code_hash=_hash(code),
                    device_id=device_id,
                    created_by=created_by,
                    expires_ms=epoch_ms(now + ttl),
                    used_ms=None,
                )
            )
        return code

    def redeem_pairing_code(self, code: str, device_id: str, *, now: datetime) -> bool:
        """Use a pairing code once; False if unknown, for another device, used or expired."""
        pairing_codes = schema.pairing_codes
        with self.db.write("redeem pairing code") as conn:
            result = conn.execute(
                update(pairing_codes)
                .where(
                    pairing_codes.c.code_hash == _hash(code.strip().upper()),
                    pairing_codes.c.device_id == device_id,
                    pairing_codes.c.used_ms.is_(None),
                    pairing_codes.c.expires_ms > epoch_ms(now),
                )
                .values(used_ms=epoch_ms(now))
            )
        return result.rowcount == 1
