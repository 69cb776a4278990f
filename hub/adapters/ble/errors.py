"""Why a device session failed, by class, and how long to wait before the next attempt.

One table maps exceptions (bleak's, bleak-retry-connector's, ours) to a :class:`Failure`
class, and one table gives each class its :class:`~hub.core.backoff.Backoff`: a device that
is not around is looked for again slowly, a lost link is resumed at once, an adapter out of
connection slots waits for one to free up. Each device backs off on its own: one device's
failures never delay another.
"""

from __future__ import annotations

import enum

from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bleak_retry_connector import (
    BleakAbortedError,
    BleakConnectionError,
    BleakNotFoundError,
    BleakOutOfConnectionSlotsError,
)

from hub.core.backoff import Backoff


class LinkLost(Exception):
    """The link dropped (supervision timeout, the device went away, or it disconnected)."""


class DeviceTimeout(Exception):
    """The device did not answer in time (a read, a write, a control point response)."""


class GattFailure(Exception):
    """The device answered a GATT request with an ATT error."""

    def __init__(self, code: int, what: str) -> None:
        super().__init__(f"{what}: ATT error 0x{code:02X}")
        self.code = code


class OutboxFull(Exception):
    """The gateway's outbox is nearly full: fetch nothing more until acks make room."""


class Failure(enum.StrEnum):
    NOT_FOUND = "not-found"  # not advertising, or unknown to the adapter
    OUT_OF_SLOTS = "out-of-slots"  # the adapter has no free connection
    ABORTED = "aborted"  # the connection was aborted or rejected
    CONNECT = "connect"  # another connection failure
    TIMEOUT = "timeout"
    LINK_LOST = "link-lost"
    GATT = "gatt"  # an ATT error: the device refuses what its profile says it does
    OUTBOX_FULL = "outbox-full"


# Most specific first: bleak-retry-connector's errors are BleakErrors too.
_CLASSES: tuple[tuple[type[BaseException], Failure], ...] = (
    (BleakOutOfConnectionSlotsError, Failure.OUT_OF_SLOTS),
    (BleakNotFoundError, Failure.NOT_FOUND),
    (BleakDeviceNotFoundError, Failure.NOT_FOUND),
    (BleakAbortedError, Failure.ABORTED),
    (BleakConnectionError, Failure.CONNECT),
    (LinkLost, Failure.LINK_LOST),
    (EOFError, Failure.LINK_LOST),
    (BrokenPipeError, Failure.LINK_LOST),
    (GattFailure, Failure.GATT),
    (BleakGATTProtocolError, Failure.GATT),
    (DeviceTimeout, Failure.TIMEOUT),
    (TimeoutError, Failure.TIMEOUT),
    (OutboxFull, Failure.OUTBOX_FULL),
    (BleakError, Failure.CONNECT),
)

BACKOFFS: dict[Failure, Backoff] = {
    Failure.NOT_FOUND: Backoff(base=5.0, cap=120.0),
    Failure.OUT_OF_SLOTS: Backoff(base=10.0, cap=120.0),
    Failure.ABORTED: Backoff(base=2.0, cap=60.0),
    Failure.CONNECT: Backoff(base=2.0, cap=60.0),
    Failure.TIMEOUT: Backoff(base=2.0, cap=60.0),
    Failure.LINK_LOST: Backoff(base=0.5, cap=30.0),
    Failure.GATT: Backoff(base=10.0, cap=600.0),
    Failure.OUTBOX_FULL: Backoff(base=30.0, cap=300.0),
}


def classify(error: BaseException) -> Failure | None:
    """The class of a session failure; None for an error that is a bug (to be logged)."""
    for kind, failure in _CLASSES:
        if isinstance(error, kind):
            return failure
    return None
