"""Batches in, durable commits out: the transport-independent heart of ingestion.

A transport (the MQTT bridge, the provider push API) hands over a batch of raw messages; the
:class:`Ingestor` parses them (``hub.core.wire``), runs the pure pipeline (``hub.core.pipeline``),
keeps every refusal as a dead letter and every unattributable reading in quarantine (registry),
then writes the accepted readings to the time-series store. When :meth:`Ingestor.ingest`
returns, everything in the batch is durable and the transport may acknowledge it; when it
raises :class:`IngestUnavailable`, nothing may be acknowledged and the batch is retried whole
(every write is idempotent, so a retried batch stores nothing twice).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from device_profiles.catalog import Catalog, load_catalog
from device_profiles.errors import DecodeError
from hub.adapters.registry.repo import AuditEvent, DeadLetter, Registry
from hub.adapters.store.base import (
    ReadingStore,
    StoreError,
    StoreRejected,
    open_store,
    validate_for_store,
)
from hub.config import Settings
from hub.core.batch import BatchReport, Incoming, IngestUnavailable, ItemFate, ItemOutcome
from hub.core.decoding import Decoded, MessageDecoder
from hub.core.model import Reading
from hub.core.pipeline import (
    Accepted,
    Policy,
    Quarantined,
    Rejected,
    RejectKind,
    attribute,
    process_measurement,
)
from hub.core.wire import parse_topic

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Plan:
    accepted: list[Reading] = field(default_factory=list)
    held: list[tuple[Reading, str]] = field(default_factory=list)
    gateway_acks: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)
    refused: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    audits: list[AuditEvent] = field(default_factory=list)
    items: list[ItemOutcome] = field(default_factory=list)


def _dead_letter(
    message: Incoming,
    sender: str | None,
    index: int | None,
    kind: RejectKind,
    reason: str,
    field_name: str | None,
) -> DeadLetter:
    return DeadLetter(
        received_time=message.receive_time,
        source=message.source.value,
        topic=message.topic,
        sender_id=sender,
        item_index=index,
        kind=kind.value,
        reason=reason,
        field=field_name,
        payload=message.payload,
    )


class Ingestor:
    def __init__(
        self,
        store: ReadingStore,
        registry: Registry,
        policy: Policy,
        *,
        max_payload_bytes: int = 256 * 1024,
        catalog: Catalog | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.decoder = MessageDecoder(
            catalog if catalog is not None else load_catalog(),
            policy,
            max_payload_bytes=max_payload_bytes,
        )

    def _decode(self, messages: Sequence[Incoming], plan: _Plan) -> list[tuple[int, Decoded]]:
        decoded: list[tuple[int, Decoded]] = []
        for number, message in enumerate(messages):
            try:
                result = self.decoder.decode(parse_topic(message.topic), message.payload)
            except DecodeError as err:
                plan.dead.append(
                    _dead_letter(message, None, None, RejectKind.MALFORMED, err.reason, err.field)
                )
                plan.items.append(
                    ItemOutcome(number, None, ItemFate.REJECTED, err.reason, err.field)
                )
                continue
            decoded.append((number, result))
            if result.frame_seqs:
                gateway = plan.gateway_acks.setdefault(parse_topic(message.topic).sender_id, {})
                gateway.setdefault(result.device_id, []).extend(result.frame_seqs)
        return decoded

    def _decide(
        self, messages: Sequence[Incoming], decoded: list[tuple[int, Decoded]], plan: _Plan
    ) -> None:
        enrollments = self.registry.enrollments_for(d.device_id for _, d in decoded)
        accepted: list[tuple[int, int | None, Decoded, Reading]] = []
        for number, result in decoded:
            message = messages[number]
            for item in result.errors:
                plan.dead.append(
                    _dead_letter(
                        message,
                        result.device_id,
                        item.index,
                        RejectKind.MALFORMED,
                        item.error.reason,
                        item.error.field,
                    )
                )
                plan.items.append(
                    ItemOutcome(
                        number, item.index, ItemFate.REJECTED, item.error.reason, item.error.field
                    )
                )
            for index, measurement in result.items:
                outcome = process_measurement(
                    measurement,
                    device_id=result.device_id,
                    source=result.source,
                    receive_time=message.receive_time,
                    enrollments=enrollments[result.device_id],
                    policy=result.policy,
                )
                if isinstance(outcome, Accepted):
                    try:
                        # Refused by the store's own rules: that reading alone is dead-lettered;
                        # it must never hold back (or endlessly retry) the rest of the batch.
                        validate_for_store(outcome.reading)
                    except StoreRejected as err:
                        outcome = Rejected(RejectKind.STORE_REFUSED, str(err))
                    else:
                        accepted.append((number, index, result, outcome.reading))
                        continue
                if isinstance(outcome, Quarantined):
                    plan.held.append((outcome.reading, outcome.reason))
                    plan.items.append(
                        ItemOutcome(number, index, ItemFate.QUARANTINED, outcome.reason)
                    )
                else:
                    plan.dead.append(_rejected(message, result.device_id, index, outcome))
                    plan.items.append(
                        ItemOutcome(number, index, ItemFate.REJECTED, outcome.reason, outcome.field)
                    )
        accepted = self._check_subjects(messages, accepted, plan)
        # Consent: a source the patient objected to feeds nothing; the refusal is audited.
        objections = self.registry.active_objections(r.patient_id for *_, r in accepted)
        for number, index, result, reading in accepted:
            source = _objected_source(reading, result, objections)
            if source is None:
                plan.accepted.append(reading)
                plan.items.append(ItemOutcome(number, index, ItemFate.ACCEPTED))
            else:
                plan.refused[(reading.patient_id, *source)] += 1
                plan.items.append(
                    ItemOutcome(
                        number, index, ItemFate.REFUSED, "the patient objects to this source"
                    )
                )

    def _check_subjects(
        self,
        messages: Sequence[Incoming],
        accepted: list[tuple[int, int | None, Decoded, Reading]],
        plan: _Plan,
    ) -> list[tuple[int, int | None, Decoded, Reading]]:
        """Items that name their patient (a FHIR ``Observation.subject``) must be attributed
        to that patient; a mismatch is refused and audited in both patients' trails."""
        kept = []
        for number, index, result, reading in accepted:
            expected = result.expected_patient
            if expected is None or expected == reading.patient_id:
                kept.append((number, index, result, reading))
                continue
            reason = (
                "the reading's subject is not the patient this device is enrolled to at the "
                "reading's time"
            )
            plan.dead.append(
                _rejected(
                    messages[number],
                    result.device_id,
                    index,
                    Rejected(RejectKind.SUBJECT_MISMATCH, reason, "subject"),
                )
            )
            plan.items.append(ItemOutcome(number, index, ItemFate.REJECTED, reason, "subject"))
            actor = result.provider_id or result.device_id
            for patient in (expected, reading.patient_id):
                plan.audits.append(
                    AuditEvent(
                        at=messages[number].receive_time,
                        actor=actor,
                        role=f"source:{'provider' if result.provider_id else 'device'}",
                        action="ingest.subject-mismatch",
                        patient_id=patient,
                        outcome="refused",
                        detail=f"device {result.device_id}",
                    )
                )
        return kept

    def ingest(self, messages: Sequence[Incoming]) -> BatchReport:
        """Parse, decide and durably commit a batch. Raises :class:`IngestUnavailable`."""
        plan = _Plan()
        try:
            self._decide(messages, self._decode(messages, plan), plan)
            return self._commit(messages, plan)
        except (StoreError, SQLAlchemyError) as err:
            raise IngestUnavailable(f"{type(err).__name__}: {err}") from err

    def ingest_decoded(
        self, message: Incoming, decoded: Sequence[Decoded], *, atomic: bool = False
    ) -> BatchReport:
        """Decide and commit items already decoded by a transport (the provider push API).

        ``message`` is the request as received. ``atomic`` (a FHIR ``transaction``): if any
        item would not be accepted, nothing at all is committed — no reading, no dead letter,
        no quarantine — and the report says so (``committed`` False, each item's fate).
        """
        plan = _Plan()
        try:
            self._decide([message], [(0, d) for d in decoded], plan)
            if atomic and any(item.fate is not ItemFate.ACCEPTED for item in plan.items):
                return BatchReport(messages=1, committed=False, items=plan.items)
            return self._commit([message], plan)
        except (StoreError, SQLAlchemyError) as err:
            raise IngestUnavailable(f"{type(err).__name__}: {err}") from err

    def _commit(self, messages: Sequence[Incoming], plan: _Plan) -> BatchReport:
        at = max(m.receive_time for m in messages) if messages else None
        audits = [
            AuditEvent(
                at=at,
                actor=source_id,
                role=f"source:{kind}",
                action="ingest.refused-by-consent",
                patient_id=patient_id,
                outcome="refused",
                detail=f"{count} reading(s) from {kind} {source_id}",
            )
            for (patient_id, kind, source_id), count in plan.refused.items()
            if at is not None
        ] + plan.audits
        # Refusals first: once the readings are committed, everything is.
        self.registry.keep_rejects(plan.dead, plan.held, audits)
        result = self.store.write_batch(plan.accepted)
        for dead in plan.dead:
            _log_dead_letter(dead)
        return BatchReport(
            messages=len(messages),
            stored=result.written,
            duplicates=result.duplicates,
            dead_lettered=len(plan.dead),
            quarantined=len(plan.held),
            gateway_acks=plan.gateway_acks,
            dead_letter_kinds=dict(Counter(d.kind for d in plan.dead)),
            refused_by_consent=sum(plan.refused.values()),
            items=plan.items,
        )

    def close(self) -> None:
        self.store.close()
        self.registry.close()

    def release_quarantine(self, device_id: str) -> int:
        """Attribute and store the device's quarantined readings that an enrollment covers."""
        held = self.registry.quarantined(device_id)
        enrollments = self.registry.enrollments_for([device_id])[device_id]
        released = [r for r in (attribute(h, enrollments) for h in held) if r is not None]
        self.store.write_batch(released)  # durable first, then leave quarantine
        self.registry.release_quarantined([r.reading_id for r in released])
        return len(released)


def _objected_source(
    reading: Reading, decoded: Decoded, objections: set[tuple[str, str, str]]
) -> tuple[str, str] | None:
    """The (kind, id) of the first source of ``reading`` its patient objects to, if any."""
    sources = [("device", reading.device_id)]
    if decoded.provider_id is not None:
        sources.append(("provider", decoded.provider_id))
    for kind, source_id in sources:
        if (reading.patient_id, kind, source_id) in objections:
            return kind, source_id
    return None


def _rejected(
    message: Incoming, device_id: str, index: int | None, outcome: Rejected
) -> DeadLetter:
    return _dead_letter(message, device_id, index, outcome.kind, outcome.reason, outcome.field)


def _log_dead_letter(dead: DeadLetter) -> None:
    # Reasons of value refusals quote the value: a reading stays out of info-level logs.
    reason = "value refused, see the dead letter" if dead.kind == "implausible" else dead.reason
    log.warning("dead letter %s (%s, field %s): %s", dead.id, dead.kind, dead.field, reason)


def policy_from(settings: Settings) -> Policy:
    return Policy(max_clock_skew=timedelta(seconds=settings.max_clock_skew_s))


def open_ingestor(settings: Settings) -> Ingestor:
    """An ingestor on the stores the settings name (the caller closes it)."""
    assert settings.registry.url is not None
    return Ingestor(
        open_store(settings),
        Registry(settings.registry.url),
        policy_from(settings),
        max_payload_bytes=settings.max_payload_bytes,
    )
