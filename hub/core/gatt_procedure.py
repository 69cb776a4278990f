"""What a gateway does with each characteristic of a device's catalog profile (pure data).

The procedure of a connection follows from the ``[ble]`` characteristics of the device's
``ble-gatt`` catalog profile, one role per characteristic (:data:`ROLES`, a table):

=============  ======================================================================
``PUSHED``     measurement the device notifies or indicates: subscribed, forwarded
               (Blood Pressure 2A35, Temperature 2A1C, Weight 2A9D, Body Composition
               2A9C, PLX 2A5E/2A5F, Heart Rate 2A37, CGM 2AA7, Glucose 2A18)
``CONTEXT``    Glucose Measurement Context (2A34): subscribed, forwarded with the
               measurement of the same sequence number (Glucose Service)
``IGNORED``    intermediate values, never stored (Intermediate Cuff Pressure 2A36,
               Intermediate Temperature 2A1E): not subscribed
``FEATURE``    read once per pairing and forwarded (Weight Scale Feature 2A9E)
``SESSION``    read on every connection: it dates the records after it (CGM Session
               Start Time 2AAA)
``CONTROL``    the Record Access Control Point (2A52): indications subscribed, records
               fetched through it (``hub.core.racp_session``)
=============  ======================================================================

A device with live values (:data:`LIVE`) keeps its link; the others are visited: their
stored records fetched, then the connection slot freed for the next device.

Besides the profile's own characteristics a gateway reads the device clock — Current Time
(0x2A2B, Current Time Service) or else Date Time (0x2A08) — on every connection where the
device has one, forwards it as a context frame that dates the records fetched on that
connection (``hub.core.frame_messages``), then sets it; and reads Battery Level (0x2A19)
for its status. A profile with a ``SESSION`` characteristic (CGM) dates its records by it
instead of by the clock; a device without a clock (heart-rate strap) has its records dated
by the gateway's receive time at the hub.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from device_profiles import uuids
from device_profiles.cgm import parse_cgm_measurement
from device_profiles.errors import DecodeError
from device_profiles.glucose import parse_glucose_measurement


class Role(enum.Enum):
    PUSHED = "pushed"
    CONTEXT = "context"
    IGNORED = "ignored"
    FEATURE = "feature"
    SESSION = "session"
    CONTROL = "control"


ROLES: dict[int, Role] = {
    uuids.GLUCOSE_MEASUREMENT: Role.PUSHED,
    uuids.GLUCOSE_MEASUREMENT_CONTEXT: Role.CONTEXT,
    uuids.BLOOD_PRESSURE_MEASUREMENT: Role.PUSHED,
    uuids.INTERMEDIATE_CUFF_PRESSURE: Role.IGNORED,
    uuids.HEART_RATE_MEASUREMENT: Role.PUSHED,
    uuids.TEMPERATURE_MEASUREMENT: Role.PUSHED,
    uuids.INTERMEDIATE_TEMPERATURE: Role.IGNORED,
    uuids.PLX_SPOT_CHECK_MEASUREMENT: Role.PUSHED,
    uuids.PLX_CONTINUOUS_MEASUREMENT: Role.PUSHED,
    uuids.WEIGHT_MEASUREMENT: Role.PUSHED,
    uuids.BODY_COMPOSITION_MEASUREMENT: Role.PUSHED,
    uuids.WEIGHT_SCALE_FEATURE: Role.FEATURE,
    uuids.CGM_MEASUREMENT: Role.PUSHED,
    uuids.CGM_SESSION_START_TIME: Role.SESSION,
    uuids.RECORD_ACCESS_CONTROL_POINT: Role.CONTROL,
}

# Values sent only while someone listens, never kept by the device: whoever wants them stays
# connected (Heart Rate Measurement, CGM Measurement, PLX Continuous Measurement).
LIVE = frozenset(
    {uuids.HEART_RATE_MEASUREMENT, uuids.CGM_MEASUREMENT, uuids.PLX_CONTINUOUS_MEASUREMENT}
)

# The device clock, in order of preference (Current Time carries fractions and a weekday).
CLOCK_CHARACTERISTICS: tuple[int, ...] = (uuids.CURRENT_TIME, uuids.DATE_TIME)


class RecordKey(enum.Enum):
    """What numbers the records the control point reports (its filter type 1 operand)."""

    SEQUENCE_NUMBER = "sequence-number"  # Glucose Measurement, bytes 1-2
    TIME_OFFSET = "time-offset"  # CGM Measurement, its Time Offset field


@dataclass(frozen=True, slots=True)
class Procedure:
    """The characteristics of one profile by role, and how its records are numbered."""

    pushed: tuple[int, ...]
    context: int | None
    features: tuple[int, ...]
    session: int | None
    control_point: int | None
    record_key: RecordKey | None

    @property
    def stays_connected(self) -> bool:
        """Whether the gateway holds the link (live values) or visits the device: fetches
        what it stored, lingers, leaves the connection slot to others, comes back."""
        return any(number in LIVE for number in self.pushed)

    @property
    def subscribed(self) -> tuple[int, ...]:
        """What to enable notifications or indications on, in this order."""
        extra = (self.context,) if self.context is not None else ()
        control = (self.control_point,) if self.control_point is not None else ()
        return (*self.pushed, *extra, *control)


_RECORD_KEYS: dict[int, RecordKey] = {
    uuids.GLUCOSE_MEASUREMENT: RecordKey.SEQUENCE_NUMBER,
    uuids.CGM_MEASUREMENT: RecordKey.TIME_OFFSET,
}


def procedure_for(characteristics: Iterable[int]) -> Procedure:
    """The procedure of a profile listing ``characteristics`` (unknown ones are skipped)."""
    by_role: dict[Role, list[int]] = {role: [] for role in Role}
    for number in characteristics:
        role = ROLES.get(number)
        if role is not None:
            by_role[role].append(number)
    control = by_role[Role.CONTROL][0] if by_role[Role.CONTROL] else None
    keys = [_RECORD_KEYS[n] for n in by_role[Role.PUSHED] if n in _RECORD_KEYS]
    return Procedure(
        pushed=tuple(by_role[Role.PUSHED]),
        context=by_role[Role.CONTEXT][0] if by_role[Role.CONTEXT] else None,
        features=tuple(by_role[Role.FEATURE]),
        session=by_role[Role.SESSION][0] if by_role[Role.SESSION] else None,
        control_point=control,
        record_key=keys[0] if control is not None and keys else None,
    )


def record_key(number: int, data: bytes) -> int | None:
    """The control point's number of a record value (Glucose Measurement sequence number, the
    newest CGM Measurement time offset), or None when the value does not decode — it is still
    forwarded, and the hub dead-letters it with its reason."""
    try:
        if number == uuids.GLUCOSE_MEASUREMENT:
            return parse_glucose_measurement(data).sequence
        if number == uuids.CGM_MEASUREMENT:
            return max(record.time_offset for record in parse_cgm_measurement(data))
    except DecodeError:
        return None
    return None


def context_follows(number: int, data: bytes) -> bool:
    """Whether a Glucose Measurement announces a Context of the same sequence number."""
    if number != uuids.GLUCOSE_MEASUREMENT:
        return False
    try:
        return parse_glucose_measurement(data).context_follows
    except DecodeError:
        return False
