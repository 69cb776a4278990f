"""Re-attribution: after an enrollment is corrected, every reading of the device goes to the
patient who held the device at that reading's time.

Attribution is the pure rule of ``hub.core.pipeline.attribute`` (the enrollment covering the
reading's effective time; the receive time when that time cannot be trusted). This service
applies it again to everything the hub holds for one device — stored readings and readings
in quarantine — after the device's enrollments changed:

* a stored reading now attributed to another patient moves to that patient;
* a stored reading no enrollment covers any more goes back to quarantine (kept, never lost);
* a quarantined reading an enrollment now covers is stored for its patient.

Order makes it safe to stop at any point and run again (it converges, it never loses nor
doubles a reading): quarantine is written before a reading leaves the store, and a reading is
stored before it leaves quarantine; every step is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hub.adapters.registry import Registry
from hub.adapters.store import ReadingStore
from hub.adapters.store.base import MAX_TIME, MIN_TIME
from hub.core.model import Reading
from hub.core.pipeline import attribute

UNCOVERED = "no enrollment of this device covers the reading's time (enrollment corrected)"


@dataclass(frozen=True, slots=True)
class Reattribution:
    """What a re-attribution changed, and which patients it touched."""

    moved: int = 0
    to_quarantine: int = 0
    from_quarantine: int = 0
    patients: frozenset[str] = frozenset()


def reattribute_device(store: ReadingStore, registry: Registry, device_id: str) -> Reattribution:
    """Attribute every reading of ``device_id`` afresh from its current enrollments."""
    enrollments = registry.enrollments.for_devices([device_id])[device_id]
    stored = store.device_readings(device_id, MIN_TIME, MAX_TIME)
    moves: list[tuple[Reading, str]] = []
    uncovered: list[Reading] = []
    for reading in stored:
        attributed = attribute(reading, enrollments)
        if attributed is None:
            uncovered.append(reading)
        elif attributed.patient_id != reading.patient_id:
            moves.append((reading, attributed.patient_id))
    quarantined = registry.rejects.quarantined(device_id)
    released = [r for r in (attribute(q, enrollments) for q in quarantined) if r is not None]

    if uncovered:  # into quarantine first, then out of the store
        registry.rejects.keep([], [(replace(r, patient_id=""), UNCOVERED) for r in uncovered])
        store.delete_readings(uncovered)
    if moves:
        store.reassign(moves)
    if released:  # into the store first, then out of quarantine
        store.write_batch(released)
        registry.rejects.release([r.reading_id for r in released])
    patients = {r.patient_id for r in uncovered}
    patients |= {r.patient_id for r, _ in moves} | {p for _, p in moves}
    patients |= {r.patient_id for r in released}
    return Reattribution(len(moves), len(uncovered), len(released), frozenset(patients))
