"""From queued gateway frames to frames messages of the wire contract (pure; docs/wire.md).

A BLE gateway — the product (``hub ble-gateway``) and the simulated firmware alike — keeps
what its devices sent as :class:`OutboxItem` values in its durable outbox
(``hub.adapters.frame_outbox``) and publishes them as one frames document per device on
``hs/v1/gateways/{id}/frames``. This module decides how those items travel:

* :func:`chunk_frames` splits one device's due items into messages of at most
  ``limit`` frames. A *context* frame dates the records that refer to it (``context_seq``)
  only within one message (``hub/core/decoding.py``): the device clock read on connecting
  (Current Time 0x2A2B, Date Time 0x2A08) or a CGM Session Start Time (0x2AAA). So every
  message carrying such records starts with their context, one message never mixes two
  contexts, and a Glucose Measurement is never separated from its Context (0x2A34).
* :func:`frames_message` encodes the envelope: gateway time with its offset, the gateway's
  IANA zone, the device, and the frames.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Kinds of the frames that date the frames referring to them (see the module docstring).
CONTEXT_KINDS = frozenset({"2AAA", "2A2B", "2A08"})
# The wire contract allows 500 frames a message; a smaller message is acked sooner.
MAX_FRAMES_PER_MESSAGE = 200
# A Glucose Measurement Context travels with the measurement before it.
_FOLLOWER_KIND = "2A34"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One thing to deliver: a characteristic value (``kind`` = its 16-bit UUID, ``"2A35"``),
    or a device message (``kind`` names its shape). ``time``: when the gateway received it
    (RFC 3339 with offset); ``context_seq``: the seq of the context frame that dates it."""

    stream: str
    seq: int
    kind: str
    data: bytes
    time: str | None = None
    context_seq: int | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.stream, self.seq)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """The ``device`` of a frames envelope: the hub's id, the BLE address, the profile."""

    device_id: str
    address: str
    profile_id: str


def frames_message(
    gateway_time: str, info: DeviceInfo, items: Sequence[OutboxItem], *, zone: str | None = None
) -> bytes:
    """The frames envelope of docs/wire.md for one device (compact JSON, UTF-8).

    ``gateway_time`` states the gateway's UTC offset; ``zone`` is its IANA zone, in which the
    hub reads a device's local times.
    """
    document: dict[str, object] = {"gateway_time": gateway_time}
    if zone is not None:
        document["zone"] = zone
    device = {"id": info.device_id, "profile": info.profile_id}
    if info.address:
        device["address"] = info.address
    document["device"] = device
    document["frames"] = [
        {"seq": i.seq, "uuid": i.kind, "data": i.data.hex(), **({"time": i.time} if i.time else {})}
        for i in items
    ]
    return json.dumps(document, separators=(",", ":")).encode()


def chunk_frames(
    items: Sequence[OutboxItem],
    context_of: Mapping[int, OutboxItem],
    limit: int = MAX_FRAMES_PER_MESSAGE,
) -> list[list[OutboxItem]]:
    """Split one device's due items (seq order) into messages (see the module docstring).

    ``context_of`` maps a context seq to its item (pending, or acknowledged and kept by the
    outbox because records still refer to it).
    """
    chunks: list[list[OutboxItem]] = []
    chunk: list[OutboxItem] = []
    context: int | None = None

    def close() -> None:
        nonlocal chunk, context
        if chunk:
            if context is not None and all(i.seq != context for i in chunk):
                leader = context_of.get(context)
                if leader is not None:
                    chunk.insert(0, leader)
            chunks.append(chunk)
        chunk, context = [], None

    for item in items:
        key = item.seq if item.kind in CONTEXT_KINDS else item.context_seq
        full = len(chunk) >= limit and item.kind != _FOLLOWER_KIND
        if chunk and (full or (key is not None and context is not None and key != context)):
            close()
        if key is not None:
            context = key
        chunk.append(item)
    close()
    return chunks
