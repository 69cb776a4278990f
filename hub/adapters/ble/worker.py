"""One allow-listed device, for as long as the gateway runs: find it, connect, run sessions,
back off by failure class; a device without live values is visited every ``revisit_s``.

Each device has its own worker task: a device that is away, slow or misbehaving only delays
itself. A failure is classified (``hub.adapters.ble.errors``) and waits its class's backoff,
growing while the same class repeats and reset once a connection is established. While the
outbox is nearly full no device is connected: store-and-forward devices keep their records
until there is room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass

from bleak_retry_connector import BleakSlotManager, close_stale_connections_by_address

from hub.adapters.ble.errors import BACKOFFS, Failure, classify
from hub.adapters.ble.journal import DeviceJournal
from hub.adapters.ble.link import GattLink
from hub.adapters.ble.scanner import AllowListScanner
from hub.adapters.ble.session import Session, SessionOptions
from hub.core.gatt_procedure import Procedure

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    connect_attempts: int = 3  # bleak-retry-connector's attempts per connection
    gatt_timeout_s: float = 10.0  # one read, write or subscription
    scan_wait_s: float = 30.0  # how long to wait for a first advertisement before retrying
    revisit_s: float = 300.0  # between two visits of a device without live values
    backoff_scale: float = 1.0  # multiplies every backoff (tests shorten them)


@dataclass(frozen=True, slots=True)
class Target:
    """An allow-listed device: the hub's id, its BLE address and its catalog procedure."""

    device_id: str
    address: str
    procedure: Procedure


class DeviceWorker:
    def __init__(
        self,
        target: Target,
        journal: DeviceJournal,
        scanner: AllowListScanner,
        slots: BleakSlotManager,
        options: WorkerOptions,
        session: SessionOptions,
        stop: asyncio.Event,
    ) -> None:
        self.target = target
        self.journal = journal
        self.scanner = scanner
        self.slots = slots
        self.options = options
        self.session = session
        self.stop = stop
        self.sessions = 0
        self._rand = random.Random(target.address)
        self._streak: dict[Failure, int] = {}

    async def run(self) -> None:
        # A predecessor that was killed left its links up: BlueZ keeps a connection whose
        # client vanished, and a connected device does not advertise. Close them first.
        await close_stale_connections_by_address(self.target.address)
        while not self.stop.is_set():
            failure = await self._once()
            if self.stop.is_set():
                return
            if failure is None:  # a visit is over: come back later
                await self._pause(self.options.revisit_s)
                continue
            count = self._streak.get(failure, 0)
            self._streak[failure] = count + 1
            delay = BACKOFFS[failure].delay(count, self._rand.random()) * self.options.backoff_scale
            log.info("%s: %s; next attempt in %.1f s", self.target.device_id, failure.value, delay)
            await self._pause(delay)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.stop.wait()

    async def _once(self) -> Failure | None:
        """One attempt: a session, or why there was none (None: nothing to wait for)."""
        if self.journal.nearly_full:
            return Failure.OUTBOX_FULL
        device = await self.scanner.device(self.target.address, self.options.scan_wait_s)
        if device is None:
            return Failure.NOT_FOUND
        name = self.target.device_id
        try:
            link = await GattLink.open(
                device,
                name,
                slots=self.slots,
                attempts=self.options.connect_attempts,
                timeout_s=self.options.gatt_timeout_s,
            )
        except Exception as err:
            return self._failed("connection failed", err)
        self._streak.clear()
        self.sessions += 1
        log.info("%s: connected (%s)", name, self.target.address)
        try:
            await Session(link, self.target.procedure, self.journal, self.session, self.stop).run()
        except Exception as err:
            return self._failed("session ended", err)
        finally:
            await link.close()
            self.journal.heard(connected=False)
            log.info("%s: disconnected", name)
        return None

    def _failed(self, what: str, error: Exception) -> Failure:
        failure = classify(error)
        if failure is None:
            log.exception("%s: %s unexpectedly", self.target.device_id, what, exc_info=error)
            return Failure.CONNECT
        log.info("%s: %s: %s", self.target.device_id, what, error)
        return failure
