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
from dataclasses import dataclass, field, replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from device_profiles.catalog import Catalog, load_catalog
from device_profiles.errors import DecodeError
from hub.adapters.registry import DeadLetter, Registry, RegistryError, RegistryUnavailable
from hub.adapters.registry.audit import AuditEvent
from hub.adapters.store.base import (
    ReadingStore,
    StoreError,
    StoreRejected,
    StoreUnavailable,
    open_store,
    validate_for_store,
)
from hub.config import Settings
from hub.core.batch import BatchReport, Incoming, IngestUnavailable, ItemFate, ItemOutcome
from hub.core.decoding import Decoded, MessageDecoder
from hub.core.model import Reading
from hub.core.pipeline import (
    Accepted,
    Enrollment,
    Policy,
    Quarantined,
    Rejected,
    RejectKind,
    patient_at,
    process_upload,
)
from hub.core.timekeeping import TimePolicy
from hub.core.wire import TopicKind, parse_topic

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Plan:
    accepted: list[Reading] = field(default_factory=list)
    quarantined: list[tuple[Reading, str]] = field(default_factory=list)
    gateway_acks: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)
    refused: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    audits: list[AuditEvent] = field(default_factory=list)
    items: list[ItemOutcome] = field(default_factory=list)


def _dead_letter(
    message: Incoming,
    parties: tuple[str | None, str | None],
    index: int | None,
    kind: RejectKind,
    reason: str,
    field_name: str | None,
    raw: bytes | None = None,
) -> DeadLetter:
    """A dead letter of ``message`` (or of its item ``index``, whose own bytes are ``raw``):
    ``parties`` = (who sent it, the device it belongs to), as far as they are known."""
    sender, device = parties
    return DeadLetter(
        received_time=message.receive_time,
        source=message.source.value,
        topic=message.topic,
        sender_id=sender,
        item_index=index,
        kind=kind.value,
        reason=reason,
        field=field_name,
        payload=message.payload if raw is None else raw,
        device_id=device,
    )


def _message_parties(message: Incoming) -> tuple[str | None, str | None]:
    """(sender, device) from a message's topic alone: a device topic names both; a gateway's
    frames name the gateway (the device is inside the payload)."""
    try:
        topic = parse_topic(message.topic)
    except DecodeError:
        return None, None
    device = topic.sender_id if topic.kind in _DEVICE_TOPICS else None
    return topic.sender_id, device


def _parties(decoded: Decoded) -> tuple[str | None, str | None]:
    sender = decoded.gateway_id or decoded.provider_id or decoded.device_id or None
    return sender, decoded.device_id or None


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
                result = self.decoder.decode(
                    parse_topic(message.topic), message.payload, message.receive_time
                )
            except DecodeError as err:
                plan.dead.append(
                    _dead_letter(
                        message,
                        _message_parties(message),
                        None,
                        RejectKind.MALFORMED,
                        err.reason,
                        err.field,
                    )
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
        enrollments = self.registry.enrollments.for_devices(d.device_id for _, d in decoded)
        decoded = self._paired_only(messages, decoded, enrollments, plan)
        accepted: list[tuple[int, int | None, Decoded, Reading]] = []
        for number, result in decoded:
            message = messages[number]
            for item in result.errors:
                plan.dead.append(
                    _dead_letter(
                        message,
                        _parties(result),
                        item.index,
                        RejectKind.MALFORMED,
                        item.error.reason,
                        item.error.field,
                        item.raw,
                    )
                )
                plan.items.append(
                    ItemOutcome(
                        number, item.index, ItemFate.REJECTED, item.error.reason, item.error.field
                    )
                )
            outcomes = process_upload(
                [measurement for _, measurement in result.items],
                device_id=result.device_id,
                source=result.source,
                receive_time=message.receive_time,
                enrollments=enrollments[result.device_id],
                policy=result.policy,
                clock=result.clock,
                clocks=result.clocks,
                reference_time=result.reference_time,
            )
            for (index, _), outcome in zip(result.items, outcomes, strict=True):
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
                    plan.quarantined.append((outcome.reading, outcome.reason))
                    plan.items.append(
                        ItemOutcome(number, index, ItemFate.QUARANTINED, outcome.reason)
                    )
                else:
                    plan.dead.append(_rejected(message, result, index, outcome))
                    plan.items.append(
                        ItemOutcome(number, index, ItemFate.REJECTED, outcome.reason, outcome.field)
                    )
        accepted = self._check_subjects(messages, accepted, plan)
        # Consent: a source the patient objected to feeds nothing; the refusal is audited.
        objections = self.registry.consent.active_objections(r.patient_id for *_, r in accepted)
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

    def _paired_only(
        self,
        messages: Sequence[Incoming],
        decoded: list[tuple[int, Decoded]],
        enrollments: dict[str, list[Enrollment]],
        plan: _Plan,
    ) -> list[tuple[int, Decoded]]:
        """Gateway frames count only for a device paired with that gateway: the rest is refused
        whole (dead letter ``not-paired``, audited in the trail of the device's patient)."""
        gateways = {d.gateway_id for _, d in decoded if d.gateway_id is not None}
        if not gateways:
            return decoded
        pairings = self.registry.gateways.pairings(gateways)
        kept = []
        for number, result in decoded:
            gateway = result.gateway_id
            message = messages[number]
            if gateway is None:
                kept.append((number, result))
                continue
            pairing = pairings.get(gateway)
            if pairing is not None and pairing.may_speak_for(
                result.device_id, message.receive_time
            ):
                kept.append((number, result))
                continue
            reason = (
                f"gateway {gateway} is not registered"
                if pairing is None
                else f"gateway {gateway} is not paired with device {result.device_id}"
            )
            plan.dead.append(
                _dead_letter(
                    message, _parties(result), None, RejectKind.NOT_PAIRED, reason, "device.id"
                )
            )
            plan.items.append(ItemOutcome(number, None, ItemFate.REJECTED, reason, "device.id"))
            patient = patient_at(enrollments.get(result.device_id, []), message.receive_time)
            plan.audits.append(
                AuditEvent(
                    at=message.receive_time,
                    actor=gateway,
                    role="source:gateway",
                    action="ingest.refused-unpaired-gateway",
                    patient_id=patient,
                    outcome="refused",
                    detail=f"frames for device {result.device_id}",
                )
            )
        return kept

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
                    result,
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
        """Parse, decide and durably commit a batch; raise :class:`IngestUnavailable` only when
        a store is unavailable (retry the whole batch later).

        Any other failure may come from one message (a poison message): the batch is cut in
        halves, each committed on its own, down to the one message that fails alone — that
        one is dead-lettered (``hub-error``) and the stream moves on. A failure that repeats
        on the same input therefore never stalls ingestion. Before cutting, the stores are
        asked whether they answer: if not, the failure is theirs (IngestUnavailable).
        """
        try:
            return self._ingest_once(messages)
        except IngestUnavailable:
            raise
        except Exception as err:
            self._check_available(err)
            if len(messages) <= 1:
                return self._poisoned(messages, err)
            middle = len(messages) // 2
            first = self.ingest(messages[:middle])
            second = self.ingest(messages[middle:])
            return _merged(first, second, offset=middle)

    def _ingest_once(self, messages: Sequence[Incoming]) -> BatchReport:
        plan = _Plan()
        try:
            self._decide(messages, self._decode(messages, plan), plan)
            return self._commit(messages, plan)
        except (StoreUnavailable, RegistryUnavailable) as err:
            raise IngestUnavailable(f"{type(err).__name__}: {err}") from err

    def _check_available(self, failure: Exception) -> None:
        """Raise IngestUnavailable if a store does not answer (the failure is not the input's)."""
        try:
            self.store.ping()
            self.registry.rejects.counts()
        except (StoreError, RegistryError) as err:
            raise IngestUnavailable(
                f"{type(failure).__name__} while a store fails: {type(err).__name__}: {err}"
            ) from failure

    def _poisoned(self, messages: Sequence[Incoming], err: Exception) -> BatchReport:
        """Keep a message the hub cannot ingest as a dead letter, so the stream moves on."""
        log.error(
            "a message made ingestion fail (%s); dead-lettered as hub-error",
            type(err).__name__,
            exc_info=err,
        )
        reason = f"the hub failed on this message ({type(err).__name__}); kept for inspection"
        dead = [
            _dead_letter(m, _message_parties(m), None, RejectKind.HUB_ERROR, reason, None)
            for m in messages
        ]
        try:
            self.registry.rejects.keep(dead, [])
        except RegistryError as failure:
            raise IngestUnavailable(f"{type(failure).__name__}: {failure}") from failure
        return BatchReport(
            messages=len(messages),
            dead_lettered=len(dead),
            dead_letter_kinds={RejectKind.HUB_ERROR.value: len(dead)},
            items=[
                ItemOutcome(number, None, ItemFate.REJECTED, reason)
                for number in range(len(messages))
            ],
        )

    def ingest_decoded(
        self, message: Incoming, decoded: Sequence[Decoded], *, atomic: bool = False
    ) -> BatchReport:
        """Decide and commit items already decoded by a transport (the provider push API).

        ``message`` is the request as received. ``atomic`` (a FHIR ``transaction``): if any
        item would not be accepted, nothing is committed — no reading, no dead letter, no
        quarantine; only the audit events of refusals — and the report says so (``committed``
        False, each item's fate).
        """
        plan = _Plan()
        try:
            self._decide([message], [(0, d) for d in decoded], plan)
            if atomic and any(item.fate is not ItemFate.ACCEPTED for item in plan.items):
                # Nothing of a refused transaction is kept — but who tried what to whom is:
                # the audit trail never under-reports (a subject mismatch names two patients).
                self.registry.rejects.keep([], [], _audits([message], plan))
                return BatchReport(messages=1, committed=False, items=plan.items)
            return self._commit([message], plan)
        except (StoreUnavailable, RegistryUnavailable) as err:
            raise IngestUnavailable(f"{type(err).__name__}: {err}") from err
        except Exception as err:  # the input made the hub fail: keep it, answer for it
            self._check_available(err)
            return self._poisoned([message], err)

    def _commit(self, messages: Sequence[Incoming], plan: _Plan) -> BatchReport:
        audits = _audits(messages, plan)
        # Refusals first: once the readings are committed, everything is.
        self.registry.rejects.keep(plan.dead, plan.quarantined, audits)
        result = self.store.write_batch(plan.accepted, prevalidated=True)  # in _decide
        for dead in plan.dead:
            _log_dead_letter(dead)
        return BatchReport(
            messages=len(messages),
            stored=result.written,
            duplicates=result.duplicates,
            dead_lettered=len(plan.dead),
            quarantined=len(plan.quarantined),
            gateway_acks=plan.gateway_acks,
            dead_letter_kinds=dict(Counter(d.kind for d in plan.dead)),
            refused_by_consent=sum(plan.refused.values()),
            items=plan.items,
        )

    def close(self) -> None:
        self.store.close()
        self.registry.close()


_DEVICE_TOPICS = frozenset({TopicKind.DEVICE_READINGS, TopicKind.DEVICE_JSON})


def _merged(first: BatchReport, second: BatchReport, *, offset: int) -> BatchReport:
    """The report of a batch committed as two halves (``second`` starts at ``offset``)."""
    acks = {
        g: {d: list(s) for d, s in devices.items()} for g, devices in first.gateway_acks.items()
    }
    for gateway, devices in second.gateway_acks.items():
        for device, seqs in devices.items():
            acks.setdefault(gateway, {}).setdefault(device, []).extend(seqs)
    kinds = Counter(first.dead_letter_kinds) + Counter(second.dead_letter_kinds)
    return BatchReport(
        messages=first.messages + second.messages,
        stored=first.stored + second.stored,
        duplicates=first.duplicates + second.duplicates,
        dead_lettered=first.dead_lettered + second.dead_lettered,
        quarantined=first.quarantined + second.quarantined,
        dead_letter_kinds=dict(kinds),
        refused_by_consent=first.refused_by_consent + second.refused_by_consent,
        gateway_acks=acks,
        items=first.items + [replace(item, message=item.message + offset) for item in second.items],
    )


def _audits(messages: Sequence[Incoming], plan: _Plan) -> list[AuditEvent]:
    """The batch's audit events: consent refusals (one per patient and source) and the rest."""
    if not messages:
        return list(plan.audits)
    at = max(m.receive_time for m in messages)
    refusals = [
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
    ]
    return refusals + plan.audits


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
    message: Incoming, decoded: Decoded, index: int | None, outcome: Rejected
) -> DeadLetter:
    """The dead letter of one refused item: the item's own bytes when the transport has them."""
    raw = None if index is None else decoded.item_raws.get(index)
    return _dead_letter(
        message, _parties(decoded), index, outcome.kind, outcome.reason, outcome.field, raw
    )


def _log_dead_letter(dead: DeadLetter) -> None:
    # Reasons of value refusals quote the value: a reading stays out of info-level logs.
    reason = "value refused, see the dead letter" if dead.kind == "implausible" else dead.reason
    log.warning("dead letter %s (%s, field %s): %s", dead.id, dead.kind, dead.field, reason)


def policy_from(settings: Settings) -> Policy:
    time = settings.time
    return Policy(
        time=TimePolicy(
            tolerance=timedelta(seconds=time.clock_tolerance_s),
            earliest=time.earliest_device_time,
        ),
        zone=ZoneInfo(time.zone),
        zone_stated=False,
    )


def open_ingestor(settings: Settings) -> Ingestor:
    """An ingestor on the stores the settings name (the caller closes it)."""
    assert settings.registry.url is not None
    return Ingestor(
        open_store(settings),
        Registry(settings.registry.url, busy_timeout_s=settings.registry.sqlite_busy_timeout_s),
        policy_from(settings),
        max_payload_bytes=settings.max_payload_bytes,
    )
