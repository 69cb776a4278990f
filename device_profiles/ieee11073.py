"""IEEE 11073-20601 SFLOAT and FLOAT: the medical number formats of the GATT health profiles.

GATT Specification Supplement, "Data types": ``medfloat16`` (SFLOAT) and ``medfloat32``
(FLOAT), as defined by IEEE 11073-20601 Annex F.8.

* SFLOAT, 16 bits: a 4-bit exponent (bits 12-15) and a 12-bit mantissa (bits 0-11), both
  two's complement; value = mantissa * 10**exponent.
* FLOAT, 32 bits: an 8-bit exponent (bits 24-31) and a 24-bit mantissa (bits 0-23).

With exponent 0, five mantissas are special values, never numbers:

============  ==========  ==========
special       SFLOAT      FLOAT
============  ==========  ==========
NaN           0x07FF      0x007FFFFF
NRes          0x0800      0x00800000
+INF          0x07FE      0x007FFFFE
-INF          0x0802      0x00800002
reserved      0x0801      0x00800001
============  ==========  ==========

Invariants: a decoded number is ``Decimal`` built from its exact (mantissa, exponent) pair,
so the device's precision survives (``mantissa=1234, exponent=-1`` is ``Decimal("123.4")``);
an encoder given such a ``Decimal`` writes back the same pair, so ``encode(decode(raw)) ==
raw`` for every non-special raw value. Nothing here reads a decimal context.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypeAlias

from device_profiles.errors import DecodeError, EncodeError
from device_profiles.measurement import Special

#: A field that holds an IEEE 11073 number: a ``Decimal`` or a special value.
Numeric: TypeAlias = Decimal | Special


@dataclass(frozen=True, slots=True)
class _Format:
    name: str
    mantissa_bits: int
    exponent_bits: int
    specials: dict[int, Special]  # raw value (exponent 0) -> special

    @property
    def mantissa_min(self) -> int:
        return -(1 << (self.mantissa_bits - 1))

    @property
    def mantissa_max(self) -> int:
        return (1 << (self.mantissa_bits - 1)) - 1

    @property
    def exponent_min(self) -> int:
        return -(1 << (self.exponent_bits - 1))

    @property
    def exponent_max(self) -> int:
        return (1 << (self.exponent_bits - 1)) - 1


SFLOAT_SPECIALS: dict[int, Special] = {
    0x07FF: Special.NAN,
    0x0800: Special.NRES,
    0x07FE: Special.POSITIVE_INFINITY,
    0x0802: Special.NEGATIVE_INFINITY,
    0x0801: Special.RESERVED,
}
FLOAT_SPECIALS: dict[int, Special] = {
    0x007FFFFF: Special.NAN,
    0x00800000: Special.NRES,
    0x007FFFFE: Special.POSITIVE_INFINITY,
    0x00800002: Special.NEGATIVE_INFINITY,
    0x00800001: Special.RESERVED,
}

_SFLOAT = _Format("SFLOAT", 12, 4, SFLOAT_SPECIALS)
_FLOAT = _Format("FLOAT", 24, 8, FLOAT_SPECIALS)


def _signed(raw: int, bits: int) -> int:
    return raw - (1 << bits) if raw & (1 << (bits - 1)) else raw


def _from_parts(mantissa: int, exponent: int) -> Decimal:
    # String construction is exact and context-free: the coefficient and exponent are kept.
    return Decimal(f"{mantissa}E{exponent}")


def _decode(raw: int, fmt: _Format) -> Numeric:
    width = fmt.mantissa_bits + fmt.exponent_bits
    if not 0 <= raw < (1 << width):
        raise DecodeError(f"{fmt.name} raw value out of range: {raw:#x}", field=fmt.name)
    special = fmt.specials.get(raw)
    if special is not None:
        return special
    mask = (1 << fmt.mantissa_bits) - 1
    mantissa = _signed(raw & mask, fmt.mantissa_bits)
    exponent = _signed(raw >> fmt.mantissa_bits, fmt.exponent_bits)
    return _from_parts(mantissa, exponent)


def decode_sfloat(raw: int) -> tuple[Decimal | None, Special | None]:
    """The value of a 16-bit SFLOAT: ``(number, None)`` or ``(None, special)``."""
    return split_numeric(_decode(raw, _SFLOAT))


def decode_float(raw: int) -> tuple[Decimal | None, Special | None]:
    """The value of a 32-bit FLOAT: ``(number, None)`` or ``(None, special)``."""
    return split_numeric(_decode(raw, _FLOAT))


def sfloat_numeric(raw: int) -> Numeric:
    """The value of a 16-bit SFLOAT as one :data:`Numeric`."""
    return _decode(raw, _SFLOAT)


def float_numeric(raw: int) -> Numeric:
    """The value of a 32-bit FLOAT as one :data:`Numeric`."""
    return _decode(raw, _FLOAT)


def split_numeric(value: Numeric) -> tuple[Decimal | None, Special | None]:
    """``(value, special)`` as :class:`~device_profiles.measurement.Measurement` wants them."""
    if isinstance(value, Special):
        return None, value
    return value, None


def _parts(value: Decimal, fmt: _Format, field: str) -> tuple[int, int]:
    if not value.is_finite():
        raise EncodeError(f"{value} is not finite; use a Special", field=field)
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    mantissa = int("".join(map(str, digits)))
    return (-mantissa if sign else mantissa), exponent


def _fits(mantissa: int, exponent: int, fmt: _Format) -> bool:
    if not (fmt.mantissa_min <= mantissa <= fmt.mantissa_max):
        return False
    if not (fmt.exponent_min <= exponent <= fmt.exponent_max):
        return False
    # With exponent 0 the special bit patterns are not numbers.
    return not (exponent == 0 and (mantissa & ((1 << fmt.mantissa_bits) - 1)) in fmt.specials)


def _encode(value: Numeric, fmt: _Format, field: str) -> int:
    if isinstance(value, Special):
        for raw, special in fmt.specials.items():
            if special is value:
                return raw
        raise EncodeError(f"no {fmt.name} encoding for {value}", field=field)  # pragma: no cover
    mantissa, exponent = _parts(value, fmt, field)
    if mantissa == 0:
        exponent = min(max(exponent, fmt.exponent_min), fmt.exponent_max)
    # Keep the device's own (mantissa, exponent) when it fits; otherwise move trailing zeros
    # between mantissa and exponent: the value stays exact or the encoder refuses.
    while exponent > fmt.exponent_max and fmt.mantissa_min <= mantissa * 10 <= fmt.mantissa_max:
        mantissa, exponent = mantissa * 10, exponent - 1
    while not _fits(mantissa, exponent, fmt) and mantissa % 10 == 0 and mantissa != 0:
        if exponent >= fmt.exponent_max:
            break
        mantissa, exponent = mantissa // 10, exponent + 1
    if not _fits(mantissa, exponent, fmt):
        raise EncodeError(f"{value} is not exactly representable as {fmt.name}", field=field)
    mask = (1 << fmt.mantissa_bits) - 1
    exponent_mask = (1 << fmt.exponent_bits) - 1
    return ((exponent & exponent_mask) << fmt.mantissa_bits) | (mantissa & mask)


def encode_sfloat(value: Numeric, *, field: str = "sfloat") -> int:
    """The 16-bit SFLOAT for ``value``; :class:`EncodeError` if it is not exactly representable."""
    return _encode(value, _SFLOAT, field)


def encode_float(value: Numeric, *, field: str = "float") -> int:
    """The 32-bit FLOAT for ``value``; :class:`EncodeError` if it is not exactly representable."""
    return _encode(value, _FLOAT, field)


def scale10(value: Decimal, places: int) -> Decimal:
    """``value * 10**places`` exactly, keeping the coefficient (kg/L -> mg/dL is ``places=5``).

    Context-free: only the exponent moves, so ``scale10(scale10(v, n), -n)`` has ``v``'s digits.
    """
    if not value.is_finite():
        raise EncodeError(f"{value} is not finite; use a Special", field="value")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    return Decimal((sign, digits, exponent + places))
