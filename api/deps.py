"""Shared state and dependencies: one :class:`HubContext` per app, built in the lifespan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from api.ratelimit import TokenBuckets
from hub.adapters.registry import Registry
from hub.adapters.store import ReadingStore
from hub.adapters.tokens import TokenVerifier
from hub.config import Settings
from hub.services.ingest import Ingestor


@dataclass
class HubContext:
    settings: Settings
    store: ReadingStore
    registry: Registry
    ingestor: Ingestor
    verifier: TokenVerifier
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ingest_buckets: TokenBuckets | None = None  # provider push rate limits, made on first use


def get_context(request: Request) -> HubContext:
    context: HubContext = request.app.state.hub
    return context


Context = Annotated[HubContext, Depends(get_context)]
