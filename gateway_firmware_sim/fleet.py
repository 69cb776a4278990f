"""A fleet of simulated patients, each with MQTT-native devices publishing canonical readings.

The fleet enrolls its devices through the hub's API (``POST /v1/enrollments``), replays
``history`` of simulated time at ``speed`` simulated seconds per real second, then keeps
publishing in real time, so a newcomer sees both a day of trends and live readings.
Readings go out at QoS 1 on ``hs/v1/devices/{device_id}/readings`` (docs/wire.md).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway_firmware_sim import physiology
from hub.config import MqttSettings
from hub.wire import device_readings_topic

log = logging.getLogger(__name__)


def _reading(metric: str, value: float, unit: str, moment: datetime, seq: int) -> dict[str, object]:
    return {
        "metric": metric,
        "value": value,
        "unit": unit,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seq": seq,
    }


@dataclass
class SimDevice:
    """A device: when it measures (``schedule``) and what it sends (``measure``)."""

    device_id: str
    schedule: Callable[[datetime, datetime], Iterator[datetime]]
    measure: Callable[[datetime, random.Random, int], list[dict[str, object]]]
    rng: random.Random
    seq: int = 0

    def readings_between(self, start: datetime, end: datetime) -> list[list[dict[str, object]]]:
        """One message per measurement time in ``(start, end]``."""
        messages = []
        for moment in self.schedule(start, end):
            self.seq += 1
            messages.append(self.measure(moment, self.rng, self.seq))
        return messages


def every(period: timedelta) -> Callable[[datetime, datetime], Iterator[datetime]]:
    step = period.total_seconds()

    def schedule(start: datetime, end: datetime) -> Iterator[datetime]:
        first = (int(start.timestamp() // step) + 1) * step
        moment = first
        while moment <= end.timestamp():
            yield datetime.fromtimestamp(moment, UTC)
            moment += step

    return schedule


def daily_at(*hours: float) -> Callable[[datetime, datetime], Iterator[datetime]]:
    def schedule(start: datetime, end: datetime) -> Iterator[datetime]:
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day <= end:
            for hour in hours:
                moment = day + timedelta(hours=hour)
                if start < moment <= end:
                    yield moment
            day += timedelta(days=1)

    return schedule


def patient_devices(index: int, seed: int) -> tuple[str, list[SimDevice]]:
    rng = random.Random(seed * 100_003 + index)
    traits = physiology.Traits.draw(rng)
    patient_id = f"pat-demo-{index:04d}"
    suffix = f"{index:04d}"

    def cgm(moment: datetime, r: random.Random, seq: int) -> list[dict[str, object]]:
        return [
            _reading("glucose_isf", physiology.glucose_isf(traits, moment, r), "mg/dL", moment, seq)
        ]

    def cuff(moment: datetime, r: random.Random, seq: int) -> list[dict[str, object]]:
        systolic, diastolic, pulse = physiology.blood_pressure(traits, moment, r)
        return [
            _reading("systolic_bp", systolic, "mm[Hg]", moment, seq),
            _reading("diastolic_bp", diastolic, "mm[Hg]", moment, seq),
            _reading("pulse_rate", pulse, "/min", moment, seq),
        ]

    def scale(moment: datetime, r: random.Random, seq: int) -> list[dict[str, object]]:
        day = int(moment.timestamp() // 86400)
        return [_reading("weight", physiology.weight(traits, day % 365, r), "kg", moment, seq)]

    def oximeter(moment: datetime, r: random.Random, seq: int) -> list[dict[str, object]]:
        return [_reading("spo2", physiology.spo2(traits, r), "%", moment, seq)]

    def seeded() -> random.Random:
        return random.Random(rng.random())

    devices = [
        SimDevice(f"sim-cgm-{suffix}", every(timedelta(minutes=5)), cgm, seeded()),
        SimDevice(f"sim-bp-{suffix}", daily_at(7.5, 21.0), cuff, seeded()),
        SimDevice(f"sim-scale-{suffix}", daily_at(7.1), scale, seeded()),
        SimDevice(f"sim-oxi-{suffix}", every(timedelta(hours=4)), oximeter, seeded()),
    ]
    return patient_id, devices


class Fleet:
    def __init__(
        self,
        mqtt_settings: MqttSettings,
        *,
        api_url: str,
        token: str,
        patients: int,
        speed: float,
        seed: int,
        history: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.mqtt_settings = mqtt_settings
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.speed = speed
        self.history = history
        self.clock = clock
        self.patients = [patient_devices(i + 1, seed) for i in range(patients)]
        self._stop = threading.Event()
        self.published = 0

    def request_stop(self) -> None:
        self._stop.set()

    def enroll(self, start: datetime) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.api_url, headers=headers, timeout=10) as http:
            for patient_id, devices in self.patients:
                for device in devices:
                    response = http.post(
                        "/v1/enrollments",
                        json={
                            "device_id": device.device_id,
                            "patient_id": patient_id,
                            "start": start.isoformat(),
                        },
                    )
                    # 409: enrolled by an earlier run, which is what we want.
                    if response.status_code not in (201, 409):
                        raise RuntimeError(
                            f"enrollment failed: {response.status_code} {response.text}"
                        )

    def _client(self) -> mqtt.Client:
        s = self.mqtt_settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"sim-fleet-{id(self)}",
            protocol=mqtt.MQTTv5 if s.protocol == "5" else mqtt.MQTTv311,
        )
        client.max_queued_messages_set(0)
        client.connect(s.host, s.port, keepalive=30)
        client.loop_start()
        return client

    def run(self) -> None:
        now = self.clock()
        sim_time = now - self.history
        self.enroll(sim_time - timedelta(minutes=1))
        client = self._client()
        try:
            last_real = time.monotonic()
            while not self._stop.is_set():
                real = time.monotonic()
                elapsed = real - last_real
                last_real = real
                now = self.clock()
                target = min(now, sim_time + timedelta(seconds=elapsed * self.speed))
                self._publish_between(client, sim_time, target)
                sim_time = target
                self._stop.wait(1.0)
        finally:
            client.loop_stop()
            client.disconnect()
            log.info("fleet stopped after %d messages", self.published)

    def _publish_between(self, client: mqtt.Client, start: datetime, end: datetime) -> None:
        pending = []
        for _patient_id, devices in self.patients:
            for device in devices:
                for message in device.readings_between(start, end):
                    payload = json.dumps(message if len(message) > 1 else message[0])
                    pending.append(
                        client.publish(device_readings_topic(device.device_id), payload, qos=1)
                    )
        for info in pending:
            info.wait_for_publish(timeout=30)
            self.published += 1
