"""Deterministic reading identity (docs/model.md, docs/wire.md "Reading identity").

The identity is derived from the device's own facts only — device id, metric, the device's
timestamp *as sent*, the value and unit as sent, and the device's sequence number where it has
one — never from MQTT packet ids, arrival time or the path taken. MQTT redelivery, provider
retries, RACP re-reads and two gateways hearing one device therefore all land on the same
identity, and the stores keep the reading once.

A device that sends no timestamp and no sequence number gives no way to tell a repeated
reading from a new one with the same value; for those the caller passes the receive time as
``time_raw`` (documented in docs/wire.md): retries then dedupe only when they carry the same
time.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

IDENTITY_VERSION = "1"


def canonical_decimal(value: Decimal) -> str:
    """``104``, ``104.0`` and ``1.04E+2`` all give ``"104"``."""
    normalized = value.normalize()
    text = format(normalized, "f")
    return "0" if text in ("-0", "0") else text


def reading_identity(
    *,
    device_id: str,
    metric: str,
    time_raw: str | None,
    value: Decimal | str,
    unit: str,
    seq: int | None,
) -> str:
    """A 32-hex-digit identity (SHA-256, truncated to 128 bits)."""
    value_text = canonical_decimal(value) if isinstance(value, Decimal) else value
    parts = (
        IDENTITY_VERSION,
        device_id,
        metric,
        time_raw or "",
        value_text,
        unit,
        "" if seq is None else str(seq),
    )
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:32]


ID_PATTERN = r"[A-Za-z0-9._:-]{1,128}"
"""The hub's identifier syntax (docs/wire.md): device, gateway and MQTT client ids and
usernames. It names MQTT topic levels and broker accounts, so no wildcard (``+ #``), level
separator (``/``) or control character can reach a topic or an ACL. The one definition:
settings, the wire contract, the API and the gateway's configuration use it (anchored with
:data:`ANCHORED_ID_PATTERN` where a validator wants ``^...$``)."""
ANCHORED_ID_PATTERN = rf"^{ID_PATTERN}$"

_PATIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_DEVICE_ID = re.compile(ID_PATTERN)
_LOOKS_LIKE_NIR = re.compile(r"[12][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{6}(?:[0-9]{2})?")


def check_patient_id(patient_id: str) -> str | None:
    """Why ``patient_id`` is not a valid pseudonymous patient id, or None if it is.

    Stores and logs hold pseudonymous ids only: an id shaped like a French NIR/INS
    (13 characters, optionally with its 2-digit key) is refused so it never lands there.
    """
    if not _PATIENT_ID.fullmatch(patient_id):
        return "must be 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit"
    if _LOOKS_LIKE_NIR.fullmatch(patient_id):
        return "looks like a national health identifier (INS/NIR); use the pseudonymous patient id"
    return None


def check_device_id(device_id: str) -> str | None:
    """Why ``device_id`` is not valid (the wire contract's id syntax), or None if it is."""
    if not _DEVICE_ID.fullmatch(device_id):
        return "must be 1-128 characters of A-Z a-z 0-9 . _ : -"
    return None
