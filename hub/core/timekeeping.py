"""Device time you can trust: clock offsets measured at upload, and named time zones.

Pure: times in, times out; nothing here reads a clock.

**The device's clock, read at upload** (:class:`ClockReading`). Whoever uploads a device's
records also reads the device's *current* clock at a moment whose true time it knows: a BLE
gateway reads Current Time (0x2A2B) or Date Time (0x2A08) on connection and states its own
(NTP) time; a PHD gateway sends a *coincident time stamp* Observation (HL7 PHD IG, "Coincident
Time Stamp", MDC_ATTR_TIME_ABS); an MQTT-native device may send ``device_now``, compared with
the hub's receive time. The difference is the clock's offset at upload.

**One offset per upload** (Tidepool's "bootstrapping to UTC"): the offset measured at upload is
applied to every record of that upload, so a back-filled history keeps its shape and order. A
clock within :attr:`TimePolicy.tolerance` of the truth is right: its records keep their own
time. Because the offset comes from the device's clock itself, a fast or slow clock is found
whatever the delay between a measurement and its upload.

**Named zones.** A device clock that states no UTC offset (BLE Date Time is local wall-clock
time) is read in an IANA zone — the device's, else its gateway's, else the patient's — per
record, with ``zoneinfo``: a record before a daylight-saving change gets the offset in force
then. A local time that does not exist (the hour skipped in spring) is read with the offset in
force just before the change and flagged ``time-nonexistent``; a repeated local time (the hour
lived twice in autumn) is resolved by the records' order (sequence numbers, else the order
received) where the neighbours decide it, else the first occurrence is taken and the reading
flagged ``time-ambiguous``.

**No offset, and a time that cannot be right** — later than the reference time by more than the
tolerance, or before :attr:`TimePolicy.earliest` (clocks reset to their epoch) — the reading
keeps the time as sent, is flagged ``time-unknown`` and stays out of time-based views. It is
never stamped "now".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class ClockMethod(enum.StrEnum):
    """How a device's current clock was read."""

    CURRENT_TIME = "current-time"  # BLE Current Time 0x2A2B, read by a gateway on connection
    DATE_TIME = "date-time"  # BLE Date Time 0x2A08, read by a gateway on connection
    DEVICE_NOW = "device-now"  # the device's own clock in its message, vs hub receive time
    PHD_COINCIDENT = "phd-coincident"  # HL7 PHD coincident time stamp (PHG time, device time)


@dataclass(frozen=True, slots=True)
class ClockReading:
    """A device's own clock, read when the true time was ``reference_time``.

    ``device_time`` is what the clock showed: naive = local wall-clock time with no stated
    zone; aware = the device stated its UTC offset. ``reference_time`` is always aware.
    """

    device_time: datetime
    device_time_raw: str
    reference_time: datetime
    method: ClockMethod
