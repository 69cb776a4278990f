"""The FastAPI application factory: ``create_app(settings)``; state lives in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import make_asgi_app

from api import errors
from api.deps import HubContext
from api.routes import (
    admin,
    care,
    devices,
    documents,
    enrollments,
    fhir,
    gateways,
    health,
    ingest,
    page,
    patients,
    preferences,
    readings,
    trends,
)
from hub import __version__
from hub.adapters.tokens import TokenVerifier
from hub.config import Settings
from hub.services.ingest import open_ingestor


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ingestor = open_ingestor(settings)
        app.state.hub = HubContext(
            settings, ingestor.store, ingestor.registry, ingestor, TokenVerifier(settings.auth)
        )
        try:
            yield
        finally:
            ingestor.close()

    app = FastAPI(
        title="Health-device ingestion hub",
        version=__version__,
        description="Readings from connected medical devices, for a personal health space.",
        lifespan=lifespan,
    )
    errors.install(app)
    # Process metrics (CPU, memory, GC); no label carries patient data.
    app.mount("/metrics", make_asgi_app())
    for module in (
        health,
        patients,
        care,
        devices,
        gateways,
        enrollments,
        readings,
        fhir,
        ingest,
        admin,
        documents,
        trends,
        preferences,
        page,
    ):
        app.include_router(module.router)
    return app
