"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error kind has a stable ``type`` (a relative URI ``/problems/<kind>``, listed in
docs/api.md) and, where one field is at fault, an ``errors`` member naming it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.adapters.registry.errors import RegistryUnavailable
from hub.adapters.store import StoreUnavailable

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_S = 5
log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    500: "Internal error",
    422: "Invalid request",
    429: "Too many requests",
    503: "Service unavailable",
}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.field = field
        self.headers = headers


def problem_response(
    status: int,
    kind: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{kind}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        errors = [{"field": exc.field, "detail": exc.detail}] if exc.field else None
        return problem_response(
            exc.status,
            exc.kind,
            exc.detail,
            instance=request.url.path,
            errors=errors,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path")),
                "detail": e["msg"],
            }
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['detail']}" for e in errors)
        return problem_response(
            422, "validation-error", detail, instance=request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(exc.status_code, kind, str(exc.detail), instance=request.url.path)

    # A store that cannot be reached is "try again later" on every route, never a bare 500.
    # Logged with the route's template: a path may hold a patient's id.
    @app.exception_handler(StoreUnavailable)
    async def _store_down(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("time-series store unavailable on %s: %s", _route(request), exc)
        return _unavailable(request, "the time-series store is unavailable; retry later")

    @app.exception_handler(RegistryUnavailable)
    async def _registry_down(request: Request, exc: RegistryUnavailable) -> JSONResponse:
        log.warning("registry unavailable on %s: %s", _route(request), exc)
        return _unavailable(request, "the registry is unavailable; retry later")

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            500, "internal-error", "the hub failed; this is logged", instance=request.url.path
        )


def _route(request: Request) -> str:
    """The matched route's template (``/v1/patients/{patient_id}/readings``), not the path."""
    return str(getattr(request.scope.get("route"), "path", "an unmatched path"))


def _unavailable(request: Request, detail: str) -> JSONResponse:
    return problem_response(
        503,
        "unavailable",
        detail,
        instance=request.url.path,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )
