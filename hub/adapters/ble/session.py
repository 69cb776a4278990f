"""One connection to one device, from the first read to the link's end.

The steps follow the device's procedure (``hub.core.gatt_procedure``, from its catalog
profile) and the wire contract's order (docs/wire.md):

1. **status** — Battery Level (0x2A19, Battery Service) when the device has it;
2. **clock** — the device clock, Current Time (0x2A2B, Current Time Service) or else Date
   Time (0x2A08), read *before* any record is fetched and stored as a context frame: the
   records of this connection refer to it, so the hub measures the clock's offset at upload
   and corrects them if needed. The offset (device minus gateway wall time) goes to the
   device's status. A CGM is dated by its Session Start Time (0x2AAA, CGM Service) instead,
   read and stored as the context of its records (kept once while the session does not
   change); a device without a clock (heart-rate strap) has no context;
3. **features** — read once per pairing and forwarded (Weight Scale Feature 0x2A9E);
4. **subscriptions** — notifications or indications of the measurement characteristics,
   the Glucose Measurement Context and the control point; never the intermediate values
   (Intermediate Cuff Pressure 0x2A36, Intermediate Temperature 0x2A1E): they are not stored;
5. **fetch** — through the Record Access Control Point (``hub.adapters.ble.racp``) for a
   glucose meter or a CGM, from the checkpoint; otherwise the stored records the device
   sends once every indication is enabled, until it stays quiet for ``settle_s``;
6. **set the clock** — Current Time write (Adjust Reason: external reference time update),
   else Date Time write, to the gateway's wall time in its zone; then the clock is read
   again and becomes the context of the live records that follow (they carry the new clock);
7. **live** — values the device sends while connected: for as long as the link lasts for a
   device with live values (heart rate, CGM, continuous oximetry), for ``linger_s`` for the
   others (visited: their records are in their memory until the next visit).

Every value is committed to the journal before the next one is taken in (and before a
checkpoint moves). A Glucose Measurement that announces a Context waits for it: both are
stored together, so a link lost between them stores neither, and the record is fetched
again, whole, next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from device_profiles import uuids
from device_profiles.battery import parse_battery_level
from device_profiles.errors import DecodeError
from device_profiles.gatt_time import (
    AdjustReason,
    CurrentTime,
    GattDateTime,
    decode_current_time,
    decode_date_time,
    encode_current_time,
    encode_date_time,
)
from hub.adapters.ble.errors import DeviceTimeout, GattFailure, LinkLost, OutboxFull
from hub.adapters.ble.journal import Captured, DeviceJournal
from hub.adapters.ble.link import GattLink
from hub.adapters.ble.racp import transfer
from hub.core.gatt_procedure import (
    CLOCK_CHARACTERISTICS,
    Procedure,
    context_follows,
    record_key,
)
from hub.core.racp_session import Next, RacpSession, seq_after

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SessionOptions:
    settle_s: float = 1.0  # quiet time after which a device's stored records are all in
    settle_max_s: float = 60.0  # ... however chatty it is
    linger_s: float = 30.0  # a visited device stays connected this long after its fetch
    racp_silence_s: float = 30.0  # a transfer with no value for this long has failed
    set_clock: bool = True


def _shown(number: int, data: bytes) -> datetime | None:
    """The naive local time a device clock value shows (None: unknown or unreadable)."""
    try:
        if number == uuids.CURRENT_TIME:
            return decode_current_time(data).to_datetime()
        return decode_date_time(data).to_datetime()
    except DecodeError:
        return None


def _clock_value(number: int, wall: datetime) -> bytes:
    """What to write to set a clock to ``wall`` (naive local time of the gateway)."""
    if number == uuids.CURRENT_TIME:
        reason = AdjustReason.EXTERNAL_REFERENCE_TIME_UPDATE
        return encode_current_time(CurrentTime.from_datetime(wall, reason))
    return encode_date_time(GattDateTime.from_datetime(wall.replace(microsecond=0)))


class Session:
    def __init__(
        self,
        link: GattLink,
        procedure: Procedure,
        journal: DeviceJournal,
        options: SessionOptions,
        stop: asyncio.Event,
    ) -> None:
        self.link = link
        self.procedure = procedure
        self.journal = journal
        self.options = options
        self.stop = stop
        self.context: int | None = None
        self.checkpoint = journal.checkpoint()
        self.racp: RacpSession | None = None
        self._inbox: asyncio.Queue[Captured | None] = asyncio.Queue()
        self._held: Captured | None = None  # a Glucose Measurement waiting for its Context
        self._responses: asyncio.Queue[bytes] = asyncio.Queue()

    # --- intake ---------------------------------------------------------------------------

    def _on_value(self, number: int, data: bytes) -> None:
        self._inbox.put_nowait(Captured(number, data, self.journal.now()))

    async def _watch_end(self) -> None:
        waits = [
            asyncio.ensure_future(self.link.ended.wait()),
            asyncio.ensure_future(self.stop.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        self._inbox.put_nowait(None)

    async def _next(self, timeout: float) -> Captured | None:
        """The next value (None: quiet for ``timeout``); :class:`LinkLost` when the link ended
        or the gateway stops."""
        try:
            async with asyncio.timeout(timeout):
                captured = await self._inbox.get()
        except TimeoutError:
            return None
        if captured is None:
            self._inbox.put_nowait(None)  # every later wait ends too
            raise LinkLost("the link ended" if not self.stop.is_set() else "stopping")
        return captured

    async def _take(self, captured: Captured) -> None:
        """Store one value the device sent (see the module docstring)."""
        number = captured.number
        if number == self.procedure.control_point:
            self._responses.put_nowait(captured.data)
            return
        if number == self.procedure.context:
            held, self._held = self._held, None
            if held is None:
                log.debug("%s: a context without its measurement", self.journal.device_id)
                return
            await self._record([held, captured], record_key(held.number, held.data))
            return
        if self._held is not None:  # its context never came: store it alone
            held, self._held = self._held, None
            await self._record([held], record_key(held.number, held.data))
        if context_follows(number, captured.data):
            self._held = captured
            return
        await self._record([captured], record_key(number, captured.data))

    async def _record(self, frames: list[Captured], key: int | None) -> None:
        racp = self.racp
        if key is not None and racp is not None and not racp.is_new(key):
            return  # already stored (a wrap, a fallback, a probe)
        # During a transfer the control point session knows the checkpoint (it forgets it
        # when the device's counter was reset).
        checkpoint = racp.checkpoint if racp is not None else self.checkpoint
        if key is not None and (checkpoint is None or seq_after(key, checkpoint)):
            checkpoint = key
        stored = await self.journal.add_records(
            frames, self.context, checkpoint, refetchable=racp is not None
        )
        if not stored:
            raise OutboxFull("the outbox is nearly full: the rest stays on the device")
        self.checkpoint = checkpoint
        if key is not None and racp is not None:
            racp.stored(key)

    # --- steps ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run the connection: until the link ends (:class:`LinkLost`) or the gateway stops,
        or the visit is over (a device without live values)."""
        watcher = asyncio.ensure_future(self._watch_end())
        try:
            await self._steps()
        except LinkLost:
            if not self.stop.is_set():
                raise
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _steps(self) -> None:
        self.journal.heard(connected=True)
        await self._battery()
        clock = next((n for n in CLOCK_CHARACTERISTICS if self.link.has(n)), None)
        if clock is not None:
            await self._read_clock(clock, forward=self.procedure.session is None)
        if self.procedure.session is not None:
            data = await self.link.read(self.procedure.session)
            captured = Captured(self.procedure.session, data, self.journal.now())
            self.context = await self.journal.add_session(captured)
            self.checkpoint = self.journal.checkpoint()
        for number in self.procedure.features:
            if self.link.has(number) and not self.journal.feature_known(number):
                data = await self.link.read(number)
                await self.journal.add_feature(Captured(number, data, self.journal.now()))
        for number in self.procedure.subscribed:
            if self.link.has(number):
                await self.link.subscribe(number, self._on_value)
        await self._fetch()
        if clock is not None and self.options.set_clock:
            await self._set_clock(clock)
        await self._live()

    async def _battery(self) -> None:
        if not self.link.has(uuids.BATTERY_LEVEL):
            return
        try:
            level = parse_battery_level(await self.link.read(uuids.BATTERY_LEVEL))
        except (DecodeError, GattFailure) as err:
            log.info("%s: battery level unreadable: %s", self.journal.device_id, err)
            return
        self.journal.heard(battery=level.percent)

    async def _read_clock(self, number: int, *, forward: bool) -> None:
        data = await self.link.read(number)
        captured = Captured(number, data, self.journal.now())
        shown = _shown(number, data)
        if shown is not None:
            wall = captured.at.replace(tzinfo=None)
            offset = Decimal((shown - wall).total_seconds()).quantize(Decimal("0.1"))
            self.journal.heard(clock_offset_s=offset)
        if forward:
            self.context = await self.journal.add_context(captured)

    async def _set_clock(self, number: int) -> None:
        for choice in CLOCK_CHARACTERISTICS[CLOCK_CHARACTERISTICS.index(number) :]:
            if not self.link.has(choice):
                continue
            wall = self.journal.now().replace(tzinfo=None)
            try:
                await self.link.write(choice, _clock_value(choice, wall))
            except GattFailure as err:
                log.info("%s: clock not set through %04X: %s", self.journal.device_id, choice, err)
                continue
            # The records that follow carry the clock as it is now.
            await self._read_clock(number, forward=self.procedure.session is None)
            return

    async def _fetch(self) -> None:
        if self.procedure.control_point is not None:
            await self._transfer()
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.settle_max_s
        while loop.time() < deadline:
            captured = await self._next(self.options.settle_s)
            if captured is None:
                return
            await self._take(captured)

    async def _transfer(self) -> None:
        control_point = self.procedure.control_point
        assert control_point is not None
        if self.journal.nearly_full:
            raise OutboxFull("the outbox is nearly full: records stay on the device")
        racp = self.racp = RacpSession(self.checkpoint)
        while not self._responses.empty():  # an indication nobody asked for
            self._responses.get_nowait()

        async def write(request: bytes) -> None:
            await self.link.write(control_point, request)

        async def response() -> bytes:
            while self._responses.empty():
                captured = await self._next(self.options.racp_silence_s)
                if captured is None:
                    raise DeviceTimeout("the control point went silent mid-transfer")
                await self._take(captured)
            return self._responses.get_nowait()

        try:
            decision = await transfer(racp, write, response)
        finally:
            self.racp = None
        if racp.reset_seen:
            log.warning("%s: its record counter was reset", self.journal.device_id)
        if decision.next is not Next.DONE:
            log.warning(
                "%s: record transfer ended (%s): %s",
                self.journal.device_id,
                decision.next.value,
                decision.reason,
            )

    async def _live(self) -> None:
        loop = asyncio.get_running_loop()
        stays = self.procedure.stays_connected
        end = loop.time() + self.options.linger_s
        while stays or loop.time() < end:
            captured = await self._next(3600.0 if stays else max(0.0, end - loop.time()))
            if captured is not None:
                await self._take(captured)
