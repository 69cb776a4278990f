"""``/v1/admin``: operations views (admin role only)."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api import audit
from api.auth import CurrentPrincipal, require_role
from api.deps import Context
from api.errors import Problem
from hub.adapters.tokens import Role

router = APIRouter(prefix="/v1/admin", tags=["admin"])
# What next_cursor looks like: "<received ms>:<dead letter id>".
_CURSOR = re.compile(r"[0-9]{1,15}:[0-9a-f]{1,64}")


class DeadLetterOut(BaseModel):
    id: str
    received_time: datetime
    source: str
    topic: str
    sender_id: str | None
    item_index: int | None
    kind: str
    reason: str
    field: str | None
    payload_base64: str
    payload_size: int


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    next_cursor: str | None


@router.get("/dead-letters", response_model=DeadLetterPage)
def list_dead_letters(
    principal: CurrentPrincipal,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> DeadLetterPage:
    """Messages and items that could not be ingested, newest first, with the reason."""
    require_role(principal, Role.ADMIN)
    if cursor is not None and not _CURSOR.fullmatch(cursor):
        raise Problem(400, "invalid-cursor", "cursor is not one this API returned", field="cursor")
    rows = context.registry.rejects.dead_letters(limit=limit + 1, before=cursor)
    more = len(rows) > limit
    rows = rows[:limit]
    audit.record(context, principal, "dead-letters.list", None, detail=f"{len(rows)} rows")
    items = [
        DeadLetterOut(
            id=row.id,
            received_time=row.received,
            source=row.source,
            topic=row.topic,
            sender_id=row.sender_id,
            item_index=row.item_index,
            kind=row.kind,
            reason=row.reason,
            field=row.field,
            payload_base64=base64.b64encode(row.payload).decode(),
            payload_size=len(row.payload),
        )
        for row in rows
    ]
    last = rows[-1] if rows else None
    return DeadLetterPage(
        items=items,
        next_cursor=last.cursor if more and last else None,
    )
