"""The bridge's paho client: it reads its socket a chunk at a time and acknowledges a batch
with one write, where paho makes a few system calls per message each way.

Reading. paho-mqtt reads every packet with at least three ``recv`` calls — the fixed header's
first byte, each byte of the remaining length (MQTT 5 §2.1.4, a variable byte integer), then
the rest — and runs one ``select`` per packet, since ``loop_read`` handles a single packet when
no QoS 2 flow is open. :class:`BridgeClient` serves those reads from a buffer filled by one
``recv`` of up to :data:`CHUNK_BYTES`, and keeps reading packets while the buffer holds bytes:
``select`` cannot see bytes already taken out of the kernel, so going back to it with a full
buffer would stall until the next packet arrives. paho's packet state machine is unchanged: a
packet cut across two chunks is the short read it already handles, end of stream is still an
empty read, and TLS errors still go through paho's mapping (the chunk is read with paho's own
``_sock_recv``). The buffer belongs to one socket; a new connection starts empty. Only the
network thread reads (paho's ``loop`` calls ``loop_read``), so the buffer takes no lock.

Acknowledging. ``Client.ack`` queues one PUBACK and writes it at once: a ``send`` for the
packet and one for the byte that wakes the network loop, per message. :meth:`ack_all` queues
the PUBACKs of a whole batch as one write — the same bytes paho would send one by one: a
QoS 1 PUBACK whose reason is Success and that has no properties is the two-byte form, fixed
header and packet identifier only (MQTT 5 §3.4.2.1; MQTT 3.1.1 §3.4). It relies on paho's
``_packet_queue`` (the path ``ack`` takes), so paho is pinned below its next major version.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

CHUNK_BYTES = 64 * 1024
_PUBACK = 0x40  # MQTT control packet type 4, flags 0


class BridgeClient(mqtt.Client):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chunk = memoryview(b"")
        self._chunk_socket: object = None

    # --- reading ------------------------------------------------------------------------

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._chunk_socket is not self._sock:  # a new connection: nothing of the old one
            self._chunk_socket = self._sock
            self._chunk = memoryview(b"")
        if not self._chunk:
            data = super()._sock_recv(CHUNK_BYTES)  # may raise BlockingIOError: nothing yet
            if not data:
                return data  # the peer closed the connection
            self._chunk = memoryview(data)
        served = self._chunk[:bufsize]
        self._chunk = self._chunk[bufsize:]
        return bytes(served)

    @property
    def buffered_bytes(self) -> int:
        """Bytes read from the socket that no packet has taken yet."""
        return len(self._chunk) if self._chunk_socket is self._sock else 0

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self.buffered_bytes:
            rc = super().loop_read(max_packets)
        return rc

    # --- acknowledging ------------------------------------------------------------------

    def ack_all(self, mids: Sequence[int]) -> MQTTErrorCode:
        """Acknowledge QoS 1 messages ``mids`` (manual acknowledgement) with one write."""
        if not mids:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        packets = b"".join(struct.pack("!BBH", _PUBACK, 2, mid) for mid in mids)
        return self._packet_queue(_PUBACK, packets, 0, 1)
