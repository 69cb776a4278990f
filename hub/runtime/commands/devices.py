"""``hub devices provision|revoke``: a device's own MQTT account (docs/deployment.md).

``provision DEVICE_ID`` creates, in the broker's dynamic-security plugin, the device's role
(publish its own readings and vendor JSON, nothing else) and its account (username = client
id = the device id, a new random password), and prints the credentials once. With
``--profile`` and ``--maker`` it first registers the device in the hub (as ``POST
/v1/devices`` does). ``revoke DEVICE_ID`` deletes the account: the device is disconnected now
and refused at its next connection.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hub.config import Settings

if TYPE_CHECKING:  # imported when the command runs (the parser imports every command module)
    from hub.adapters.dynsec import Credentials

NAME = "devices"
HELP = "device MQTT accounts: provision (and register in the hub), revoke"


def account_name(text: str) -> str:
    from hub.adapters.dynsec import check_account_name

    try:
        return check_account_name(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def print_credentials(kind: str, credentials: Credentials, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "username": credentials.username,
                    "client_id": credentials.client_id,
                    "password": credentials.password,
                }
            )
        )
        return
    print(f"MQTT account of {kind} {credentials.username} (the password is shown only now):")
    print(f"  username   {credentials.username}")
    print(f"  client id  {credentials.client_id}")
    print(f"  password   {credentials.password}")


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    provision = actions.add_parser("provision", help="create the device's MQTT account")
    provision.add_argument("device_id", type=account_name)
    provision.add_argument(
        "--profile", help="register the device in the hub with this catalog profile"
    )
    provision.add_argument("--maker", help="with --profile: the maker's principal id")
    provision.add_argument("--json", action="store_true", help="print the credentials as JSON")
    revoke = actions.add_parser("revoke", help="delete the device's MQTT account, now")
    revoke.add_argument("device_id", type=account_name)


def _register(settings: Settings, device_id: str, profile: str, maker: str) -> str | None:
    """Register the device in the hub; the reason if it cannot be."""
    from device_profiles.catalog import load_catalog
    from hub.adapters.registry import Registry
    from hub.adapters.registry.errors import DeviceConflict

    if profile not in load_catalog():
        return f"unknown catalog profile {profile!r} (hub profiles list)"
    registry = Registry(
        str(settings.registry.url), busy_timeout_s=settings.registry.sqlite_busy_timeout_s
    )
    try:
        registry.devices.register(device_id, profile=profile, maker=maker, now=datetime.now(UTC))
    except DeviceConflict:
        return f"device {device_id} is registered already with another maker or profile"
    finally:
        registry.close()
    return None


def run(settings: Settings, args: argparse.Namespace) -> int:
    from hub.adapters.dynsec import DynsecAdmin, DynsecError, device_account

    account = device_account(args.device_id)
    if args.action == "provision" and (args.profile is None) != (args.maker is None):
        print("hub devices: --profile and --maker go together", file=sys.stderr)
        return 2
    try:
        admin = DynsecAdmin.from_settings(settings)  # before any change: it may refuse
        if args.action == "provision":
            if args.profile is not None:
                problem = _register(settings, args.device_id, args.profile, args.maker)
                if problem is not None:
                    print(f"hub devices: {problem}", file=sys.stderr)
                    return 1
            with admin:
                credentials = admin.provision(account)
            print_credentials("device", credentials, args.json)
            return 0
        with admin:
            existed = admin.revoke(account)
    except DynsecError as err:
        print(f"hub devices: {err}", file=sys.stderr)
        return 1
    if not existed:
        print(f"hub devices: {args.device_id} has no MQTT account", file=sys.stderr)
        return 1
    print(f"revoked the MQTT account of device {args.device_id}")
    return 0
