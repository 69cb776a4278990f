"""Bluetooth UUIDs in the form BlueZ speaks on D-Bus: 128 bits, lowercase, dashed.

Core Specification Vol 3 Part B §2.5.1: a 16- or 32-bit UUID is a shorthand for the Bluetooth
Base UUID ``0000xxxx-0000-1000-8000-00805f9b34fb`` with its value in the first 32 bits. BlueZ
exports every UUID (``UUIDs``, ``GattService1.UUID``...) in the 128-bit form and accepts the
short forms in ``Adapter1.SetDiscoveryFilter`` (``bt_string_to_uuid``). Anything else is a
:class:`ValueError`.
"""

from __future__ import annotations

import re

_BASE_SUFFIX = "-0000-1000-8000-00805f9b34fb"
_SHORT = re.compile(r"(?:0x)?([0-9a-f]{4}|[0-9a-f]{8})")
_FULL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def uuid128(number: int) -> str:
    """The 128-bit form of a 16- or 32-bit assigned number (``0x180D`` -> ``0000180d-...``)."""
    if not 0 <= number <= 0xFFFFFFFF:
        raise ValueError(f"{number!r} is not a 16- or 32-bit UUID")
    return f"{number:08x}{_BASE_SUFFIX}"


def parse_uuid(text: str) -> str:
    """The 128-bit form of ``text`` (16-bit, 32-bit with or without ``0x``, or 128-bit)."""
    lowered = text.strip().lower()
    if _FULL.fullmatch(lowered):
        return lowered
    short = _SHORT.fullmatch(lowered)
    if short is None:
        raise ValueError(f"{text!r} is not a Bluetooth UUID")
    return uuid128(int(short.group(1), 16))
