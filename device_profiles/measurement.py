"""The value every decoder returns: one coded measurement, as the device stated it.

A :class:`Measurement` is still in the device's terms: its clock (``time``), its unit
(``unit``, UCUM) and its precision (``value`` is a :class:`~decimal.Decimal`, so an IEEE 11073
SFLOAT ``mantissa=1234, exponent=-1`` stays ``123.4`` and never becomes ``123.40000000000001``).
The hub turns it into a stored ``Reading`` (canonical unit, effective time, patient).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


class Special(enum.Enum):
    """IEEE 11073-20601 special values (§F.8 of the PHD standard; GATT Supplement §2.2.2).

    They are represented as themselves, never silently turned into numbers.
    """

    NAN = "NaN"
    NRES = "NRes"  # not at this resolution
    POSITIVE_INFINITY = "+INF"
    NEGATIVE_INFINITY = "-INF"
    RESERVED = "reserved"


@dataclass(frozen=True, slots=True)
class Measurement:
    """One decoded measurement.

    Attributes:
        metric: key in :data:`device_profiles.vocabulary.METRICS` (e.g. ``"systolic_bp"``);
            the MDC code, LOINC code and canonical UCUM unit come from there.
        value: the number at the device's precision; ``None`` exactly when ``special`` is set.
        unit: the UCUM code of ``value`` as the device sent it (``"mmol/L"``, ``"kPa"``...).
        special: an IEEE 11073 special value instead of a number.
        time: the device's own timestamp. Naive means "device local clock, zone unknown"
            (BLE Date Time); aware means the device stated its offset (JSON with ``Z``/offset).
        time_raw: the timestamp exactly as sent (ISO-8601 text for JSON, the decoded
            fields in ISO form for BLE), kept for provenance and reading identity.
        sequence: the device's record sequence number, where it has one.
        user_id: the device's user index (multi-user scales and cuffs), where present.
        annotations: status as short stable strings (``"LO"``, ``"HI"``,
            ``"control-solution"``, ``"cuff-loose"``, ``"irregular-pulse"``...).
    """

    metric: str
    value: Decimal | None
    unit: str
    special: Special | None = None
    time: datetime | None = None
    time_raw: str | None = None
    sequence: int | None = None
    user_id: int | None = None
    annotations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.value is None) == (self.special is None):
            raise ValueError("a Measurement has exactly one of value and special")

    @property
    def is_control(self) -> bool:
        """A control-solution or calibration sample: never a patient reading."""
        return "control-solution" in self.annotations
