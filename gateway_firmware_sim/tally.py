"""The end-of-run accounting: what the devices generated and lost, what the uplinks sent, had
acknowledged and still hold, device by device (docs/simulator.md, "Exactly once")."""

from __future__ import annotations

from gateway_firmware_sim.population import Population
from gateway_firmware_sim.report import DeviceSummary, Summary
from gateway_firmware_sim.stations import Stations
from gateway_firmware_sim.world import World


def tally(summary: Summary, world: World, population: Population, stations: Stations) -> None:
    """Fill ``summary`` (its span, wall time and injected faults are the fleet's own)."""
    summary.patients = len(world.patients)
    summary.gateways = len(world.gateways)
    summary.ble_devices = len(population.ble)
    summary.mqtt_devices = len(population.native)
    summary.readings = population.readings_delivered()
    summary.lost = population.readings_lost()
    totals = stations.totals()
    summary.messages = totals.messages
    summary.sent = totals.sent
    summary.acked = totals.acked
    summary.duplicates = totals.duplicates
    summary.garbage = totals.garbage
    summary.resent = totals.resent
    summary.reconnects = totals.reconnects
    summary.outstanding = stations.outstanding()
    summary.items = summary.acked + summary.outstanding
    summary.faults = list(world.notes)
    for spec in world.devices:
        device = population.device(spec)
        seqs = device.stats.seqs
        summary.devices[spec.device_id] = DeviceSummary(
            patient_id=spec.patient_id,
            kind=spec.kind,
            transport="ble" if spec.ble else "mqtt",
            gateway_id=spec.gateway_id,
            readings=device.stats.readings_delivered,
            lost=device.stats.readings_lost,
            seqs=[min(seqs), max(seqs)] if seqs else None,
            seq_count=len(seqs),
        )
