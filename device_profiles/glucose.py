"""Glucose Measurement (0x2A18), Glucose Measurement Context (0x2A34) and their join.

GATT Specification Supplement, characteristic "Glucose Measurement"
(``org.bluetooth.characteristic.glucose_measurement``)::

    flags u8      bit 0  Time Offset present
                  bit 1  Glucose Concentration, Type and Sample Location present
                  bit 2  concentration units: 0 kg/L, 1 mol/L
                  bit 3  Sensor Status Annunciation present
                  bit 4  Context Information follows
                  bits 5-7 reserved
    sequence number u16
    base time       Date Time, 7 bytes
    [time offset    s16, minutes; user-facing time = base time + offset]
    [concentration  SFLOAT, kg/L or mol/L]
    [type-sample location u8: type in bits 0-3, sample location in bits 4-7]
    [sensor status annunciation u16, bits 0-11 defined, 12-15 reserved]

"Glucose Measurement Context" (``org.bluetooth.characteristic.glucose_measurement_context``)::

    flags u8      bit 0 carbohydrate id + carbohydrate present, bit 1 meal present,
                  bit 2 tester-health present, bit 3 exercise duration + intensity present,
                  bit 4 medication id + medication present, bit 5 medication units
                  (0 kilograms, 1 litres), bit 6 HbA1c present, bit 7 extended flags present
    sequence number u16
    [extended flags u8, all bits reserved]
    [carbohydrate id u8, carbohydrate SFLOAT kg]
    [meal u8]
    [tester-health u8: tester in bits 0-3, health in bits 4-7]
    [exercise duration u16 seconds (0xFFFF overrun), exercise intensity u8 percent]
    [medication id u8, medication SFLOAT kg or L]
    [HbA1c SFLOAT percent]

The sample location only describes where the drop was taken: a reserved location is kept as
its number and flagged (``"sample-location-reserved:7"``), the measurement is not lost.

Concentrations are reported in clinical units, exactly: kg/L x 100 000 = mg/dL, mol/L x 1000
= mmol/L (only the decimal exponent moves). The records hold those clinical values, and the
encoders move the exponent back, so device precision survives both ways.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace

from device_profiles._bytes import (
    Reader,
    Writer,
    bit_annotations,
    descriptive_value,
    enum_value,
    numeric_measurement,
    reject_reserved,
    reserved_note,
    unique,
)
from device_profiles.errors import EncodeError
from device_profiles.gatt_time import GattDateTime, measurement_time
from device_profiles.ieee11073 import Numeric, scale10
from device_profiles.measurement import Measurement, Special

# ---------------------------------------------------------------- Glucose Measurement (0x2A18)

_TIME_OFFSET = 0x01
_CONCENTRATION = 0x02
_MOL_PER_L = 0x04
_STATUS = 0x08
_CONTEXT_FOLLOWS = 0x10
_FLAGS_DEFINED = 0x1F


class GlucoseUnit(enum.Enum):
    """Flags bit 2, as the clinical UCUM unit the concentration is reported in."""

    MG_DL = "mg/dL"  # wire: kg/L
    MMOL_L = "mmol/L"  # wire: mol/L


# clinical unit -> decimal places from the wire unit
_UNIT_SCALE: dict[GlucoseUnit, int] = {GlucoseUnit.MG_DL: 5, GlucoseUnit.MMOL_L: 3}


class SampleType(enum.IntEnum):
    CAPILLARY_WHOLE_BLOOD = 1
    CAPILLARY_PLASMA = 2
    VENOUS_WHOLE_BLOOD = 3
    VENOUS_PLASMA = 4
    ARTERIAL_WHOLE_BLOOD = 5
    ARTERIAL_PLASMA = 6
    UNDETERMINED_WHOLE_BLOOD = 7
    UNDETERMINED_PLASMA = 8
    INTERSTITIAL_FLUID = 9
    CONTROL_SOLUTION = 10


class SampleLocation(enum.IntEnum):
    FINGER = 1
    ALTERNATE_SITE_TEST = 2
    EARLOBE = 3
    CONTROL_SOLUTION = 4
    NOT_AVAILABLE = 15


class GlucoseStatus(enum.IntFlag):
    """Sensor Status Annunciation bits 0-11."""

    BATTERY_LOW = 1 << 0
    SENSOR_MALFUNCTION = 1 << 1
    SAMPLE_SIZE_INSUFFICIENT = 1 << 2
    STRIP_INSERTION_ERROR = 1 << 3
    STRIP_TYPE_INCORRECT = 1 << 4
    RESULT_TOO_HIGH = 1 << 5
    RESULT_TOO_LOW = 1 << 6
    TEMPERATURE_TOO_HIGH = 1 << 7
    TEMPERATURE_TOO_LOW = 1 << 8
    READ_INTERRUPTED = 1 << 9
    GENERAL_DEVICE_FAULT = 1 << 10
    TIME_FAULT = 1 << 11


_STATUS_DEFINED = 0x0FFF
_STATUS_ANNOTATIONS: dict[int, str] = {
    GlucoseStatus.BATTERY_LOW: "device-battery-low",
    GlucoseStatus.SENSOR_MALFUNCTION: "sensor-malfunction",
    GlucoseStatus.SAMPLE_SIZE_INSUFFICIENT: "sample-size-insufficient",
    GlucoseStatus.STRIP_INSERTION_ERROR: "strip-insertion-error",
    GlucoseStatus.STRIP_TYPE_INCORRECT: "strip-type-incorrect",
    GlucoseStatus.RESULT_TOO_HIGH: "HI",
    GlucoseStatus.RESULT_TOO_LOW: "LO",
    GlucoseStatus.TEMPERATURE_TOO_HIGH: "sensor-temperature-high",
    GlucoseStatus.TEMPERATURE_TOO_LOW: "sensor-temperature-low",
    GlucoseStatus.READ_INTERRUPTED: "sensor-read-interrupted",
    GlucoseStatus.GENERAL_DEVICE_FAULT: "general-device-fault",
    GlucoseStatus.TIME_FAULT: "time-fault",
}
_SAMPLE_ANNOTATIONS: dict[SampleType, str] = {
    SampleType.CAPILLARY_WHOLE_BLOOD: "sample:capillary-whole-blood",
    SampleType.CAPILLARY_PLASMA: "sample:capillary-plasma",
    SampleType.VENOUS_WHOLE_BLOOD: "sample:venous-whole-blood",
    SampleType.VENOUS_PLASMA: "sample:venous-plasma",
    SampleType.ARTERIAL_WHOLE_BLOOD: "sample:arterial-whole-blood",
    SampleType.ARTERIAL_PLASMA: "sample:arterial-plasma",
    SampleType.UNDETERMINED_WHOLE_BLOOD: "sample:undetermined-whole-blood",
    SampleType.UNDETERMINED_PLASMA: "sample:undetermined-plasma",
    SampleType.INTERSTITIAL_FLUID: "sample:interstitial-fluid",
    SampleType.CONTROL_SOLUTION: "control-solution",
}
_LOCATION_ANNOTATIONS: dict[SampleLocation, tuple[str, ...]] = {
    SampleLocation.FINGER: ("location:finger",),
    SampleLocation.ALTERNATE_SITE_TEST: ("location:alternate-site",),
    SampleLocation.EARLOBE: ("location:earlobe",),
    SampleLocation.CONTROL_SOLUTION: ("control-solution",),
    SampleLocation.NOT_AVAILABLE: (),
}


@dataclass(frozen=True, slots=True)
class GlucoseRecord:
    """One Glucose Measurement, field for field.

    ``concentration`` is in ``unit`` (mg/dL or mmol/L); it, ``sample_type`` and ``location``
    are present together or absent together (flags bit 1). ``unit`` is kept even without a
    concentration because it is a flag bit on the wire. ``status=None`` means the field is
    absent; ``GlucoseStatus(0)`` is present and all clear.
    """

    sequence: int
    base_time: GattDateTime
    time_offset: int | None = None
    concentration: Numeric | None = None
    unit: GlucoseUnit = GlucoseUnit.MG_DL
    sample_type: SampleType | None = None
    location: SampleLocation | int | None = None  # int: a reserved location, kept
    status: GlucoseStatus | None = None
    context_follows: bool = False


def parse_glucose_measurement(data: bytes) -> GlucoseRecord:
    """Decode a Glucose Measurement (0x2A18) value into its typed record."""
    reader = Reader(data)
    flags = reader.u8("flags")
    reject_reserved(flags, _FLAGS_DEFINED, "flags")
    unit = GlucoseUnit.MMOL_L if flags & _MOL_PER_L else GlucoseUnit.MG_DL
    sequence = reader.u16("sequence_number")
    base_time = reader.date_time("base_time")
    time_offset = reader.s16("time_offset") if flags & _TIME_OFFSET else None
    concentration: Numeric | None = None
    sample_type = location = None
    if flags & _CONCENTRATION:
        wire = reader.sfloat("concentration")
        concentration = wire if isinstance(wire, Special) else scale10(wire, _UNIT_SCALE[unit])
        type_location = reader.u8("type_sample_location")
        sample_type = enum_value(SampleType, type_location & 0x0F, "type")
        location = descriptive_value(SampleLocation, type_location >> 4)
    status = None
    if flags & _STATUS:
        raw = reader.u16("sensor_status_annunciation")
        reject_reserved(raw, _STATUS_DEFINED, "sensor_status_annunciation")
        status = GlucoseStatus(raw)
    reader.finish()
    return GlucoseRecord(
        sequence,
        base_time,
        time_offset,
        concentration,
        unit,
        sample_type,
        location,
        status,
        bool(flags & _CONTEXT_FOLLOWS),
    )


def encode_glucose_measurement(record: GlucoseRecord) -> bytes:
    """The exact inverse of :func:`parse_glucose_measurement`."""
    present = (record.concentration, record.sample_type, record.location)
    if any(part is None for part in present) and any(part is not None for part in present):
        raise EncodeError("concentration, type and location go together", field="concentration")
    flags = (
        (_TIME_OFFSET if record.time_offset is not None else 0)
        | (_CONCENTRATION if record.concentration is not None else 0)
        | (_MOL_PER_L if record.unit is GlucoseUnit.MMOL_L else 0)
        | (_STATUS if record.status is not None else 0)
        | (_CONTEXT_FOLLOWS if record.context_follows else 0)
    )
    out = Writer().u8(flags, "flags").u16(record.sequence, "sequence_number")
    out.date_time(record.base_time)
    if record.time_offset is not None:
        out.s16(record.time_offset, "time_offset")
    if (
        record.concentration is not None
        and record.sample_type is not None
        and record.location is not None
    ):
        value = record.concentration
        wire = value if isinstance(value, Special) else scale10(value, -_UNIT_SCALE[record.unit])
        out.sfloat(wire, "concentration")
        out.u8(int(record.sample_type) | int(record.location) << 4, "type_sample_location")
    if record.status is not None:
        if int(record.status) & ~_STATUS_DEFINED:
            raise EncodeError("reserved status bits", field="sensor_status_annunciation")
        out.u16(int(record.status), "sensor_status_annunciation")
    return out.getvalue()


def glucose_measurements(record: GlucoseRecord) -> list[Measurement]:
    """The glucose (or ``glucose_isf``) measurement of a record; ``[]`` without concentration.

    Time is base time + time offset (device-local, naive). Control solution (by type or by
    sample location) is annotated ``"control-solution"``, never dropped: the hub decides.
    """
    if record.concentration is None or record.sample_type is None or record.location is None:
        return []
    when = measurement_time(record.base_time, record.time_offset or 0)
    metric = "glucose_isf" if record.sample_type is SampleType.INTERSTITIAL_FLUID else "glucose"
    location = record.location
    notes = [_SAMPLE_ANNOTATIONS[record.sample_type]]
    if isinstance(location, SampleLocation):
        notes += _LOCATION_ANNOTATIONS[location]
    else:
        notes += reserved_note(SampleLocation, location, "sample_location")
    if record.status is not None:
        notes += bit_annotations(int(record.status), _STATUS_ANNOTATIONS)
    if record.context_follows:
        notes.append("context-follows")
    return [
        numeric_measurement(
            metric,
            record.concentration,
            record.unit.value,
            when,
            sequence=record.sequence,
            annotations=notes,
        )
    ]


def decode_glucose_measurement(data: bytes) -> list[Measurement]:
    """Decode a Glucose Measurement (0x2A18) value into measurements."""
    return glucose_measurements(parse_glucose_measurement(data))


# -------------------------------------------------------- Glucose Measurement Context (0x2A34)

_CARBOHYDRATE = 0x01
_MEAL = 0x02
_TESTER_HEALTH = 0x04
_EXERCISE = 0x08
_MEDICATION = 0x10
_MEDICATION_LITRES = 0x20
_HBA1C = 0x40
_EXTENDED_FLAGS = 0x80
EXERCISE_OVERRUN = 0xFFFF


class CarbohydrateId(enum.IntEnum):
    BREAKFAST = 1
    LUNCH = 2
    DINNER = 3
    SNACK = 4
    DRINK = 5
    SUPPER = 6
    BRUNCH = 7


class Meal(enum.IntEnum):
    PREPRANDIAL = 1
    POSTPRANDIAL = 2
    FASTING = 3
    CASUAL = 4
    BEDTIME = 5


class GlucoseTester(enum.IntEnum):
    SELF = 1
    HEALTH_CARE_PROFESSIONAL = 2
    LAB_TEST = 3
    NOT_AVAILABLE = 15


class Health(enum.IntEnum):
    MINOR_ISSUES = 1
    MAJOR_ISSUES = 2
    DURING_MENSES = 3
    UNDER_STRESS = 4
    NO_ISSUES = 5
    NOT_AVAILABLE = 15


class MedicationId(enum.IntEnum):
    RAPID_ACTING_INSULIN = 1
    SHORT_ACTING_INSULIN = 2
    INTERMEDIATE_ACTING_INSULIN = 3
    LONG_ACTING_INSULIN = 4
    PRE_MIXED_INSULIN = 5


class MedicationUnit(enum.Enum):
    """Flags bit 5, as UCUM."""

    KILOGRAM = "kg"
    LITRE = "L"


@dataclass(frozen=True, slots=True)
class GlucoseContext:
    """One Glucose Measurement Context, field for field; joins its measurement by ``sequence``.

    Paired fields are present together: ``carbohydrate_id``/``carbohydrate_grams``,
    ``tester``/``health``, ``exercise_duration_s``/``exercise_intensity_pct``,
    ``medication_id``/``medication``. ``carbohydrate_grams`` is the wire kilograms x 1000;
    ``medication`` is in ``medication_unit``; ``exercise_duration_s`` 0xFFFF means overrun.
    ``extended_flags`` is ``None`` when absent (every extended flag bit is reserved).
    """

    sequence: int
    carbohydrate_id: CarbohydrateId | None = None
    carbohydrate_grams: Numeric | None = None
    meal: Meal | None = None
    tester: GlucoseTester | None = None
    health: Health | None = None
    exercise_duration_s: int | None = None
    exercise_intensity_pct: int | None = None
    medication_id: MedicationId | None = None
    medication: Numeric | None = None
    medication_unit: MedicationUnit = MedicationUnit.KILOGRAM
    hba1c_pct: Numeric | None = None
    extended_flags: int | None = None


def _kg_to_grams(value: Numeric) -> Numeric:
    return value if isinstance(value, Special) else scale10(value, 3)


def _grams_to_kg(value: Numeric) -> Numeric:
    return value if isinstance(value, Special) else scale10(value, -3)


def parse_glucose_context(data: bytes) -> GlucoseContext:
    """Decode a Glucose Measurement Context (0x2A34) value into its typed record."""
    reader = Reader(data)
    flags = reader.u8("flags")
    sequence = reader.u16("sequence_number")
    extended = None
    if flags & _EXTENDED_FLAGS:
        extended = reader.u8("extended_flags")
        reject_reserved(extended, 0, "extended_flags")
    carb_id = carbs = meal = tester = health = duration = intensity = None
    medication_id = medication = hba1c = None
    if flags & _CARBOHYDRATE:
        carb_id = enum_value(CarbohydrateId, reader.u8("carbohydrate_id"), "carbohydrate_id")
        carbs = _kg_to_grams(reader.sfloat("carbohydrate"))
    if flags & _MEAL:
        meal = enum_value(Meal, reader.u8("meal"), "meal")
    if flags & _TESTER_HEALTH:
        tester_health = reader.u8("tester_health")
        tester = enum_value(GlucoseTester, tester_health & 0x0F, "tester")
        health = enum_value(Health, tester_health >> 4, "health")
    if flags & _EXERCISE:
        duration = reader.u16("exercise_duration")
        intensity = reader.u8("exercise_intensity")
    if flags & _MEDICATION:
        medication_id = enum_value(MedicationId, reader.u8("medication_id"), "medication_id")
        medication = reader.sfloat("medication")
    if flags & _HBA1C:
        hba1c = reader.sfloat("hba1c")
    reader.finish()
    unit = MedicationUnit.LITRE if flags & _MEDICATION_LITRES else MedicationUnit.KILOGRAM
    return GlucoseContext(
        sequence,
        carb_id,
        carbs,
        meal,
        tester,
        health,
        duration,
        intensity,
        medication_id,
        medication,
        unit,
        hba1c,
        extended,
    )


def _pair(first: object, second: object, field: str) -> bool:
    if (first is None) != (second is None):
        raise EncodeError("paired fields must be present together", field=field)
    return first is not None


def encode_glucose_context(context: GlucoseContext) -> bytes:
    """The exact inverse of :func:`parse_glucose_context`."""
    has_carbs = _pair(context.carbohydrate_id, context.carbohydrate_grams, "carbohydrate")
    has_tester = _pair(context.tester, context.health, "tester_health")
    has_exercise = _pair(context.exercise_duration_s, context.exercise_intensity_pct, "exercise")
    has_medication = _pair(context.medication_id, context.medication, "medication")
    flags = (
        (_CARBOHYDRATE if has_carbs else 0)
        | (_MEAL if context.meal is not None else 0)
        | (_TESTER_HEALTH if has_tester else 0)
        | (_EXERCISE if has_exercise else 0)
        | (_MEDICATION if has_medication else 0)
        | (_MEDICATION_LITRES if context.medication_unit is MedicationUnit.LITRE else 0)
        | (_HBA1C if context.hba1c_pct is not None else 0)
        | (_EXTENDED_FLAGS if context.extended_flags is not None else 0)
    )
    out = Writer().u8(flags, "flags").u16(context.sequence, "sequence_number")
    if context.extended_flags is not None:
        if context.extended_flags:
            raise EncodeError("every extended flag bit is reserved", field="extended_flags")
        out.u8(context.extended_flags, "extended_flags")
    if context.carbohydrate_id is not None and context.carbohydrate_grams is not None:
        out.u8(context.carbohydrate_id, "carbohydrate_id")
        out.sfloat(_grams_to_kg(context.carbohydrate_grams), "carbohydrate")
    if context.meal is not None:
        out.u8(context.meal, "meal")
    if context.tester is not None and context.health is not None:
        out.u8(int(context.tester) | int(context.health) << 4, "tester_health")
    if context.exercise_duration_s is not None and context.exercise_intensity_pct is not None:
        out.u16(context.exercise_duration_s, "exercise_duration")
        out.u8(context.exercise_intensity_pct, "exercise_intensity")
    if context.medication_id is not None and context.medication is not None:
        out.u8(context.medication_id, "medication_id").sfloat(context.medication, "medication")
    if context.hba1c_pct is not None:
        out.sfloat(context.hba1c_pct, "hba1c")
    return out.getvalue()


_MEAL_NOTES: dict[Meal, str] = {
    Meal.PREPRANDIAL: "meal:preprandial",
    Meal.POSTPRANDIAL: "meal:postprandial",
    Meal.FASTING: "meal:fasting",
    Meal.CASUAL: "meal:casual",
    Meal.BEDTIME: "meal:bedtime",
}
_TESTER_NOTES: dict[GlucoseTester, str] = {
    GlucoseTester.SELF: "tester:self",
    GlucoseTester.HEALTH_CARE_PROFESSIONAL: "tester:health-care-professional",
    GlucoseTester.LAB_TEST: "tester:lab-test",
}
_HEALTH_NOTES: dict[Health, str] = {
    Health.MINOR_ISSUES: "health:minor-issues",
    Health.MAJOR_ISSUES: "health:major-issues",
    Health.DURING_MENSES: "health:during-menses",
    Health.UNDER_STRESS: "health:under-stress",
    Health.NO_ISSUES: "health:no-issues",
}


def context_annotations(context: GlucoseContext) -> tuple[str, ...]:
    """The annotations a context adds to its measurement (meal, tester, health, carbs, drug)."""
    notes: list[str] = []
    if context.meal is not None:
        notes.append(_MEAL_NOTES[context.meal])
    if context.tester is not None and context.tester in _TESTER_NOTES:
        notes.append(_TESTER_NOTES[context.tester])
    if context.health is not None and context.health in _HEALTH_NOTES:
        notes.append(_HEALTH_NOTES[context.health])
    if context.carbohydrate_id is not None:
        notes.append("carbohydrate:" + context.carbohydrate_id.name.lower().replace("_", "-"))
    if context.medication_id is not None:
        notes.append("medication:" + context.medication_id.name.lower().replace("_", "-"))
    return tuple(notes)


def join_glucose_context(
    measurements: Iterable[Measurement], contexts: Iterable[GlucoseContext]
) -> list[Measurement]:
    """``measurements`` with each context's annotations added, matched by sequence number.

    A measurement without a matching context is returned unchanged; a context without a
    measurement is ignored. When several contexts share a sequence number the last wins.
    """
    by_sequence = {context.sequence: context for context in contexts}
    joined = []
    for measurement in measurements:
        context = (
            by_sequence.get(measurement.sequence) if measurement.sequence is not None else None
        )
        if context is None:
            joined.append(measurement)
            continue
        notes = unique((*measurement.annotations, *context_annotations(context)))
        joined.append(replace(measurement, annotations=notes))
    return joined
