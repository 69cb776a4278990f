"""Gateway statuses as the bridge records them: the registry's row, and totals as metrics.

Each gateway keeps a retained status on ``hs/v1/gateways/{id}/status`` (docs/wire.md,
"Gateway status"): ``online`` with its details when it connects and every minute or so,
``offline`` when it stops or as its last will. The bridge subscribes to all of them (never
through a shared group: retained messages are not delivered to shared subscriptions) and hands
each one here, on its batch worker thread, before acknowledging it:

* a status that is not valid is counted (``malformed``), logged and acknowledged — a retained
  message would otherwise come back forever;
* the valid ones of a batch are recorded in the registry in one transaction
  (``registry.gateways.record_statuses``); a gateway that is not registered is counted
  (``unregistered``) and ignored; a registry failure
  (:class:`~hub.adapters.registry.errors.RegistryError`, translated by the registry) raises
  :class:`~hub.core.batch.IngestUnavailable`, so the batch is retried and nothing acknowledged;
* the gauges are totals over the gateways whose latest status is online (how many, frames
  waiting in their outboxes, frames they refused, devices with a low battery): no series per
  gateway, so their number stays bounded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from hub.adapters.metrics import BridgeMetrics
from hub.adapters.registry.errors import RegistryError
from hub.core.batch import IngestUnavailable
from hub.core.wire import GatewayStatus, WireError, parse_gateway_status

log = logging.getLogger(__name__)

LOW_BATTERY_PERCENT = 20


class StatusStore(Protocol):
    def record_statuses(
        self, reports: Sequence[tuple[str, GatewayStatus, datetime]]
    ) -> list[bool]: ...


class GatewayHealthBook:
    def __init__(self, store: StatusStore, metrics: BridgeMetrics) -> None:
        self.store = store
        self.metrics = metrics
        self._online: dict[str, GatewayStatus] = {}  # gateway id -> its latest online status

    def record(self, gateway_id: str, payload: bytes, received: datetime) -> None:
        """Record one status message (see the module docstring)."""
        self.record_all([(gateway_id, payload, received)])

    def record_all(self, messages: Sequence[tuple[str, bytes, datetime]]) -> None:
        """Record a batch's status messages ``(gateway id, payload, received)`` in order, in
        one registry transaction: all of them, or none and :class:`IngestUnavailable`."""
        reports: list[tuple[str, GatewayStatus, datetime]] = []
        refused: list[tuple[str, WireError]] = []
        for gateway_id, payload, received in messages:
            try:
                reports.append((gateway_id, parse_gateway_status(payload), received))
            except WireError as err:
                refused.append((gateway_id, err))
        try:
            known = self.store.record_statuses(reports) if reports else []
        except RegistryError as err:
            raise IngestUnavailable(str(err)) from err  # retried whole: nothing counted yet
        for gateway_id, problem in refused:
            self.metrics.gateway_statuses.labels(outcome="malformed").inc()
            log.warning("gateway %s: status refused: %s", gateway_id, problem)
        for (gateway_id, status, _), registered in zip(reports, known, strict=True):
            if not registered:
                self.metrics.gateway_statuses.labels(outcome="unregistered").inc()
                continue
            self.metrics.gateway_statuses.labels(outcome=status.status).inc()
            if status.online:
                self._online[gateway_id] = status
            else:
                self._online.pop(gateway_id, None)
        self._gauges()

    def _gauges(self) -> None:
        metrics = self.metrics
        statuses = list(self._online.values())
        metrics.gateways_online.set(len(statuses))
        metrics.gateway_outbox_pending.set(sum(s.outbox.pending for s in statuses if s.outbox))
        metrics.gateway_outbox_refused.set(sum(s.outbox.refused for s in statuses if s.outbox))
        metrics.gateway_devices_low_battery.set(
            sum(
                1
                for s in statuses
                for d in s.devices
                if d.battery_percent is not None and d.battery_percent < LOW_BATTERY_PERCENT
            )
        )
