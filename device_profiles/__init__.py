"""Pure decoding of health-device data: bytes or JSON in, coded measurements out.

This package performs no IO, reads no clock and logs nothing (see ``docs/architecture.md``).
Everything it raises on bad input is a :class:`device_profiles.errors.DecodeError`.
"""

from device_profiles.errors import DecodeError, ProfileError
from device_profiles.measurement import Measurement, Special
from device_profiles.vocabulary import METRICS, MetricDef, UnitError, lookup_metric, to_canonical

__all__ = [
    "METRICS",
    "DecodeError",
    "Measurement",
    "MetricDef",
    "ProfileError",
    "Special",
    "UnitError",
    "lookup_metric",
    "to_canonical",
]
