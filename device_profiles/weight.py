"""Weight Measurement (0x2A9D), Weight Scale Feature (0x2A9E), Body Composition (0x2A9C).

GATT Specification Supplement, characteristic "Weight Measurement"
(``org.bluetooth.characteristic.weight_measurement``)::

    flags u8      bit 0 units: 0 SI (kg, m), 1 imperial (lb, in)
                  bit 1 Time Stamp present, bit 2 User ID present,
                  bit 3 BMI and Height present, bits 4-7 reserved
    weight u16    SI 0.005 kg, imperial 0.01 lb; 0xFFFF = measurement unsuccessful
    [time stamp   Date Time, 7 bytes]
    [user id      u8, 0xFF = unknown user]
    [BMI u16 0.1 kg/m2, height u16: SI 0.001 m, imperial 0.1 in]

"Weight Scale Feature" (``...weight_scale_feature``), u32: bit 0 time stamp supported,
bit 1 multiple users supported, bit 2 BMI supported, bits 3-6 weight resolution (0 not
specified, 1..7 = 0.5/0.2/0.1/0.05/0.02/0.01/0.005 kg or 1/0.5/0.2/0.1/0.05/0.02/0.01 lb),
bits 7-9 height resolution (0 not specified, 1..3 = 0.01/0.005/0.001 m or 1/0.5/0.1 in),
bits 10-31 reserved.

"Body Composition Measurement" (``...body_composition_measurement``)::

    flags u16     bit 0 units (SI/imperial), bit 1 Time Stamp, bit 2 User ID,
                  bit 3 Basal Metabolism, bit 4 Muscle Percentage, bit 5 Muscle Mass,
                  bit 6 Fat Free Mass, bit 7 Soft Lean Mass, bit 8 Body Water Mass,
                  bit 9 Impedance, bit 10 Weight, bit 11 Height (each "present"),
                  bit 12 Multiple Packet Measurement, bits 13-15 reserved
    body fat percentage u16, 0.1 %; 0xFFFF = measurement unsuccessful
    then, when flagged and in this order: time stamp (7), user id u8, basal metabolism u16 kJ,
    muscle percentage u16 0.1 %, muscle mass, fat free mass, soft lean mass, body water mass,
    (masses u16: 0.005 kg or 0.01 lb), impedance u16 0.1 ohm, weight (mass), height
    (u16: 0.001 m or 0.1 in)

Fixed-point values become exact ``Decimal``: raw x resolution, at the resolution's precision.
A scale that counts its masses in steps of its own resolution instead of the standard's
0.005 kg (catalog quirk ``kg_resolution_override``) is read again with
:func:`with_kg_resolution`.

Codes (:func:`body_composition_fields`, shown by ``hub decode``): body fat percentage, fat
free mass, soft lean mass, body water mass, weight and height are metrics of the vocabulary,
with the IEEE 11073-10101 codes that IEEE 11073-10420 (body composition analyzer) uses
(MDC_BODY_FAT, MDC_MASS_BODY_FAT_FREE, MDC_MASS_BODY_SOFT_LEAN, MDC_BODY_WATER,
MDC_MASS_BODY_ACTUAL, MDC_LEN_BODY_ACTUAL) and LOINC codes. Basal metabolism (kJ), muscle
percentage (%), muscle mass and impedance (Ohm) are emitted with their UCUM unit and **no**
MDC code: none could be verified against IEEE 11073-10101 or -10420 (the codes third-party
libraries list for them are marked as not part of the standards they implement, and disagree
with each other), so none is invented; the vocabulary has no metric for them and the hub does
not store them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

from device_profiles._bytes import Reader, Writer, numeric_measurement, reject_reserved
from device_profiles.errors import DecodeError, EncodeError
from device_profiles.gatt_time import GattDateTime, MeasurementTime, measurement_time
from device_profiles.measurement import Measurement, Special

UNSUCCESSFUL = 0xFFFF
UNKNOWN_USER = 0xFF


class MeasurementSystem(enum.Enum):
    """Flags bit 0."""

    SI = "SI"
    IMPERIAL = "imperial"


@dataclass(frozen=True, slots=True)
class _Fixed:
    """A fixed-point field: ``value = raw * step`` with ``step = coefficient * 10**exponent``."""

    coefficient: int
    exponent: int
    unit: str

    def decode(self, raw: int) -> Decimal:
        return Decimal(f"{raw * self.coefficient}E{self.exponent}")

    def encode(self, value: Decimal, field: str) -> int:
        if not value.is_finite():
            raise EncodeError(f"{value} is not a number", field=field)
        raw = Fraction(value) / (self.coefficient * Fraction(10) ** self.exponent)
        if raw.denominator != 1 or not 0 <= raw <= 0xFFFF:
            raise EncodeError(f"{value} is not a whole number of {self.unit} steps", field=field)
        return int(raw)


_MASS = {
    MeasurementSystem.SI: _Fixed(5, -3, "kg"),
    MeasurementSystem.IMPERIAL: _Fixed(1, -2, "[lb_av]"),
}
_HEIGHT = {
    MeasurementSystem.SI: _Fixed(1, -3, "m"),
    MeasurementSystem.IMPERIAL: _Fixed(1, -1, "[in_i]"),
}
_BMI = _Fixed(1, -1, "kg/m2")
_PERCENT = _Fixed(1, -1, "%")
_KILOJOULE = _Fixed(1, 0, "kJ")
_OHM = _Fixed(1, -1, "Ohm")


def with_kg_resolution(measurement: Measurement, resolution: Decimal) -> Measurement:
    """A mass decoded at the standard's 0.005 kg per step, read at ``resolution`` kg per step
    instead: the same raw count, times the resolution the scale really uses (catalog quirk
    ``kg_resolution_override``; ``0.05`` turns a raw 1448, read as 7.240 kg, into 72.40 kg).

    Only values in kg change: BMI, height, percentages, masses in pounds and special values
    are returned as they are.
    """
    if measurement.unit != "kg" or measurement.value is None:
        return measurement
    raw = _MASS[MeasurementSystem.SI].encode(measurement.value, measurement.metric)
    sign, digits, exponent = resolution.as_tuple()
    if sign or not isinstance(exponent, int):
        raise ValueError(f"{resolution} is not a positive resolution")
    step = _Fixed(int("".join(map(str, digits))), exponent, "kg")
    return replace(measurement, value=step.decode(raw))


def _user(user_id: int | None) -> tuple[int | None, tuple[str, ...]]:
    if user_id == UNKNOWN_USER:
        return None, ("user-unknown",)
    return user_id, ()


# ------------------------------------------------------------- Weight Measurement (0x2A9D)

_WM_IMPERIAL = 0x01
_WM_TIMESTAMP = 0x02
_WM_USER = 0x04
_WM_BMI_HEIGHT = 0x08
_WM_DEFINED = 0x0F


@dataclass(frozen=True, slots=True)
class WeightRecord:
    """One Weight Measurement. ``weight=None`` is "measurement unsuccessful" (0xFFFF).

    Values are in the record's system: kg and m (SI) or lb and in (imperial). ``bmi`` and
    ``height`` are present together.
    """

    weight: Decimal | None
    system: MeasurementSystem = MeasurementSystem.SI
    timestamp: GattDateTime | None = None
    user_id: int | None = None
    bmi: Decimal | None = None
    height: Decimal | None = None


def parse_weight_measurement(data: bytes) -> WeightRecord:
    """Decode a Weight Measurement (0x2A9D) value into its typed record."""
    reader = Reader(data)
    flags = reader.u8("flags")
    reject_reserved(flags, _WM_DEFINED, "flags")
    system = MeasurementSystem.IMPERIAL if flags & _WM_IMPERIAL else MeasurementSystem.SI
    raw_weight = reader.u16("weight")
    weight = None if raw_weight == UNSUCCESSFUL else _MASS[system].decode(raw_weight)
    timestamp = reader.date_time("timestamp") if flags & _WM_TIMESTAMP else None
    user_id = reader.u8("user_id") if flags & _WM_USER else None
    bmi = height = None
    if flags & _WM_BMI_HEIGHT:
        bmi = _BMI.decode(reader.u16("bmi"))
        height = _HEIGHT[system].decode(reader.u16("height"))
    reader.finish()
    return WeightRecord(weight, system, timestamp, user_id, bmi, height)


def encode_weight_measurement(record: WeightRecord) -> bytes:
    """The exact inverse of :func:`parse_weight_measurement`."""
    if (record.bmi is None) != (record.height is None):
        raise EncodeError("BMI and height go together", field="bmi")
    flags = (
        (_WM_IMPERIAL if record.system is MeasurementSystem.IMPERIAL else 0)
        | (_WM_TIMESTAMP if record.timestamp is not None else 0)
        | (_WM_USER if record.user_id is not None else 0)
        | (_WM_BMI_HEIGHT if record.bmi is not None else 0)
    )
    out = Writer().u8(flags, "flags")
    raw_weight = UNSUCCESSFUL
    if record.weight is not None:
        raw_weight = _MASS[record.system].encode(record.weight, "weight")
        if raw_weight == UNSUCCESSFUL:
            raise EncodeError("0xFFFF is reserved for 'measurement unsuccessful'", field="weight")
    out.u16(raw_weight, "weight")
    if record.timestamp is not None:
        out.date_time(record.timestamp)
    if record.user_id is not None:
        out.u8(record.user_id, "user_id")
    if record.bmi is not None and record.height is not None:
        out.u16(_BMI.encode(record.bmi, "bmi"), "bmi")
        out.u16(_HEIGHT[record.system].encode(record.height, "height"), "height")
    return out.getvalue()


def _unsuccessful(
    metric: str, unit: str, when: MeasurementTime, user_id: int | None, notes: tuple[str, ...]
) -> Measurement:
    return numeric_measurement(
        metric,
        Special.NAN,
        unit,
        when,
        user_id=user_id,
        annotations=("measurement-unsuccessful", *notes),
    )


def weight_measurements(record: WeightRecord) -> list[Measurement]:
    """weight (NaN + ``"measurement-unsuccessful"`` for 0xFFFF) and, when present, bmi, height."""
    when = measurement_time(record.timestamp)
    user_id, notes = _user(record.user_id)
    mass_unit = _MASS[record.system].unit
    if record.weight is None:
        out = [_unsuccessful("weight", mass_unit, when, user_id, notes)]
    else:
        out = [
            numeric_measurement(
                "weight", record.weight, mass_unit, when, user_id=user_id, annotations=notes
            )
        ]
    if record.bmi is not None and record.height is not None:
        out.append(
            numeric_measurement(
                "bmi", record.bmi, _BMI.unit, when, user_id=user_id, annotations=notes
            )
        )
        out.append(
            numeric_measurement(
                "height",
                record.height,
                _HEIGHT[record.system].unit,
                when,
                user_id=user_id,
                annotations=notes,
            )
        )
    return out


def decode_weight_measurement(data: bytes) -> list[Measurement]:
    """Decode a Weight Measurement (0x2A9D) value into measurements."""
    return weight_measurements(parse_weight_measurement(data))


# ----------------------------------------------------------- Weight Scale Feature (0x2A9E)


@dataclass(frozen=True, slots=True)
class Resolution:
    """A scale resolution in both systems (``si`` in kg or m, ``imperial`` in lb or in)."""

    si: Decimal
    imperial: Decimal


WEIGHT_RESOLUTIONS: dict[int, Resolution] = {
    code: Resolution(Decimal(si), Decimal(imperial))
    for code, (si, imperial) in {
        1: ("0.5", "1"),
        2: ("0.2", "0.5"),
        3: ("0.1", "0.2"),
        4: ("0.05", "0.1"),
        5: ("0.02", "0.05"),
        6: ("0.01", "0.02"),
        7: ("0.005", "0.01"),
    }.items()
}
HEIGHT_RESOLUTIONS: dict[int, Resolution] = {
    code: Resolution(Decimal(si), Decimal(imperial))
    for code, (si, imperial) in {1: ("0.01", "1"), 2: ("0.005", "0.5"), 3: ("0.001", "0.1")}.items()
}
_WSF_TIMESTAMP = 1 << 0
_WSF_MULTIPLE_USERS = 1 << 1
_WSF_BMI = 1 << 2
_WSF_WEIGHT_SHIFT = 3
_WSF_HEIGHT_SHIFT = 7
_WSF_DEFINED = (1 << 10) - 1


@dataclass(frozen=True, slots=True)
class WeightScaleFeature:
    """The Weight Scale Feature; a resolution of ``None`` is "not specified"."""

    timestamp_supported: bool = False
    multiple_users_supported: bool = False
    bmi_supported: bool = False
    weight_resolution: Resolution | None = None
    height_resolution: Resolution | None = None


def parse_weight_scale_feature(data: bytes) -> WeightScaleFeature:
    """Decode a Weight Scale Feature (0x2A9E) value (4 bytes)."""
    reader = Reader(data)
    raw = reader.u32("weight_scale_feature")
    reader.finish()
    reject_reserved(raw, _WSF_DEFINED, "weight_scale_feature")
    weight_code = (raw >> _WSF_WEIGHT_SHIFT) & 0x0F
    height_code = (raw >> _WSF_HEIGHT_SHIFT) & 0x07
    for code, table, name in (
        (weight_code, WEIGHT_RESOLUTIONS, "weight_resolution"),
        (height_code, HEIGHT_RESOLUTIONS, "height_resolution"),
    ):
        if code and code not in table:
            raise DecodeError(f"reserved value {code}", field=name)
    return WeightScaleFeature(
        bool(raw & _WSF_TIMESTAMP),
        bool(raw & _WSF_MULTIPLE_USERS),
        bool(raw & _WSF_BMI),
        WEIGHT_RESOLUTIONS.get(weight_code),
        HEIGHT_RESOLUTIONS.get(height_code),
    )


def _code(resolution: Resolution | None, table: dict[int, Resolution], field: str) -> int:
    if resolution is None:
        return 0
    for code, known in table.items():
        if known == resolution:
            return code
    raise EncodeError(f"{resolution} is not a defined resolution", field=field)


def encode_weight_scale_feature(feature: WeightScaleFeature) -> bytes:
    """The exact inverse of :func:`parse_weight_scale_feature`."""
    raw = (
        (_WSF_TIMESTAMP if feature.timestamp_supported else 0)
        | (_WSF_MULTIPLE_USERS if feature.multiple_users_supported else 0)
        | (_WSF_BMI if feature.bmi_supported else 0)
        | _code(feature.weight_resolution, WEIGHT_RESOLUTIONS, "weight_resolution")
        << _WSF_WEIGHT_SHIFT
        | _code(feature.height_resolution, HEIGHT_RESOLUTIONS, "height_resolution")
        << _WSF_HEIGHT_SHIFT
    )
    return Writer().u32(raw, "weight_scale_feature").getvalue()


# --------------------------------------------------- Body Composition Measurement (0x2A9C)


class BodyCompositionFlag(enum.IntFlag):
    IMPERIAL = 1 << 0
    TIMESTAMP = 1 << 1
    USER_ID = 1 << 2
    BASAL_METABOLISM = 1 << 3
    MUSCLE_PERCENTAGE = 1 << 4
    MUSCLE_MASS = 1 << 5
    FAT_FREE_MASS = 1 << 6
    SOFT_LEAN_MASS = 1 << 7
    BODY_WATER_MASS = 1 << 8
    IMPEDANCE = 1 << 9
    WEIGHT = 1 << 10
    HEIGHT = 1 << 11
    MULTIPLE_PACKET = 1 << 12


_BC_DEFINED = (1 << 13) - 1


@dataclass(frozen=True, slots=True)
class BodyCompositionRecord:
    """One Body Composition Measurement. ``body_fat_pct=None`` is "unsuccessful" (0xFFFF).

    Masses and height are in the record's system (kg/m or lb/in); ``basal_metabolism_kj`` in
    kJ; ``impedance_ohm`` in ohm. ``None`` means the field is absent.
    """

    body_fat_pct: Decimal | None
    system: MeasurementSystem = MeasurementSystem.SI
    timestamp: GattDateTime | None = None
    user_id: int | None = None
    basal_metabolism_kj: Decimal | None = None
    muscle_pct: Decimal | None = None
    muscle_mass: Decimal | None = None
    fat_free_mass: Decimal | None = None
    soft_lean_mass: Decimal | None = None
    body_water_mass: Decimal | None = None
    impedance_ohm: Decimal | None = None
    weight: Decimal | None = None
    height: Decimal | None = None
    multiple_packet: bool = False


# (flag, record attribute, fixed-point format or None for a mass/height, metric or None)
_BC_FIELDS: tuple[tuple[BodyCompositionFlag, str, _Fixed | None, str | None], ...] = (
    (BodyCompositionFlag.BASAL_METABOLISM, "basal_metabolism_kj", _KILOJOULE, None),
    (BodyCompositionFlag.MUSCLE_PERCENTAGE, "muscle_pct", _PERCENT, None),
    (BodyCompositionFlag.MUSCLE_MASS, "muscle_mass", None, None),
    (BodyCompositionFlag.FAT_FREE_MASS, "fat_free_mass", None, "fat_free_mass"),
    (BodyCompositionFlag.SOFT_LEAN_MASS, "soft_lean_mass", None, "soft_lean_mass"),
    (BodyCompositionFlag.BODY_WATER_MASS, "body_water_mass", None, "body_water_mass"),
    (BodyCompositionFlag.IMPEDANCE, "impedance_ohm", _OHM, None),
    (BodyCompositionFlag.WEIGHT, "weight", None, "weight"),
    (BodyCompositionFlag.HEIGHT, "height", None, "height"),
)


def _bc_format(attribute: str, fixed: _Fixed | None, system: MeasurementSystem) -> _Fixed:
    if fixed is not None:
        return fixed
    return _HEIGHT[system] if attribute == "height" else _MASS[system]


def parse_body_composition(data: bytes) -> BodyCompositionRecord:
    """Decode a Body Composition Measurement (0x2A9C) value into its typed record."""
    reader = Reader(data)
    flags = reader.u16("flags")
    reject_reserved(flags, _BC_DEFINED, "flags")
    system = (
        MeasurementSystem.IMPERIAL if flags & BodyCompositionFlag.IMPERIAL else MeasurementSystem.SI
    )
    raw_fat = reader.u16("body_fat_percentage")
    body_fat = None if raw_fat == UNSUCCESSFUL else _PERCENT.decode(raw_fat)
    timestamp = reader.date_time("timestamp") if flags & BodyCompositionFlag.TIMESTAMP else None
    user_id = reader.u8("user_id") if flags & BodyCompositionFlag.USER_ID else None
    values: dict[str, Decimal] = {}
    for flag, attribute, fixed, _metric in _BC_FIELDS:
        if flags & flag:
            values[attribute] = _bc_format(attribute, fixed, system).decode(reader.u16(attribute))
    reader.finish()
    return BodyCompositionRecord(
        body_fat,
        system,
        timestamp,
        user_id,
        multiple_packet=bool(flags & BodyCompositionFlag.MULTIPLE_PACKET),
        **values,
    )


def encode_body_composition(record: BodyCompositionRecord) -> bytes:
    """The exact inverse of :func:`parse_body_composition`."""
    flags = BodyCompositionFlag(0)
    if record.system is MeasurementSystem.IMPERIAL:
        flags |= BodyCompositionFlag.IMPERIAL
    if record.timestamp is not None:
        flags |= BodyCompositionFlag.TIMESTAMP
    if record.user_id is not None:
        flags |= BodyCompositionFlag.USER_ID
    if record.multiple_packet:
        flags |= BodyCompositionFlag.MULTIPLE_PACKET
    for flag, attribute, _fixed, _metric in _BC_FIELDS:
        if getattr(record, attribute) is not None:
            flags |= flag
    out = Writer().u16(int(flags), "flags")
    raw_fat = UNSUCCESSFUL
    if record.body_fat_pct is not None:
        raw_fat = _PERCENT.encode(record.body_fat_pct, "body_fat_percentage")
        if raw_fat == UNSUCCESSFUL:
            raise EncodeError("0xFFFF is reserved for 'unsuccessful'", field="body_fat_percentage")
    out.u16(raw_fat, "body_fat_percentage")
    if record.timestamp is not None:
        out.date_time(record.timestamp)
    if record.user_id is not None:
        out.u8(record.user_id, "user_id")
    for _flag, attribute, fixed, _metric in _BC_FIELDS:
        value = getattr(record, attribute)
        if value is not None:
            raw = _bc_format(attribute, fixed, record.system).encode(value, attribute)
            out.u16(raw, attribute)
    return out.getvalue()


def body_composition_measurements(record: BodyCompositionRecord) -> list[Measurement]:
    """body_fat plus fat_free_mass, soft_lean_mass, body_water_mass, weight, height if present.

    A multi-packet measurement is annotated ``"multiple-packet"``: its other packets carry the
    rest of the fields and are decoded on their own.
    """
    when = measurement_time(record.timestamp)
    user_id, notes = _user(record.user_id)
    if record.multiple_packet:
        notes = (*notes, "multiple-packet")
    if record.body_fat_pct is None:
        out = [_unsuccessful("body_fat", "%", when, user_id, notes)]
    else:
        out = [
            numeric_measurement(
                "body_fat", record.body_fat_pct, "%", when, user_id=user_id, annotations=notes
            )
        ]
    for _flag, attribute, fixed, metric in _BC_FIELDS:
        value = getattr(record, attribute)
        if value is None or metric is None:
            continue
        unit = _bc_format(attribute, fixed, record.system).unit
        out.append(
            numeric_measurement(metric, value, unit, when, user_id=user_id, annotations=notes)
        )
    return out


def decode_body_composition(data: bytes) -> list[Measurement]:
    """Decode a Body Composition Measurement (0x2A9C) value into measurements."""
    return body_composition_measurements(parse_body_composition(data))


def body_composition_fields(
    record: BodyCompositionRecord,
) -> list[tuple[str, Decimal, str, str | None]]:
    """Each present field of a record: (name, value, UCUM unit, vocabulary metric or None when
    no code could be verified — see the module docstring)."""
    out: list[tuple[str, Decimal, str, str | None]] = []
    if record.body_fat_pct is not None:
        out.append(("body_fat_pct", record.body_fat_pct, _PERCENT.unit, "body_fat"))
    for _flag, attribute, fixed, metric in _BC_FIELDS:
        value = getattr(record, attribute)
        if value is not None:
            unit = _bc_format(attribute, fixed, record.system).unit
            out.append((attribute, value, unit, metric))
    return out
