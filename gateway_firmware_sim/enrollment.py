"""The simulated world registered with the hub: devices, gateways and their pairings, then
each device enrolled to its patient (and again to the next one when it changes hands).

:func:`enroll_world` says what to register; an :class:`Enroller` does it — :class:`ApiEnroller`
through the hub's API (``POST /v1/devices``, ``/v1/gateways``, ``/v1/enrollments``), as an
operator would; 409 on an enrollment means an earlier run on the same data did it already.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import httpx

from gateway_firmware_sim.timebase import DAY, utc
from gateway_firmware_sim.world import World

# The maker/provider account the simulated kits are registered under.
SIM_MAKER = "sim-maker"


class Enroller(Protocol):
    def enroll(self, device_id: str, patient_id: str, start: datetime) -> None: ...

    def register_gateway(self, gateway_id: str, devices: Sequence[tuple[str, str]]) -> None:
        """Register the gateway and its devices (id, catalog profile) and pair them."""
        ...


class ApiEnroller:
    """Enrollment through the hub's API with an admin bearer token."""

    def __init__(self, api_url: str, token: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.Client(
            base_url=api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def enroll(self, device_id: str, patient_id: str, start: datetime) -> None:
        body = {"device_id": device_id, "patient_id": patient_id, "start": start.isoformat()}
        response = self._http.post("/v1/enrollments", json=body)
        # 409: enrolled by an earlier run from the same start or later, which is what we want.
        if response.status_code not in (201, 409):
            raise RuntimeError(
                f"enrollment of {device_id} failed: {response.status_code} {response.text}"
            )

    def register_gateway(self, gateway_id: str, devices: Sequence[tuple[str, str]]) -> None:
        """Gateways speak only for devices they are paired with (docs/api.md, "Gateways")."""
        for device_id, profile in devices:
            body = {"device_id": device_id, "profile": profile, "maker": SIM_MAKER}
            self._check(self._http.post("/v1/devices", json=body), f"device {device_id}")
        body = {"gateway_id": gateway_id, "owner": SIM_MAKER}
        self._check(self._http.post("/v1/gateways", json=body), f"gateway {gateway_id}")
        for device_id, _ in devices:
            pairing = self._http.put(f"/v1/gateways/{gateway_id}/devices/{device_id}")
            self._check(pairing, f"pairing of {device_id} with {gateway_id}")

    @staticmethod
    def _check(response: httpx.Response, what: str) -> None:
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{what} failed: {response.status_code} {response.text}")

    def close(self) -> None:
        self._http.close()


def enroll_world(enroller: Enroller, world: World, profile_of: Callable[[str], str]) -> None:
    """Register every gateway with the BLE devices it will forward (``profile_of``: a device
    id's catalog profile), then enroll every device to its patient."""
    # A gateway is paired with every device it will forward: its own, the ones it
    # overhears, and the ones that move to it.
    forwards: dict[str, set[str]] = {
        gateway.gateway_id: set(gateway.listens_to) for gateway in world.gateways
    }
    for spec in world.devices:
        if spec.gateway_id is not None:
            forwards.setdefault(spec.gateway_id, set()).add(spec.device_id)
    for move in world.moves:
        forwards.setdefault(move.to_gateway, set()).add(move.device_id)
    for gateway_id, device_ids in sorted(forwards.items()):
        devices = [(device_id, profile_of(device_id)) for device_id in sorted(device_ids)]
        enroller.register_gateway(gateway_id, devices)
    # From the day before the replay: device clocks a little slow still fall inside.
    day = math.floor(world.start / DAY) * DAY - DAY
    start = utc(day)
    for spec in world.devices:
        enroller.enroll(spec.device_id, spec.patient_id, start)
    for move in world.moves:
        enroller.enroll(move.device_id, move.to_patient, utc(move.at))
