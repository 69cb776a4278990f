"""Radio fault switches of one simulated peripheral, flipped at run time by tests or a demo.

Each switch mimics what a collector sees from a real device and a real BlueZ:

* ``out_of_range`` — the device stops advertising (discovery no longer reports it) and a
  connected link drops at the next radio tick (``org.bluez.Reason.Timeout``, the supervision
  timeout). ``Connect`` waits ``connect_timeout_s`` then fails with ``org.bluez.Error.Failed``
  and ``connect_error``: the kernel's LE connection attempt gives up. Kernels differ in what
  they report (``le-connection-timeout``, or ``le-connection-abort-by-local`` on recent ones,
  which bleak takes for interference and retries until its own timeout).
* ``connect_in_progress`` — the next N ``Connect`` calls answer ``org.bluez.Error.InProgress``
  (as when another Connect or a pairing is pending).
* ``connect_abort`` — the next N connections come up (``Connected`` true) and drop at once;
  ``Connect`` answers ``org.bluez.Error.Failed: le-connection-abort-by-local`` (RF interference).
* ``link_loss_after`` — the link drops (``org.bluez.Reason.Timeout``) once that many more
  notifications or indications have been delivered: a disconnection mid-transfer. One-shot.
* ``connect_delay_s``, ``read_delay_s``, ``write_delay_s``, ``notify_interval_s`` — a slow
  device: real seconds before the connection, each read or write response, each notification.

Counters are consumed as they fire; delays are real time (the event loop is never blocked).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway_firmware_sim.bluez.errors import LeConnectError


@dataclass(slots=True)
class Faults:
    out_of_range: bool = False
    connect_error: LeConnectError = LeConnectError.TIMEOUT
    connect_timeout_s: float = 2.0
    connect_in_progress: int = 0
    connect_abort: int = 0
    link_loss_after: int | None = None
    connect_delay_s: float = 0.0
    read_delay_s: float = 0.0
    write_delay_s: float = 0.0
    notify_interval_s: float = 0.0

    def take_connect_in_progress(self) -> bool:
        """Whether this Connect answers InProgress (one firing consumed)."""
        if self.connect_in_progress <= 0:
            return False
        self.connect_in_progress -= 1
        return True

    def take_connect_abort(self) -> bool:
        """Whether this connection aborts at once (one firing consumed)."""
        if self.connect_abort <= 0:
            return False
        self.connect_abort -= 1
        return True

    def count_delivered(self) -> bool:
        """One notification delivered; whether the link must drop now."""
        if self.link_loss_after is None:
            return False
        self.link_loss_after -= 1
        if self.link_loss_after > 0:
            return False
        self.link_loss_after = None
        return True
