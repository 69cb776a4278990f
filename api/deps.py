"""Shared state and dependencies: one :class:`HubContext` per app, built in the lifespan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from api.ratelimit import TokenBuckets
from hub.config import Settings
from hub.ingest import Ingestor
from hub.registry import Registry
from hub.store import ReadingStore
from hub.tokens import TokenVerifier


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
