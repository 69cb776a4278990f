"""``POST /v1/ingest``: readings pushed by remote-monitoring providers over HTTPS.

Two documents (``Content-Type``):

* ``application/json`` — the hub's batch ``{"readings": [...]}`` (``hub/core/provider.py``);
  every valid item is stored, each invalid one reported with its index and reason (and kept as
  a dead letter): one bad value never rejects the batch. Answer: a per-item summary.
* ``application/fhir+json`` — a FHIR R4 ``Bundle`` (HL7 PHD IG / ANS *Mesures de santé*,
  ``hub/core/fhir/inbound.py``; docs/fhir.md). R4 http.html "Batches and transactions": a
  ``batch`` is processed entry by entry and answered with a ``batch-response`` Bundle (one
  entry per request entry, its ``response.status`` and an OperationOutcome for what failed or
  what the hub did with it); a ``transaction`` is all-or-nothing — every entry stored, answered
  with a ``transaction-response``, or nothing at all stored, answered 422 with an
  OperationOutcome naming each failing entry. Errors of the request itself are
  OperationOutcomes too (``application/fhir+json``).

``Observation.subject`` naming a patient by INS is checked: the INS must be registered, and
the reading's attribution by enrollment must give that patient — a mismatch is refused and
audited in both patients' trails (``hub.services.ingest``). A PHD coincident time stamp
becomes the device's clock reading for the upload.

Providers use the ``device_maker`` role and may push only for devices registered to them.
``Idempotency-Key`` (any 1-255 visible characters) makes a retry safe: the same key with the
same body replays the first answer; with another body it is refused (409). A transaction that
stored nothing is not remembered: its retry is judged afresh.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.auth import CurrentPrincipal, require_role
from api.deps import Context, HubContext
from api.errors import Problem
from api.ratelimit import TokenBuckets
from device_profiles.errors import DecodeError
from hub.adapters.tokens import Principal, Role
from hub.core.batch import BatchReport, Incoming, IngestUnavailable, ItemFate, ItemOutcome
from hub.core.decoding import Decoded
from hub.core.fhir import outbound
from hub.core.fhir.inbound import FhirBatch, parse_fhir_bundle
from hub.core.model import Source
from hub.core.provider import ProviderBatch, ProviderItem, TooManyItems, parse_json_batch
from hub.core.timekeeping import ClockMethod, ClockReading
from hub.core.wire import ItemError, WireError

router = APIRouter(prefix="/v1", tags=["ingest"])

JSON_MEDIA = "application/json"
FHIR_MEDIA = "application/fhir+json"
_MEDIA = (JSON_MEDIA, FHIR_MEDIA)

# Problem kinds -> OperationOutcome issue type (R4 issue-type value set).
_ISSUE_TYPES = {
    "payload-too-large": "too-costly",
    "rate-limited": "throttled",
    "store-unavailable": "transient",
    "invalid-document": "structure",
    "unsupported-media-type": "not-supported",
    "forbidden": "forbidden",
    "idempotency-key-reused": "conflict",
    "invalid-idempotency-key": "value",
}
# An entry's outcome, worst first: (fate, HTTP status of the entry, issue severity, type).
_FATES = (
    (ItemFate.REJECTED, "422 Unprocessable Entity", "error", "invalid"),
    (ItemFate.REFUSED, "403 Forbidden", "error", "forbidden"),
    (ItemFate.QUARANTINED, "202 Accepted", "information", "informational"),
    (ItemFate.ACCEPTED, "201 Created", "information", "informational"),
)


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


class _Owners:
    """Which devices of the request are registered to this provider (one lookup each)."""

    def __init__(self, context: HubContext, principal: Principal) -> None:
        self.context = context
        self.principal = principal
        self.profiles: dict[str, str] = {}
        self.refused: set[str] = set()

    def owns(self, device: str) -> bool:
        if device not in self.profiles and device not in self.refused:
            row = self.context.registry.devices.get(device)
            if row is not None and row.maker == self.principal.subject:
                self.profiles[device] = row.profile
            else:
                self.refused.add(device)
        return device in self.profiles

    def decoded(
        self,
        device: str,
        items: Sequence[ProviderItem],
        *,
        expected_patient: str | None = None,
        clock: ClockReading | None = None,
    ) -> Decoded:
        return Decoded(
            device,
            [(item.index, item.measurement) for item in items],
            [],
            Source.PROVIDER,
            self.context.ingestor.decoder.policy_for(self.profiles[device]),
            provider_id=self.principal.subject,
            clock=clock,
            expected_patient=expected_patient,
            item_raws={item.index: item.raw for item in items},
        )

    def errors(self, errors: list[ItemError]) -> list[Decoded]:
        if not errors:
            return []
        decoder = self.context.ingestor.decoder
        return [
            Decoded(
                "",
                [],
                errors,
                Source.PROVIDER,
                decoder.base_policy,
                provider_id=self.principal.subject,
            )
        ]


def _not_yours(item: ProviderItem, field: str) -> ItemError:
    reason = f"device {item.device_id} is not registered to you (POST /v1/devices)"
    return ItemError(item.index, DecodeError(reason, field=field), item.raw)


def _json_decoded(owners: _Owners, batch: ProviderBatch, received: datetime) -> list[Decoded]:
    """Group the items by device; items for devices not registered to this provider fail.
    A device's clock, when the push gives it, corrects that device's readings."""
    by_device: dict[str, list[ProviderItem]] = defaultdict(list)
    errors: list[ItemError] = list(batch.errors)
    for item in batch.items:
        if owners.owns(item.device_id):
            by_device[item.device_id].append(item)
        else:
            errors.append(_not_yours(item, "device_id"))
    decoded = []
    for device, items in by_device.items():
        shown = batch.clocks.get(device)
        clock = (
            None
            if shown is None
            else ClockReading(
                shown.device_time,
                shown.device_time_raw,
                shown.read_at or received,
                ClockMethod.PROVIDER_READ,
            )
        )
        decoded.append(owners.decoded(device, items, clock=clock))
    return decoded + owners.errors(errors)


def _fhir_decoded(context: HubContext, owners: _Owners, batch: FhirBatch) -> list[Decoded]:
    """Group per (device, subject): the subject's INS resolved to the pseudonymous id."""
    groups: dict[tuple[str, str | None], list[ProviderItem]] = defaultdict(list)
    errors = {e.index: e for e in batch.errors if e.index is not None}
    patients: dict[str, str | None] = {}
    for item in batch.items:
        if item.index in errors:
            continue
        where = f"entry[{item.index}].resource"
        if not owners.owns(item.device_id):
            errors[item.index] = _not_yours(item, f"{where}.device")
            continue
        expected = None
        if item.subject_ins is not None:
            if item.subject_ins not in patients:
                patients[item.subject_ins] = context.registry.patients.id_by_ins(item.subject_ins)
            expected = patients[item.subject_ins]
            if expected is None:
                reason = "the subject's INS is not a patient of the hub (POST /v1/patients)"
                errors[item.index] = ItemError(
                    item.index, DecodeError(reason, field=f"{where}.subject"), item.raw
                )
                continue
        groups[(item.device_id, expected)].append(item)
    decoded: list[Decoded] = [
        owners.decoded(
            device,
            [i for i in items if i.index not in errors],
            expected_patient=pid,
            clock=batch.clocks.get(device),
        )
        for (device, pid), items in groups.items()
    ]
    return [d for d in decoded if d.items] + owners.errors(list(errors.values()))


# --- answers ------------------------------------------------------------------------------------


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


def _expression(outcome: ItemOutcome, items: Sequence[ProviderItem]) -> str | None:
    """The FHIRPath, into the request, of the element an outcome is about."""
    if outcome.index is None:
        return None
    field = outcome.field or ""
    if field.startswith("entry["):
        return f"Bundle.{field}"
    where = f"entry[{outcome.index}].resource"
    reason = outcome.reason or ""
    item = next((i for i in items if i.measurement.metric in reason), items[0] if items else None)
    path = item.path if item is not None and item.path else where
    tails = {
        "value": f"{path}.valueQuantity.value",
        "unit": f"{path}.valueQuantity.code",
        "metric": f"{path}.code",
        "subject": f"{where}.subject",
    }
    return f"Bundle.{tails.get(field, path)}"


def _issues(
    outcomes: Sequence[ItemOutcome], items: Sequence[ProviderItem], *, transaction: bool
) -> tuple[str, list[dict[str, Any]]]:
    """An entry's status and issues from its items' fates (the worst fate decides)."""
    for fate, status, severity, code in _FATES:
        chosen = [o for o in outcomes if o.fate is fate]
        if not chosen:
            continue
        if transaction and fate is ItemFate.QUARANTINED:
            severity, code = "error", "business-rule"
        issues = []
        for outcome in dict.fromkeys(chosen):
            kind = "business-rule" if outcome.field == "subject" else code
            text = outcome.reason or ("stored" if fate is ItemFate.ACCEPTED else fate.value)
            if fate is ItemFate.QUARANTINED:
                text = f"held in quarantine: {text}"
            if fate is not ItemFate.ACCEPTED:
                issues.append(outbound.issue(severity, kind, text, _expression(outcome, items)))
        stored = sum(o.fate is ItemFate.ACCEPTED for o in outcomes)
        if stored and fate is not ItemFate.ACCEPTED and not transaction:
            # A panel is several readings: say which part of the entry did go in.
            issues.append(
                outbound.issue(
                    "information", "informational", f"{stored} reading(s) of this entry stored"
                )
            )
        return status, issues
    return "200 OK", []


def _fhir_answer(
    batch: FhirBatch, report: BatchReport, timestamp: datetime
) -> tuple[int, dict[str, Any]]:
    by_entry: dict[int, list[ItemOutcome]] = defaultdict(list)
    for outcome in report.items:
        if outcome.index is not None:
            by_entry[outcome.index].append(outcome)
    items: dict[int, list[ProviderItem]] = defaultdict(list)
    for item in batch.items:
        items[item.index].append(item)
    transaction = batch.kind == "transaction"
    if not report.committed:
        issues = [
            outbound.issue(
                "error",
                "processing",
                "transaction refused: nothing was stored (a transaction is all-or-nothing)",
            )
        ]
        for number in range(batch.entry_count):
            _, entry_issues = _issues(by_entry[number], items[number], transaction=True)
            issues += [i for i in entry_issues if i["severity"] == "error"]
        return 422, outbound.operation_outcome(issues)
    entries = []
    for number in range(batch.entry_count):
        status, issues = _issues(by_entry[number], items[number], transaction=transaction)
        if status == "201 Created" and report.stored == 0:
            status = "200 OK"  # everything already held: the conditional create found it
        if number in batch.duplicate_of:
            status = "200 OK"
        issues += [
            outbound.issue("information", "informational", n) for n in batch.notes.get(number, [])
        ]
        device = batch.devices.get(number)
        # The Device's logical id here, for the PHG's later uploads (when it is a valid id).
        named = device is not None and outbound.fhir_id(device, "dev-") == device
        location = outbound.device_ref(device) if device and named else None
        entries.append(outbound.response_entry(status, issues, location))
    return 200, outbound.response_bundle(batch.kind, entries, timestamp=timestamp)


def _problem_outcome(problem: Problem) -> JSONResponse:
    issue = outbound.issue(
        "error",
        _ISSUE_TYPES.get(problem.kind, "processing"),
        problem.detail,
        problem.field,
    )
    return JSONResponse(
        outbound.operation_outcome([issue]),
        status_code=problem.status,
        media_type=FHIR_MEDIA,
        headers=problem.headers,
    )


# --- the route -----------------------------------------------------------------------------------


@router.post("/ingest", responses={200: {"description": "per-item outcome"}})
async def ingest(request: Request, principal: CurrentPrincipal, context: Context) -> JSONResponse:
    """Store a provider's batch of readings; see the module documentation."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        return await _ingest(request, principal, context, media_type)
    except Problem as problem:
        if media_type != FHIR_MEDIA:
            raise
        return _problem_outcome(problem)


async def _ingest(
    request: Request, principal: Principal, context: HubContext, media_type: str
) -> JSONResponse:
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
    answer_media = FHIR_MEDIA if media_type == FHIR_MEDIA else JSON_MEDIA
    if key is not None:
        if not 1 <= len(key) <= 255 or not key.isprintable():
            raise Problem(
                400,
                "invalid-idempotency-key",
                "1-255 printable characters",
                field="Idempotency-Key",
            )
        stored = await run_in_threadpool(
            context.registry.idempotency.response, principal.subject, key
        )
        if stored is not None:
            if stored.request_hash != digest:
                raise Problem(
                    409,
                    "idempotency-key-reused",
                    "this Idempotency-Key was used with another body",
                    field="Idempotency-Key",
                )
            return JSONResponse(
                json.loads(stored.body),
                status_code=stored.status,
                media_type=answer_media,
                headers={"Idempotent-Replayed": "true"},
            )
    if media_type not in _MEDIA:
        raise Problem(
            415, "unsupported-media-type", f"send {' or '.join(_MEDIA)}", field="Content-Type"
        )
    limit = context.settings.api.max_ingest_bytes
    owners = _Owners(context, principal)
    message = Incoming(
        topic="/v1/ingest", payload=body, receive_time=context.clock(), source=Source.PROVIDER
    )
    try:
        parsed: FhirBatch | ProviderBatch = (
            parse_fhir_bundle(body, max_bytes=limit)
            if media_type == FHIR_MEDIA
            else parse_json_batch(body, max_bytes=limit)
        )
    except TooManyItems as err:
        raise Problem(413, "payload-too-large", err.reason) from err
    except WireError as err:
        raise Problem(422, "invalid-document", err.reason, field=err.field) from err
    if isinstance(parsed, FhirBatch):
        plan = partial(_fhir_decoded, context, owners, parsed)
    else:
        plan = partial(_json_decoded, owners, parsed, message.receive_time)
    atomic = isinstance(parsed, FhirBatch) and parsed.kind == "transaction"
    try:
        report = await run_in_threadpool(
            lambda: context.ingestor.ingest_decoded(message, plan(), atomic=atomic)
        )
    except IngestUnavailable as err:
        raise Problem(
            503,
            "store-unavailable",
            "the store is unavailable; nothing was stored: retry with the same Idempotency-Key",
            headers={"Retry-After": "5"},
        ) from err
    if isinstance(parsed, FhirBatch):
        status, answer = _fhir_answer(parsed, report, context.clock())
    else:
        status, answer = 200, _summary(report)
    if key is not None and report.committed:
        await run_in_threadpool(
            lambda: context.registry.idempotency.save(
                principal.subject,
                key,
                request_hash=digest,
                status=status,
                response=json.dumps(answer),
                now=context.clock(),
            )
        )
    return JSONResponse(answer, status_code=status, media_type=answer_media)
