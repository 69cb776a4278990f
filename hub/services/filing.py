"""Delivery of the filing outbox to the vault, with retries.

Each pending filing (``document_filings``) is sent as an ITI-65 bundle, the patient's INS put
in at the last moment (it lives in ``patients.ins`` only). Outcomes:

* accepted — marked delivered;
* vault unavailable (no answer, timeout, 5xx, 429) — every filing of the round is retried
  later, each after its own capped exponential backoff with jitter (``hub.core.backoff``):
  an outage is waited out without hammering the vault, and the filings survive restarts of
  the hub (they are rows, not memory);
* refused (4xx) — marked failed with the vault's reason and logged: a defect, not a state
  that time repairs; except 401 and 403, the hub's own credentials (``vault.token``): logged
  as an error and retried like an outage, so that fixing the configuration files them.

Delivery is at-least-once and the vault makes it exactly-once: a bundle sent again carries the
same uniqueIds, which the vault recognises (docs/documents.md, "Outbox and delivery").

After each round the gauge ``hub_filing_outbox_oldest_age_seconds`` is set to the age of the
oldest filing still pending (0 when none): the alert ``HubFilingOutboxOld`` watches it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Gauge

from hub.adapters.registry import Registry
from hub.adapters.registry.filings import FilingStore, PendingFiling
from hub.adapters.tokens import Role, mint_token
from hub.adapters.vault_client import VaultClient, VaultRefused, VaultUnavailable
from hub.config import Settings
from hub.core.backoff import Backoff
from hub.core.model import epoch_ms
from hub.core.reports.mhd import with_patient_ins

log = logging.getLogger(__name__)


def filing_token(settings: Settings, now: datetime) -> str:
    """The bearer token the hub files with: the configured one, else (development, tests) one
    minted with the shared secret for the hub's source subject."""
    if settings.vault.token:
        return settings.vault.token
    return mint_token(
        settings.auth,
        subject=settings.vault.source_subject,
        role=Role.ADMIN,
        now=now,
        ttl=timedelta(minutes=10),
    )


class Deliverer:
    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        filings: FilingStore,
        vault: VaultClient,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rand: Callable[[], float] = random.random,
        metrics: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.filings = filings
        self.vault = vault
        self.clock = clock
        self.rand = rand
        reports = settings.reports
        self.backoff = Backoff(
            base=reports.delivery_backoff_s, cap=reports.delivery_backoff_cap_s, jitter=0.2
        )
        self.oldest_age = Gauge(
            "hub_filing_outbox_oldest_age_seconds",
            "age of the oldest document filing still pending delivery to the vault (0: none)",
            registry=metrics,
        )

    def _send(self, filing: PendingFiling) -> None:
        patient = self.registry.patients.get(filing.patient_id)
        if patient is None:  # erased between decision and delivery: nothing left to file
            raise VaultRefused(404, "the patient is no longer registered")
        bundle = with_patient_ins(json.loads(filing.bundle), patient.ins)
        self.vault.provide(
            json.dumps(bundle).encode(), token=filing_token(self.settings, self.clock())
        )

    def _wait(self, waiting: list[PendingFiling], now_ms: int, error: str) -> None:
        """Every filing of the round waits its own backoff: the vault is not taking any."""
        for filing in waiting:
            delay = self.backoff.delay(filing.attempts, self.rand())
            self.filings.retry_later(
                filing.id,
                attempts=filing.attempts + 1,
                at_ms=now_ms + int(delay * 1000),
                error=error,
            )

    def deliver_due(self) -> None:
        """Send every filing due now; one round."""
        now_ms = epoch_ms(self.clock())
        due = self.filings.due(now_ms)
        for number, filing in enumerate(due):
            try:
                self._send(filing)
            except VaultUnavailable as err:
                self._wait(due[number:], now_ms, str(err))
                log.warning("vault unavailable (%s): %d filings wait", err, len(due) - number)
                return
            except VaultRefused as err:
                if err.status in (401, 403):  # the hub's credentials: configuration, retried
                    self._wait(due[number:], now_ms, str(err))
                    log.error(
                        "the vault refuses the hub's credentials (%s): check vault.token", err
                    )
                    return
                self.filings.failed(filing.id, attempts=filing.attempts + 1, error=str(err))
                log.error("filing %d refused by the vault: %s", filing.id, err)
            else:
                self.filings.delivered(filing.id, now_ms=epoch_ms(self.clock()))
                log.info("filing %d delivered (version %d)", filing.id, filing.version)

    def measure(self) -> float:
        """Set (and return) the age of the oldest pending filing, in seconds."""
        oldest = self.filings.oldest_pending_ms()
        age = 0.0 if oldest is None else max(0.0, (epoch_ms(self.clock()) - oldest) / 1000)
        self.oldest_age.set(age)
        return age

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set: a round, then sleep until the next filing is due
        (at most ``reports.delivery_poll_s``: new filings are picked up by polling)."""
        poll = self.settings.reports.delivery_poll_s
        while not stop.is_set():
            try:
                self.deliver_due()
                self.measure()
            except Exception:  # the registry may be briefly unavailable: log, go on
                log.exception("delivery round failed")
            due = self.filings.next_attempt_ms()
            wait = poll
            if due is not None:
                wait = min(poll, max(0.05, (due - epoch_ms(self.clock())) / 1000))
            stop.wait(wait)
