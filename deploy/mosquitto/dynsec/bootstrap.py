#!/usr/bin/env python3
"""Write the dynamic-security plugin's first configuration file (Mosquitto 2.0), once.

    MQTT_ADMIN_PASSWORD=... BRIDGE_1_MQTT_PASSWORD=... BRIDGE_2_MQTT_PASSWORD=... \\
    python3 bootstrap.py --out /mosquitto/data/dynamic-security.json \\
        --admin hub-admin=MQTT_ADMIN_PASSWORD \\
        --bridge hub-bridge-1=BRIDGE_1_MQTT_PASSWORD --bridge hub-bridge-2=BRIDGE_2_MQTT_PASSWORD

Each account is NAME=VARIABLE: its password is read from that environment variable, never
from the command line (which every user of the machine can read). The file holds:

- the default ACL access: no publish and no subscribe unless a role grants it;
- ``hub-admin`` (role ``hub-admin``): the plugin's control topics and ``$SYS`` (health
  checks) — it provisions accounts (``hub devices|gateways provision``) but reads no data;
- one account per bridge worker (role ``hub-bridge``, client id bound to the username): reads
  ``hs/v1/#`` (shared subscriptions too) and ``$SYS/broker/#``, writes gateway acks and its
  presence under ``hs/v1/hub/`` — what deploy/mosquitto/acl grants ``hub-bridge``.

An existing file is left alone: from its first start the broker owns it (changes go through
the plugin: ``hub devices|gateways``, or ``mosquitto_ctrl dynsec``). Standard library only, so
that it runs in any Python 3.11+ (the hub's image in docker-compose.yml).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

# A copy of hub.core.identity.ID_PATTERN: this script runs alone, without the hub installed
# (tests/unit/test_wire.py checks that the two agree).
SAFE_NAME = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MIN_PASSWORD_CHARS = 16
# PBKDF2-HMAC-SHA512 as the plugin verifies it; more iterations than the plugin's own 101
# for these operator-chosen passwords (the hub's generated ones have 256 random bits).
ITERATIONS = 20_000
SALT_BYTES = 12

ADMIN_ACLS = [
    ("publishClientSend", "$CONTROL/dynamic-security/#"),
    ("publishClientReceive", "$CONTROL/dynamic-security/#"),
    ("subscribePattern", "$CONTROL/dynamic-security/#"),
    ("subscribePattern", "$SYS/#"),
]
BRIDGE_ACLS = [
    ("subscribePattern", "hs/v1/#"),
    ("subscribePattern", "$share/+/hs/v1/#"),
    ("subscribePattern", "$SYS/broker/#"),
    ("publishClientSend", "hs/v1/gateways/+/acks"),
    ("publishClientSend", "hs/v1/hub/#"),
]


class BootstrapError(Exception):
    pass


def account(spec: str) -> tuple[str, str]:
    """NAME=VARIABLE -> (name, password from the environment)."""
    name, _, variable = spec.partition("=")
    if not SAFE_NAME.fullmatch(name):
        raise BootstrapError(f"{name!r}: 1-128 of A-Z a-z 0-9 . _ : - (no +, #, /, control)")
    password = os.environ.get(variable, "") if variable else ""
    if len(password) < MIN_PASSWORD_CHARS:
        raise BootstrapError(
            f"{name}: set the environment variable named after '=' (NAME=VARIABLE) to a "
            f"password of at least {MIN_PASSWORD_CHARS} characters"
        )
    return name, password


def client(name: str, password: str, role: str, *, bind_client_id: bool) -> dict[str, Any]:
    salt = os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, 64)
    entry: dict[str, Any] = {
        "username": name,
        "textName": f"{role} account",
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": ITERATIONS,
        "roles": [{"rolename": role}],
    }
    if bind_client_id:
        entry["clientid"] = name
    return entry


def role(name: str, acls: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "rolename": name,
        "acls": [{"acltype": kind, "topic": topic, "allow": True} for kind, topic in acls],
    }


def document(admin: tuple[str, str], bridges: list[tuple[str, str]]) -> dict[str, Any]:
    names = [admin[0], *(name for name, _ in bridges)]
    if len(set(names)) != len(names):
        raise BootstrapError("account names must differ")
    # The admin's client id is not bound: the CLI and the health check connect side by side.
    clients = [client(*admin, "hub-admin", bind_client_id=False)]
    clients += [client(*b, "hub-bridge", bind_client_id=True) for b in bridges]
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": True,  # only what a subscription, granted by a role, matches
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": clients,
        "groups": [],
        "roles": [role("hub-admin", ADMIN_ACLS), role("hub-bridge", BRIDGE_ACLS)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the plugin's config file")
    parser.add_argument("--admin", required=True, metavar="NAME=VARIABLE")
    parser.add_argument("--bridge", action="append", default=[], metavar="NAME=VARIABLE")
    args = parser.parse_args(argv)
    if args.out.exists():
        print(f"{args.out} exists: left as it is (the broker owns it)")
        return 0
    try:
        doc = document(account(args.admin), [account(b) for b in args.bridge])
    except BootstrapError as err:
        print(f"bootstrap: {err}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_suffix(".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(doc, out, indent=1)
    partial.replace(args.out)
    bridges = ", ".join(c["username"] for c in doc["clients"][1:]) or "none"
    print(f"wrote {args.out}: admin {doc['clients'][0]['username']}, bridges {bridges}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
