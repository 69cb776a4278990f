"""The home of ``hub up`` whose devices reach the hub the real way: the simulated BlueZ,
bleak, and a ``hub ble-gateway`` process — not the simulated gateway firmware.

Patient ``pat-ble-home`` (type 1 diabetes, hypertension, heart failure) has a CGM, a glucose
meter, a blood-pressure cuff and a scale, switched on a day ago on the real clock, served by
a simulated BlueZ on a private D-Bus (``gateway_firmware_sim.bluez``, a thread of the
supervisor). The gateway ``gw-ble-home`` and its devices are registered, paired and enrolled
through the API like the fleet's (``ApiEnroller``); the gateway's configuration is written to
``<data_dir>/ble-gateway/gateway.toml`` and the gateway runs as a child process with
``DBUS_SYSTEM_BUS_ADDRESS`` pointing at the private bus. Without ``dbus-daemon`` (Debian
package ``dbus``) the home is left out, with a warning.
"""

from __future__ import annotations

import contextlib
import logging
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from gateway_firmware_sim.bluez import simulated_bluez_thread
from gateway_firmware_sim.devices.base import BleDevice, DeviceClock
from gateway_firmware_sim.devices.cgm import ContinuousGlucoseMonitor
from gateway_firmware_sim.devices.cuff import BloodPressureCuff
from gateway_firmware_sim.devices.glucose_meter import GlucoseMeter
from gateway_firmware_sim.devices.scale import WeightScale
from gateway_firmware_sim.enrollment import ApiEnroller
from gateway_firmware_sim.physiology.glucose import GlucoseScenario
from gateway_firmware_sim.physiology.person import Conditions, Person
from gateway_firmware_sim.physiology.pressure import BpVariant
from gateway_firmware_sim.timebase import DAY
from hub.adapters.tokens import Role, mint_token
from hub.config import Settings

log = logging.getLogger(__name__)

PATIENT = "pat-ble-home"
GATEWAY = "gw-ble-home"
ZONE = "Europe/Paris"
# (device model, hub device id, BLE address)
DEVICES: tuple[tuple[type[BleDevice], str, str], ...] = (
    (ContinuousGlucoseMonitor, "ble-cgm-home", "C0:26:DA:B1:E0:01"),
    (GlucoseMeter, "ble-gm-home", "C0:26:DA:B1:E0:02"),
    (BloodPressureCuff, "ble-bp-home", "C0:26:DA:B1:E0:03"),
    (WeightScale, "ble-scale-home", "C0:26:DA:B1:E0:04"),
)


def devices(seed: int, start: float) -> list[BleDevice]:
    conditions = Conditions(GlucoseScenario.T1D, BpVariant.HYPERTENSIVE, heart_failure=True)
    wearer = Person.create(seed, PATIENT, ZONE, conditions)
    noise = random.Random(seed)
    return [
        model(
            device_id, address, wearer, DeviceClock(ZONE, noise.uniform(-20, 20), 0.0, start), start
        )
        for model, device_id, address in DEVICES
    ]


def gateway_config(settings: Settings, protocol: str, home: list[BleDevice]) -> str:
    allow = "".join(
        f'\n[[devices]]\nid = "{d.device_id}"\naddress = "{d.address}"\n'
        f'profile = "{d.profile_id}"\n'
        for d in home
    )
    return (
        f'gateway_id = "{GATEWAY}"\nzone = "{ZONE}"\n'
        f'data_dir = "{(settings.data_dir / "ble-gateway").resolve()}"\n\n'
        f'[mqtt]\nhost = "{settings.mqtt.host}"\nport = {settings.mqtt.port}\n'
        f'protocol = "{protocol}"\n\n'
        # a demo: visit the devices every minute rather than every five
        "[ble]\nrevisit_s = 60.0\n" + allow
    )


class BleHome:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stack = contextlib.ExitStack()

    def start(self, api_base: str, env: dict[str, str]) -> subprocess.Popen[bytes] | None:
        """Serve the home's devices and start its gateway; None without ``dbus-daemon``."""
        if shutil.which("dbus-daemon") is None:
            log.warning("dbus-daemon not found (Debian package 'dbus'): no BLE home in this run")
            return None
        settings = self.settings
        now = time.time()
        home = devices(settings.sim.seed, now - DAY)
        bluez = self._stack.enter_context(simulated_bluez_thread(home, seed=settings.sim.seed))
        token = mint_token(
            settings.auth,
            subject="hub-up",
            role=Role.ADMIN,
            now=datetime.now(UTC),
            ttl=timedelta(hours=1),
        )
        enroller = ApiEnroller(api_base, token)
        try:
            enroller.register_gateway(GATEWAY, [(d.device_id, d.profile_id) for d in home])
            for device in home:
                enroller.enroll(
                    device.device_id, PATIENT, datetime.fromtimestamp(now - 2 * DAY, UTC)
                )
        finally:
            enroller.close()
        directory = settings.data_dir / "ble-gateway"
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "gateway.toml"
        protocol = env.get("HUB_MQTT__PROTOCOL", settings.mqtt.protocol)
        config.write_text(gateway_config(settings, protocol, home))
        return subprocess.Popen(
            [sys.executable, "-m", "hub", "ble-gateway", "--config", str(config)],
            env={**env, "DBUS_SYSTEM_BUS_ADDRESS": bluez.bus_address},
        )

    def close(self) -> None:
        """Stop the simulated BlueZ (after the gateway)."""
        self._stack.close()
