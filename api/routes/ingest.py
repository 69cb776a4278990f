"""``POST /v1/ingest``: readings pushed by remote-monitoring providers over HTTPS.

A JSON batch (``application/json``) or a FHIR R4 transaction Bundle of Observations
(``application/fhir+json``), see ``hub/core/provider.py``. The answer comes only after the durable
commit. Partial acceptance: every valid item is stored; each invalid one is reported with its
index and reason (and kept as a dead letter) — one bad value never rejects the batch.

Providers use the ``device_maker`` role and may push only for devices registered to them.
``Idempotency-Key`` (any 1-255 visible characters) makes a retry safe: the same key with the
same body replays the first answer; with another body it is refused (409).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.auth import CurrentPrincipal, require_role
from api.deps import Context, HubContext
from api.errors import Problem
from api.ratelimit import TokenBuckets
from device_profiles.errors import DecodeError
from device_profiles.measurement import Measurement
from hub.adapters.tokens import Principal, Role
from hub.core.batch import BatchReport, Incoming, IngestUnavailable, ItemFate
from hub.core.decoding import Decoded
from hub.core.model import Source
from hub.core.provider import ProviderBatch, parse_fhir_bundle, parse_json_batch
from hub.core.wire import ItemError, WireError

router = APIRouter(prefix="/v1", tags=["ingest"])

_PARSERS = {"application/json": parse_json_batch, "application/fhir+json": parse_fhir_bundle}


def _buckets(context: HubContext) -> TokenBuckets:
    if context.ingest_buckets is None:
        api = context.settings.api
        context.ingest_buckets = TokenBuckets(api.ingest_rate_per_s, api.ingest_burst)
    return context.ingest_buckets


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "payload-too-large", f"the body exceeds {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "payload-too-large", f"the body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _decoded(context: HubContext, principal: Principal, batch: ProviderBatch) -> list[Decoded]:
    """Group the items by device; items for devices not registered to this provider fail."""
    by_device: dict[str, list[tuple[int | None, Measurement]]] = defaultdict(list)
    errors: list[ItemError] = list(batch.errors)
    profiles: dict[str, str] = {}  # this provider's devices seen in the batch -> their model
    refused: set[str] = set()
    for item in batch.items:
        device = item.device_id
        if device not in profiles and device not in refused:
            row = context.registry.device(device)
            if row is not None and row["maker"] == principal.subject:
                profiles[device] = row["profile"]
            else:
                refused.add(device)
        if device in refused:
            errors.append(
                ItemError(
                    item.index,
                    DecodeError(
                        f"device {device} is not registered to you (POST /v1/devices)",
                        field="device_id",
                    ),
                )
            )
            continue
        by_device[device].append((item.index, item.measurement))
    decoder = context.ingestor.decoder
    decoded = [
        Decoded(
            device,
            items,
            [],
            Source.PROVIDER,
            decoder.policy_for(profiles[device]),
            provider_id=principal.subject,
        )
        for device, items in by_device.items()
    ]
    if errors:
        decoded.append(
            Decoded(
                "", [], errors, Source.PROVIDER, decoder.base_policy, provider_id=principal.subject
            )
        )
    return decoded


def _summary(report: BatchReport) -> dict[str, Any]:
    counts = {"accepted": 0, "quarantined": 0, "refused": 0}
    rejected = []
    for item in report.items:
        if item.fate is ItemFate.REJECTED:
            rejected.append({"index": item.index, "reason": item.reason, "field": item.field})
        else:
            counts[item.fate.value] += 1
    return {
        **counts,
        "stored": report.stored,
        "duplicates": report.duplicates,
        "rejected": sorted(rejected, key=lambda r: (r["index"] is None, r["index"] or 0)),
    }


@router.post("/ingest", responses={200: {"description": "per-item outcome"}})
async def ingest(request: Request, principal: CurrentPrincipal, context: Context) -> JSONResponse:
    """Store a provider's batch of readings; see the module documentation."""
    require_role(principal, Role.DEVICE_MAKER)
    wait = _buckets(context).take(principal.subject, time.monotonic())
    if wait:
        raise Problem(
            429,
            "rate-limited",
            f"too many requests: retry in {wait:.1f}s",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    body = await _body(request, context.settings.api.max_ingest_bytes)
    key = request.headers.get("idempotency-key")
    digest = hashlib.sha256(body).hexdigest()
    if key is not None:
        if not 1 <= len(key) <= 255 or not key.isprintable():
            raise Problem(
                400,
                "invalid-idempotency-key",
                "1-255 printable characters",
                field="Idempotency-Key",
            )
        stored = await run_in_threadpool(
            context.registry.idempotent_response, principal.subject, key
        )
        if stored is not None:
            request_hash, status_code, response = stored
            if request_hash != digest:
                raise Problem(
                    409,
                    "idempotency-key-reused",
                    "this Idempotency-Key was used with another body",
                    field="Idempotency-Key",
                )
            return JSONResponse(
                json.loads(response),
                status_code=status_code,
                headers={"Idempotent-Replayed": "true"},
            )
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    parser = _PARSERS.get(media_type)
    if parser is None:
        raise Problem(
            415, "unsupported-media-type", f"send {' or '.join(_PARSERS)}", field="Content-Type"
        )
    try:
        batch = parser(body, max_bytes=context.settings.api.max_ingest_bytes)
    except WireError as err:
        raise Problem(422, "invalid-document", err.reason, field=err.field) from err
    message = Incoming(
        topic="/v1/ingest", payload=body, receive_time=context.clock(), source=Source.PROVIDER
    )
    try:
        report = await run_in_threadpool(
            lambda: context.ingestor.ingest_decoded(message, _decoded(context, principal, batch))
        )
    except IngestUnavailable as err:
        raise Problem(
            503,
            "store-unavailable",
            "the store is unavailable; nothing was stored: retry with the same Idempotency-Key",
            headers={"Retry-After": "5"},
        ) from err
    summary = _summary(report)
    if key is not None:
        await run_in_threadpool(
            lambda: context.registry.save_idempotent_response(
                principal.subject,
                key,
                request_hash=digest,
                status=200,
                response=json.dumps(summary),
                now=context.clock(),
            )
        )
    return JSONResponse(summary)
