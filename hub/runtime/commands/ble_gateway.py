"""``hub ble-gateway --config FILE``: the BLE gateway at a patient's home (docs/ble-gateway.md).

Loads and checks the configuration (exit 2 when it is invalid), then runs
:class:`~hub.services.ble_gateway.gateway.BleGateway` until SIGINT or SIGTERM. It talks to
BlueZ over the D-Bus system bus (``DBUS_SYSTEM_BUS_ADDRESS`` selects another one, as the
simulated BlueZ of the tests and of ``hub up`` does) and to the hub's MQTT broker.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from bleak.exc import BleakError
from pydantic import ValidationError

from device_profiles.catalog import load_catalog
from hub.config import Settings
from hub.services.ble_gateway.config import load_config
from hub.services.ble_gateway.gateway import BleGateway

NAME = "ble-gateway"
HELP = "run the BLE gateway: devices over bleak/BlueZ to the hub over MQTT"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="the gateway's TOML file")


def run(_settings: Settings, args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        gateway = BleGateway(config, load_catalog())
    except OSError as err:
        print(f"hub ble-gateway: cannot read {args.config}: {err.strerror}", file=sys.stderr)
        return 2
    except (ValidationError, ValueError) as err:
        print(f"hub ble-gateway: invalid configuration {args.config}:\n{err}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(gateway))
    except (BleakError, OSError) as err:  # no D-Bus system bus, no BlueZ, no adapter
        print(f"hub ble-gateway: cannot use Bluetooth: {err}", file=sys.stderr)
        return 1
    return 0


async def _serve(gateway: BleGateway) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await gateway.run(stop)
