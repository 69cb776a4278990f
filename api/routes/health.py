"""Liveness and readiness probes (no authentication, no patient data)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import Context
from api.errors import Problem
from hub.adapters.registry import RegistryError
from hub.adapters.store import StoreError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(context: Context) -> dict[str, Any]:
    try:
        context.store.ping()
    except StoreError as err:
        raise Problem(503, "not-ready", f"time-series store unavailable: {err}") from err
    try:
        counts = context.registry.rejects.counts()
    except RegistryError as err:
        raise Problem(503, "not-ready", f"registry unavailable: {type(err).__name__}") from err
    return {
        "status": "ready",
        "store": context.settings.store.backend,
        "dead_letters": counts.dead_letters,
        "quarantine": counts.quarantine,
    }
