"""``hub gateways provision|revoke``: a BLE gateway in the hub and its own MQTT account.

``provision GATEWAY_ID`` works in this order: the hub first — the gateway registered (with
``--owner``, and ``--zone``, as ``POST /v1/gateways`` does; otherwise it must be registered
already) and paired with each ``--pair DEVICE_ID`` (registered devices, as ``PUT
/v1/gateways/{id}/devices/{device_id}``) — then the broker: the gateway's role (publish its
frames and status, subscribe to its acks) and account (username = client id = the gateway
id, a new random password), credentials printed once. The hub refuses the gateway's frames
for any device it is not paired with (dead letter ``not-paired``).

``revoke GATEWAY_ID`` revokes the gateway in the hub (every later frame refused), then deletes
its MQTT account (disconnected now, refused at its next connection).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hub.config import Settings
from hub.runtime.commands.devices import account_name, print_credentials

if TYPE_CHECKING:  # imported when the command runs (the parser imports every command module)
    from hub.adapters.registry import Registry

NAME = "gateways"
HELP = "BLE gateways: provision (register, pair, MQTT account), revoke"


def _zone(text: str) -> str:
    from hub.core.wire import WireError, check_zone

    try:
        check_zone(text)
    except WireError as err:
        raise argparse.ArgumentTypeError(err.reason) from err
    return text


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    provision = actions.add_parser("provision", help="register, pair, create the MQTT account")
    provision.add_argument("gateway_id", type=account_name)
    provision.add_argument("--owner", help="register the gateway in the hub for this owner")
    provision.add_argument("--zone", type=_zone, help="with --owner: the home's IANA time zone")
    provision.add_argument(
        "--pair",
        action="append",
        default=[],
        type=account_name,
        metavar="DEVICE_ID",
        help="a registered device the gateway may speak for (repeatable)",
    )
    provision.add_argument("--json", action="store_true", help="print the credentials as JSON")
    revoke = actions.add_parser("revoke", help="delete the MQTT account, revoke in the hub")
    revoke.add_argument("gateway_id", type=account_name)


def _prepare_in_hub(registry: Registry, args: argparse.Namespace) -> str | None:
    """Register and pair the gateway; the reason if it cannot be provisioned."""
    from hub.adapters.registry.errors import DeviceConflict

    if args.zone is not None and args.owner is None:
        return "--zone goes with --owner"
    unknown = [d for d in args.pair if registry.devices.get(d) is None]
    if unknown:
        return f"not registered in the hub: {', '.join(unknown)} (hub devices provision --profile)"
    now = datetime.now(UTC)
    if args.owner is not None:
        try:
            registry.gateways.register(args.gateway_id, owner=args.owner, zone=args.zone, now=now)
        except DeviceConflict:
            return f"gateway {args.gateway_id} is registered already for another owner"
    gateway = registry.gateways.get(args.gateway_id)
    if gateway is None:
        return (
            f"gateway {args.gateway_id} is not registered in the hub: pass --owner, or "
            "register it first (POST /v1/gateways)"
        )
    if gateway.revoked is not None:
        return f"gateway {args.gateway_id} is revoked in the hub; give the new one a new id"
    for device_id in args.pair:
        registry.gateways.pair_device(args.gateway_id, device_id, now=now)
    return None


def run(settings: Settings, args: argparse.Namespace) -> int:
    from hub.adapters.dynsec import DynsecAdmin, DynsecError, gateway_account
    from hub.adapters.registry import Registry

    account = gateway_account(args.gateway_id)
    try:
        admin = DynsecAdmin.from_settings(settings)  # before any change: it may refuse
    except DynsecError as err:
        print(f"hub gateways: {err}", file=sys.stderr)
        return 1
    registry = Registry(
        str(settings.registry.url), busy_timeout_s=settings.registry.sqlite_busy_timeout_s
    )
    try:
        if args.action == "provision":
            problem = _prepare_in_hub(registry, args)
            if problem is not None:
                print(f"hub gateways: {problem}", file=sys.stderr)
                return 1
            with admin:
                credentials = admin.provision(account)
            print_credentials("gateway", credentials, args.json)
            return 0
        # The hub first: its frames are refused from now on, even if the broker cannot be told.
        was_registered = registry.gateways.revoke(args.gateway_id, now=datetime.now(UTC))
        with admin:
            had_account = admin.revoke(account)
    except DynsecError as err:
        print(f"hub gateways: {err}", file=sys.stderr)
        return 1
    finally:
        registry.close()
    print(
        f"gateway {args.gateway_id}: MQTT account "
        f"{'deleted' if had_account else 'absent'}, "
        f"{'revoked' if was_registered else 'not registered or revoked already'} in the hub"
    )
    return 0 if had_account or was_registered else 1
