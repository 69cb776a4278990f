"""Idempotency keys: the answer to a POST sent with an ``Idempotency-Key``, replayed when the
same principal retries with the same key (table ``idempotency_keys``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from hub.adapters.registry import schema
from hub.adapters.registry.database import Database
from hub.core.model import epoch_ms


@dataclass(frozen=True, slots=True)
class StoredResponse:
    request_hash: str  # SHA-256 of the request body the answer was for
    status: int
    body: str  # the answer, JSON


class Idempotency:
    def __init__(self, db: Database) -> None:
        self.db = db

    def response(self, principal: str, key: str) -> StoredResponse | None:
        """The answer stored for this principal's key, if any."""
        idempotency_keys = schema.idempotency_keys
        with self.db.read("idempotency key") as conn:
            row = conn.execute(
                select(
                    idempotency_keys.c.request_hash,
                    idempotency_keys.c.status,
                    idempotency_keys.c.response,
                ).where(idempotency_keys.c.principal == principal, idempotency_keys.c.key == key)
            ).one_or_none()
        if row is None:
            return None
        return StoredResponse(str(row.request_hash), int(row.status), str(row.response))

    def save(
        self,
        principal: str,
        key: str,
        *,
        request_hash: str,
        status: int,
        response: str,
        now: datetime,
    ) -> None:
        """Store the answer; the first one stored for a key wins."""
        with self.db.write("save idempotency key") as conn:
            conn.execute(
                self.db.insert_ignoring_duplicates(schema.idempotency_keys).values(
                    principal=principal,
                    key=key,
                    request_hash=request_hash,
                    status=status,
                    response=response,
                    created_ms=epoch_ms(now),
                )
            )
