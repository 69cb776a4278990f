"""The gateway running: outbox, MQTT link, scanner, one worker per allow-listed device.

:meth:`BleGateway.run` opens the outbox (and its worker thread), connects to the broker
(persistent session, last will "offline"), starts scanning and one
:class:`~hub.adapters.ble.worker.DeviceWorker` per device of the allow-list, and publishes
until ``stop`` is set. Then it ends the device sessions (links closed), publishes a last
status (offline) and closes the outbox. Killed instead (SIGKILL, power cut), it loses
nothing: what the devices sent is in the outbox, the broker publishes the last will, and the
next start resends everything not acknowledged and fetches from each device's checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from bleak_retry_connector import BleakSlotManager

from device_profiles.catalog import Catalog
from hub.adapters.ble.scanner import AllowListScanner
from hub.adapters.ble.session import SessionOptions
from hub.adapters.ble.worker import DeviceWorker, Target, WorkerOptions
from hub.adapters.frame_outbox import FrameOutbox, OutboxLimits
from hub.adapters.gateway_mqtt import BrokerAddress, Connected, GatewayMqtt, MqttEvent, Retained
from hub.adapters.outbox_worker import OutboxWorker
from hub.core.backoff import Backoff
from hub.core.frame_messages import CONTEXT_KINDS, DeviceInfo
from hub.core.gatt_procedure import procedure_for
from hub.core.wire import encode_gateway_status, gateway_acks_topic, gateway_status_topic
from hub.services.ble_gateway.config import GatewayConfig
from hub.services.ble_gateway.journal import OutboxJournal
from hub.services.ble_gateway.uplink import OFFLINE, Uplink

log = logging.getLogger(__name__)

ADAPTER = "hci0"  # the adapter whose connection slots are counted (bleak's default)
_GRACE_S = 5.0  # for device sessions to end when stopping
_SESSION_KEY = "mqtt-session"  # the outbox incarnation whose MQTT session the broker holds


class BleGateway:
    def __init__(self, config: GatewayConfig, catalog: Catalog) -> None:
        problems = config.check_profiles(catalog)
        if problems:
            raise ValueError("; ".join(problems))
        self.config = config
        self.catalog = catalog
        self.zone = ZoneInfo(config.zone)

    def now(self) -> datetime:
        """The gateway's clock (kept by NTP), in its zone."""
        return datetime.now(self.zone)

    def _targets(self) -> list[Target]:
        targets = []
        for device in self.config.devices:
            profile = self.catalog.get(device.profile)
            assert profile is not None and profile.ble is not None  # checked at construction
            procedure = procedure_for(profile.ble.characteristics)
            targets.append(Target(device.id, device.address, procedure))
        return targets

    async def run(self, stop: asyncio.Event) -> None:
        config = self.config
        limits = OutboxLimits(int(config.outbox.max_mb * 1_000_000), config.outbox.max_items)
        outbox = await asyncio.to_thread(
            FrameOutbox.open,
            config.outbox_path,
            context_kinds=CONTEXT_KINDS,
            limits=limits,
            synchronous=config.outbox.synchronous,
        )
        worker = OutboxWorker(outbox)
        try:
            await self._serve(worker, stop)
        finally:
            await worker.close()

    async def _serve(self, worker: OutboxWorker, stop: asyncio.Event) -> None:
        config = self.config
        states = await worker.states()
        mqtt = GatewayMqtt(
            BrokerAddress(
                config.mqtt.host,
                config.mqtt.port,
                config.mqtt.protocol,
                config.mqtt.username,
                config.mqtt.password,
                config.mqtt.keepalive,
                config.mqtt.tls_ca_file,
            ),
            config.gateway_id,
            will=Retained(gateway_status_topic(config.gateway_id), encode_gateway_status(OFFLINE)),
            subscriptions=[gateway_acks_topic(config.gateway_id)],
            session_expiry_s=config.mqtt.session_expiry_s,
            backoff=Backoff(base=0.5, cap=30.0),
            # A new outbox starts a new session: it must never receive an old outbox's acks.
            fresh=states.get(_SESSION_KEY) != worker.outbox.incarnation,
        )
        journals: dict[str, OutboxJournal] = {}
        uplink = Uplink(
            config.gateway_id,
            config.zone,
            worker,
            mqtt,
            [DeviceInfo(d.id, d.address, d.profile) for d in config.devices],
            lambda: [journals[d.id].status(d.address, d.profile) for d in config.devices],
            self.now,
            ack_timeout_s=config.uplink.ack_timeout_s,
            status_interval_s=config.uplink.status_interval_s,
            max_frames_per_message=config.uplink.max_frames_per_message,
            max_messages_in_flight=config.uplink.max_messages_in_flight,
        )

        def changed() -> None:
            uplink.wake()
            uplink.health_changed()

        for device in config.devices:
            journals[device.id] = OutboxJournal(device.id, worker, states, self.now, changed)
        incarnation = worker.outbox.incarnation

        def on_event(event: MqttEvent) -> None:
            if isinstance(event, Connected) and states.get(_SESSION_KEY) != incarnation:
                states[_SESSION_KEY] = incarnation
                worker.remember({_SESSION_KEY: incarnation})
            uplink.on_event(event)

        mqtt.start(asyncio.get_running_loop(), on_event)
        sessions_stop = asyncio.Event()
        tasks: list[asyncio.Future[None]] = [asyncio.ensure_future(uplink.run(stop))]
        try:
            tasks[:0] = await self._workers(journals, sessions_stop)
            log.info(
                "gateway %s: %d devices on the allow-list, outbox %s (%d pending)",
                config.gateway_id,
                len(config.devices),
                config.outbox_path,
                len(worker.outbox),
            )
            await stop.wait()
        finally:
            sessions_stop.set()
            stop.set()
            await _finish(tasks)  # device sessions end (links closed), the uplink stops
            last = encode_gateway_status(uplink.status(online=False))
            await mqtt.stop(Retained(uplink.status_topic, last))

    async def _workers(
        self, journals: dict[str, OutboxJournal], stop: asyncio.Event
    ) -> list[asyncio.Future[None]]:
        ble = self.config.ble
        slots = BleakSlotManager()
        await slots.async_setup()
        slots.register_adapter(ADAPTER, ble.max_connections)
        scanner = AllowListScanner(d.address for d in self.config.devices)
        await scanner.start()
        options = WorkerOptions(
            ble.connect_attempts,
            ble.gatt_timeout_s,
            ble.scan_wait_s,
            ble.revisit_s,
            ble.backoff_scale,
        )
        session = SessionOptions(
            settle_s=ble.settle_s,
            linger_s=ble.linger_s,
            racp_silence_s=ble.racp_silence_s,
            set_clock=ble.set_clocks,
        )
        tasks = []
        for target in self._targets():
            device = DeviceWorker(
                target, journals[target.device_id], scanner, slots, options, session, stop
            )
            task = asyncio.ensure_future(device.run())
            task.add_done_callback(_report_crash)
            tasks.append(task)

        async def scanning() -> None:
            try:
                await stop.wait()
            finally:
                await scanner.stop()

        return [*tasks, asyncio.ensure_future(scanning())]


async def _finish(tasks: list[asyncio.Future[None]]) -> None:
    """Let ``tasks`` end by themselves for a grace period, then cancel them."""
    _, pending = await asyncio.wait(tasks, timeout=_GRACE_S)
    for task in pending:
        task.cancel()
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(result, Exception):
            log.error("a gateway task failed", exc_info=result)


def _report_crash(task: asyncio.Future[None]) -> None:
    """A device worker only ends when the gateway stops; say so at once if it died."""
    if not task.cancelled() and task.exception() is not None:
        log.error("a device worker died; its device is no longer served", exc_info=task.exception())
