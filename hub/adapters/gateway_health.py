"""Gateway statuses as the bridge records them: the registry's row, and totals as metrics.

Each gateway keeps a retained status on ``hs/v1/gateways/{id}/status`` (docs/wire.md,
"Gateway status"): ``online`` with its details when it connects and every minute or so,
``offline`` when it stops or as its last will. The bridge subscribes to all of them (never
through a shared group: retained messages are not delivered to shared subscriptions) and hands
each one here, on its batch worker thread, before acknowledging it:

* a status that is not valid is counted (``malformed``), logged and acknowledged — a retained
  message would otherwise come back forever;
* a valid one is recorded in the registry (``registry.gateways.record_status``); a gateway
  that is not registered is counted (``unregistered``) and ignored; a registry failure
  (:class:`~hub.adapters.registry.errors.RegistryError`, translated by the registry) raises
  :class:`~hub.core.batch.IngestUnavailable`, so the batch is retried and nothing acknowledged;
* the gauges are totals over the gateways whose latest status is online (how many, frames
  waiting in their outboxes, frames they refused, devices with a low battery): no series per
  gateway, so their number stays bounded.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from hub.adapters.metrics import BridgeMetrics
from hub.adapters.registry.errors import RegistryError
from hub.core.batch import IngestUnavailable
from hub.core.wire import GatewayStatus, WireError, parse_gateway_status

log = logging.getLogger(__name__)

LOW_BATTERY_PERCENT = 20


class StatusStore(Protocol):
    def record_status(
        self, gateway_id: str, status: GatewayStatus, *, received: datetime
    ) -> bool: ...


class GatewayHealthBook:
    def __init__(self, store: StatusStore, metrics: BridgeMetrics) -> None:
        self.store = store
        self.metrics = metrics
        self._online: dict[str, GatewayStatus] = {}  # gateway id -> its latest online status

    def record(self, gateway_id: str, payload: bytes, received: datetime) -> None:
        """Record one status message (see the module docstring)."""
        try:
            status = parse_gateway_status(payload)
        except WireError as err:
            self.metrics.gateway_statuses.labels(outcome="malformed").inc()
            log.warning("gateway %s: status refused: %s", gateway_id, err)
            return
        try:
            known = self.store.record_status(gateway_id, status, received=received)
        except RegistryError as err:
            raise IngestUnavailable(str(err)) from err
        if not known:
            self.metrics.gateway_statuses.labels(outcome="unregistered").inc()
            return
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
