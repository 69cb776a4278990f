"""Scanning: which allow-listed devices are around, and nothing about the others.

One :class:`~bleak.BleakScanner` runs for the whole gateway (BlueZ discovery, active
scanning). An advertisement from an address that is not on the allow-list is ignored — not
kept, never connected to; its address is logged once at DEBUG level, so an operator can see
what else is in range without the gateway touching it. For an allow-listed address the
latest sighting is kept (the ``BLEDevice`` bleak-retry-connector connects to, and its RSSI),
and whoever waits for that device is woken up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

log = logging.getLogger(__name__)


class AllowListScanner:
    def __init__(self, addresses: Iterable[str]) -> None:
        self.allowed = frozenset(a.upper() for a in addresses)
        self._seen: dict[str, BLEDevice] = {}
        self._rssi: dict[str, int] = {}
        self._heard: dict[str, asyncio.Event] = {a: asyncio.Event() for a in self.allowed}
        self.ignored: set[str] = set()
        self._scanner = BleakScanner(detection_callback=self._on_advertisement)

    def _on_advertisement(self, device: BLEDevice, advertisement: AdvertisementData) -> None:
        address = device.address.upper()
        if address not in self.allowed:
            if address not in self.ignored:
                self.ignored.add(address)
                log.debug("ignoring %s: not on the allow-list", address)
            return
        self._seen[address] = device
        self._rssi[address] = advertisement.rssi
        self._heard[address].set()

    async def start(self) -> None:
        await self._scanner.start()

    async def stop(self) -> None:
        await self._scanner.stop()

    def rssi(self, address: str) -> int | None:
        return self._rssi.get(address.upper())

    async def device(self, address: str, timeout: float) -> BLEDevice | None:
        """The device as last heard (waiting up to ``timeout`` for a first advertisement);
        None if it was never heard. BlueZ reports a device again when it reappears after it
        went out of range, so the latest sighting is what to connect to.

        Only allow-listed addresses can be asked for: :class:`KeyError` otherwise.
        """
        key = address.upper()
        heard = self._heard[key]
        try:
            async with asyncio.timeout(timeout):
                await heard.wait()
        except TimeoutError:
            return None
        return self._seen[key]
