"""Any characteristic's typed record as a JSON-ready value (``hub decode``).

One conversion for every codec's record, field by field (dataclasses), so that what a device
sent reads the same whatever the characteristic — measurements, contexts, features, RACP
responses, clocks:

==========================  ==========================================================
``IntEnum``                 ``{"code": 3, "name": "fasting"}``
``IntFlag``                 ``{"code": 5, "flags": ["battery_low", "sample_size_..."]}``
other ``Enum``              its value (UCUM units, IEEE 11073 special values ``"NaN"``)
``Decimal``, ``int``        the number, exactly (dump with ``strict_json.dumps``)
Date Time                   ISO 8601 without zone (``"2026-11-28T10:00:00"``; unknown
                            fields as zeros, as sent)
``bytes``                   hex
==========================  ==========================================================

Some records say more than their fields (:data:`_DERIVED`): RR intervals in seconds (Heart
Rate Measurement), and each Body Composition field with its unit and its MDC/LOINC codes
where a code could be verified (``device_profiles.weight.body_composition_fields``).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from device_profiles.gatt_time import GattDateTime
from device_profiles.heart_rate import HeartRateRecord
from device_profiles.vocabulary import METRICS
from device_profiles.weight import BodyCompositionRecord, body_composition_fields


def to_json(value: object) -> object:
    """``value`` (a record, or anything in one) as JSON-ready data (see the module docstring)."""
    if value is None or isinstance(value, bool | str | Decimal):
        return value
    if isinstance(value, enum.IntFlag):
        names = [m.name.lower() for m in type(value) if m.value and m in value and m.name]
        return {"code": int(value), "flags": names}
    if isinstance(value, enum.IntEnum):
        return {"code": int(value), "name": value.name.lower()}
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, int):
        return value
    if isinstance(value, GattDateTime):
        return value.iso()
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        derived = _DERIVED.get(type(value))
        return {**fields, **(derived(value) if derived else {})}
    raise TypeError(f"no JSON view of {type(value).__name__}")


def _heart_rate(record: Any) -> dict[str, object]:
    assert isinstance(record, HeartRateRecord)
    return {"rr_intervals_s": list(record.rr_intervals_s)}


def _body_composition(record: Any) -> dict[str, object]:
    assert isinstance(record, BodyCompositionRecord)
    coded = []
    for name, value, unit, metric in body_composition_fields(record):
        definition = METRICS.get(metric) if metric else None
        coded.append(
            {
                "field": name,
                "value": value,
                "unit": unit,
                "metric": metric,
                "mdc": None
                if definition is None
                else {"code": definition.mdc_code, "ref": definition.mdc_ref},
                "loinc": None if definition is None else definition.loinc,
            }
        )
    return {"coded_fields": coded}


_DERIVED: dict[type, Callable[[Any], dict[str, object]]] = {
    HeartRateRecord: _heart_rate,
    BodyCompositionRecord: _body_composition,
}
