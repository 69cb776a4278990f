"""``python -m gateway_firmware_sim.bluez``: a simulated BlueZ with one device of each kind.

Starts a private system bus with ``org.bluez`` on it, prints the ``DBUS_SYSTEM_BUS_ADDRESS``
to give bleak (or any BlueZ client) and the devices, and serves until Ctrl-C or SIGTERM. The
devices belong to one seeded patient (type 1 diabetes, hypertension, heart failure, COPD,
cardiac rehabilitation, fevers) in Paris time, switched on ``--history-hours`` ago on the real
clock, so they hold a day of records.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from collections.abc import Sequence

from gateway_firmware_sim.bluez.runner import simulated_bluez
from gateway_firmware_sim.devices.base import BleDevice, DeviceClock
from gateway_firmware_sim.devices.cgm import ContinuousGlucoseMonitor
from gateway_firmware_sim.devices.cuff import BloodPressureCuff
from gateway_firmware_sim.devices.glucose_meter import GlucoseMeter
from gateway_firmware_sim.devices.hr_strap import HeartRateStrap
from gateway_firmware_sim.devices.oximeter import PulseOximeter
from gateway_firmware_sim.devices.scale import WeightScale
from gateway_firmware_sim.devices.thermometer import Thermometer
from gateway_firmware_sim.physiology.glucose import GlucoseScenario
from gateway_firmware_sim.physiology.person import Conditions, Person
from gateway_firmware_sim.physiology.pressure import BpVariant
from gateway_firmware_sim.timebase import HOUR

PARIS = "Europe/Paris"
# kind -> (device model, id prefix)
KINDS: dict[str, tuple[type[BleDevice], str]] = {
    "glucose-meter": (GlucoseMeter, "ble-gm"),
    "cgm": (ContinuousGlucoseMonitor, "ble-cgm"),
    "bp-cuff": (BloodPressureCuff, "ble-bp"),
    "scale": (WeightScale, "ble-scale"),
    "thermometer": (Thermometer, "ble-thermo"),
    "oximeter": (PulseOximeter, "ble-oxi"),
    "hr-strap": (HeartRateStrap, "ble-hr"),
}


def demo_devices(seed: int, start: float) -> list[BleDevice]:
    conditions = Conditions(
        GlucoseScenario.T1D,
        BpVariant.HYPERTENSIVE,
        heart_failure=True,
        copd=True,
        cardiac_rehab=True,
        fever_prone=True,
    )
    wearer = Person.create(seed, "pat-bluez-demo", PARIS, conditions)
    return [
        model(f"{prefix}-0001", f"C0:26:DA:00:00:{n:02X}", wearer, DeviceClock(PARIS), start)
        for n, (model, prefix) in enumerate(KINDS.values(), start=1)
    ]


async def serve(seed: int, history_hours: float) -> None:
    devices = demo_devices(seed, time.time() - history_hours * HOUR)
    async with simulated_bluez(devices, seed=seed) as bluez:
        print(f"export DBUS_SYSTEM_BUS_ADDRESS={bluez.bus_address}", flush=True)
        for device in devices:
            print(f"  {device.address}  {device.device_id:<16} {device.kind}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway_firmware_sim.bluez")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--history-hours", type=float, default=24.0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.seed, args.history_hours))


if __name__ == "__main__":
    main()
