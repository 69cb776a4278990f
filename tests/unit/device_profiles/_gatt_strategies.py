"""Hypothesis strategies for the valid domain of every GATT codec's typed record.

Numbers are built from the wire's own (mantissa, exponent) pairs, so every generated value is
exactly representable; dates are built from the calendar, so every one is possible.
"""

from __future__ import annotations

import calendar
from decimal import Decimal

from hypothesis import strategies as st

from device_profiles.blood_pressure import (
    BloodPressureRecord,
    BpStatus,
    CuffPressureRecord,
    PressureUnit,
)
from device_profiles.cgm import DST_OFFSETS, CgmRecord, CgmSessionStartTime, CgmStatus
from device_profiles.gatt_time import GattDateTime
from device_profiles.glucose import (
    CarbohydrateId,
    GlucoseContext,
    GlucoseRecord,
    GlucoseStatus,
    GlucoseTester,
    GlucoseUnit,
    Health,
    Meal,
    MedicationId,
    MedicationUnit,
    SampleLocation,
    SampleType,
)
from device_profiles.heart_rate import HeartRateRecord, SensorContact
from device_profiles.ieee11073 import FLOAT_SPECIALS, SFLOAT_SPECIALS
from device_profiles.measurement import Special
from device_profiles.pulse_oximeter import (
    ContinuousRecord,
    PlxDeviceStatus,
    PlxMeasurementStatus,
    SpO2PR,
    SpotCheckRecord,
)
from device_profiles.racp import (
    NumberOfRecordsResponse,
    RacpFilter,
    RacpOpCode,
    RacpOperator,
    RacpRequest,
    RacpResponseCode,
    ResponseCodeResponse,
)
from device_profiles.thermometer import TemperatureRecord, TemperatureType, TemperatureUnit
from device_profiles.weight import (
    HEIGHT_RESOLUTIONS,
    WEIGHT_RESOLUTIONS,
    BodyCompositionRecord,
    MeasurementSystem,
    WeightRecord,
    WeightScaleFeature,
)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
specials = st.sampled_from(list(Special))


def _decimal(mantissa: int, exponent: int) -> Decimal:
    return Decimal(f"{mantissa}E{exponent}")


def sfloat_numbers(shift: int = 0) -> st.SearchStrategy[Decimal]:
    """Every number an SFLOAT can hold, times 10**shift."""
    pairs = st.tuples(st.integers(-2048, 2047), st.integers(-8, 7)).filter(
        lambda p: not (p[1] == 0 and p[0] & 0xFFF in SFLOAT_SPECIALS)
    )
    return pairs.map(lambda p: _decimal(p[0], p[1] + shift))


def sfloat_values(shift: int = 0) -> st.SearchStrategy[Decimal | Special]:
    return st.one_of(sfloat_numbers(shift), specials)


def float_values() -> st.SearchStrategy[Decimal | Special]:
    pairs = st.tuples(st.integers(-(1 << 23), (1 << 23) - 1), st.integers(-128, 127)).filter(
        lambda p: not (p[1] == 0 and p[0] & 0xFFFFFF in FLOAT_SPECIALS)
    )
    return st.one_of(pairs.map(lambda p: _decimal(*p)), specials)


@st.composite
def date_times(draw: st.DrawFn, known: bool | None = None) -> GattDateTime:
    """A possible Date Time; ``known=True`` forces year, month and day to be known."""
    unknown_ok = known is not True
    year = draw(st.integers(1582, 9999) | (st.just(0) if unknown_ok else st.nothing()))
    month = draw(st.integers(1, 12) | (st.just(0) if unknown_ok else st.nothing()))
    # An unknown year allows February 29.
    last = calendar.monthrange(year or 2000, month)[1] if month else 31
    day = draw(st.integers(1, last) | (st.just(0) if unknown_ok else st.nothing()))
    return GattDateTime(
        year,
        month,
        day,
        draw(st.integers(0, 23)),
        draw(st.integers(0, 59)),
        draw(st.integers(0, 59)),
    )


def optional(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | strategy


# ---------------------------------------------------------------------- blood pressure

bp_status = st.integers(0, 0x3F).filter(lambda v: not (v & 0x08 and v & 0x10)).map(BpStatus)
blood_pressure_records = st.builds(
    BloodPressureRecord,
    systolic=sfloat_values(),
    diastolic=sfloat_values(),
    mean_arterial=sfloat_values(),
    unit=st.sampled_from(PressureUnit),
    timestamp=optional(date_times()),
    pulse_rate=optional(sfloat_values()),
    user_id=optional(u8),
    status=optional(bp_status),
)
cuff_pressure_records = st.builds(
    CuffPressureRecord,
    cuff_pressure=sfloat_values(),
    unit=st.sampled_from(PressureUnit),
    timestamp=optional(date_times()),
    pulse_rate=optional(sfloat_values()),
    user_id=optional(u8),
    status=optional(bp_status),
    unused_diastolic=sfloat_values(),
    unused_mean_arterial=sfloat_values(),
)

# ---------------------------------------------------------------------- glucose

_SCALE = {GlucoseUnit.MG_DL: 5, GlucoseUnit.MMOL_L: 3}


@st.composite
def glucose_records(draw: st.DrawFn) -> GlucoseRecord:
    unit = draw(st.sampled_from(GlucoseUnit))
    concentration = sample_type = location = None
    if draw(st.booleans()):
        concentration = draw(sfloat_values(_SCALE[unit]))
        sample_type = draw(st.sampled_from(SampleType))
        location = draw(st.sampled_from(SampleLocation))
    return GlucoseRecord(
        sequence=draw(u16),
        base_time=draw(date_times()),
        time_offset=draw(st.none() | st.integers(-32768, 32767)),
        concentration=concentration,
        unit=unit,
        sample_type=sample_type,
        location=location,
        status=draw(st.none() | st.integers(0, 0x0FFF).map(GlucoseStatus)),
        context_follows=draw(st.booleans()),
    )


@st.composite
def glucose_contexts(draw: st.DrawFn) -> GlucoseContext:
    carbs = draw(st.none() | st.tuples(st.sampled_from(CarbohydrateId), sfloat_values(3)))
    tester = draw(st.none() | st.tuples(st.sampled_from(GlucoseTester), st.sampled_from(Health)))
    exercise = draw(st.none() | st.tuples(u16, u8))
    medication = draw(st.none() | st.tuples(st.sampled_from(MedicationId), sfloat_values()))
    return GlucoseContext(
        sequence=draw(u16),
        carbohydrate_id=carbs[0] if carbs else None,
        carbohydrate_grams=carbs[1] if carbs else None,
        meal=draw(st.none() | st.sampled_from(Meal)),
        tester=tester[0] if tester else None,
        health=tester[1] if tester else None,
        exercise_duration_s=exercise[0] if exercise else None,
        exercise_intensity_pct=exercise[1] if exercise else None,
        medication_id=medication[0] if medication else None,
        medication=medication[1] if medication else None,
        medication_unit=draw(st.sampled_from(MedicationUnit)),
        hba1c_pct=draw(st.none() | sfloat_values()),
        extended_flags=draw(st.sampled_from([None, 0])),
    )


# ---------------------------------------------------------------------- weight

_MASS_STEP = {MeasurementSystem.SI: (5, -3), MeasurementSystem.IMPERIAL: (1, -2)}
_HEIGHT_STEP = {MeasurementSystem.SI: (1, -3), MeasurementSystem.IMPERIAL: (1, -1)}


def fixed(step: tuple[int, int], top: int = 0xFFFF) -> st.SearchStrategy[Decimal]:
    coefficient, exponent = step
    return st.integers(0, top).map(lambda raw: _decimal(raw * coefficient, exponent))


@st.composite
def weight_records(draw: st.DrawFn) -> WeightRecord:
    system = draw(st.sampled_from(MeasurementSystem))
    bmi_height = draw(st.none() | st.tuples(fixed((1, -1)), fixed(_HEIGHT_STEP[system])))
    return WeightRecord(
        weight=draw(st.none() | fixed(_MASS_STEP[system], 0xFFFE)),
        system=system,
        timestamp=draw(st.none() | date_times()),
        user_id=draw(st.none() | u8),
        bmi=bmi_height[0] if bmi_height else None,
        height=bmi_height[1] if bmi_height else None,
    )


weight_scale_features = st.builds(
    WeightScaleFeature,
    timestamp_supported=st.booleans(),
    multiple_users_supported=st.booleans(),
    bmi_supported=st.booleans(),
    weight_resolution=st.none() | st.sampled_from(list(WEIGHT_RESOLUTIONS.values())),
    height_resolution=st.none() | st.sampled_from(list(HEIGHT_RESOLUTIONS.values())),
)


@st.composite
def body_composition_records(draw: st.DrawFn) -> BodyCompositionRecord:
    system = draw(st.sampled_from(MeasurementSystem))
    mass = st.none() | fixed(_MASS_STEP[system])
    return BodyCompositionRecord(
        body_fat_pct=draw(st.none() | fixed((1, -1), 0xFFFE)),
        system=system,
        timestamp=draw(st.none() | date_times()),
        user_id=draw(st.none() | u8),
        basal_metabolism_kj=draw(st.none() | fixed((1, 0))),
        muscle_pct=draw(st.none() | fixed((1, -1))),
        muscle_mass=draw(mass),
        fat_free_mass=draw(mass),
        soft_lean_mass=draw(mass),
        body_water_mass=draw(mass),
        impedance_ohm=draw(st.none() | fixed((1, -1))),
        weight=draw(mass),
        height=draw(st.none() | fixed(_HEIGHT_STEP[system])),
        multiple_packet=draw(st.booleans()),
    )


# ---------------------------------------------------------------------- thermometer, HR

temperature_records = st.builds(
    TemperatureRecord,
    temperature=float_values(),
    unit=st.sampled_from(TemperatureUnit),
    timestamp=optional(date_times()),
    temperature_type=optional(st.sampled_from(TemperatureType)),
)


@st.composite
def heart_rate_records(draw: st.DrawFn) -> HeartRateRecord:
    wide = draw(st.booleans())
    return HeartRateRecord(
        heart_rate=draw(u16 if wide else u8),
        uint16=wide,
        contact=draw(st.sampled_from(SensorContact)),
        energy_expended_kj=draw(st.none() | u16),
        rr_intervals=tuple(draw(st.lists(u16, max_size=9))),
    )


# ---------------------------------------------------------------------- pulse oximeter

spo2pr = st.builds(SpO2PR, spo2=sfloat_values(), pulse_rate=sfloat_values())
plx_measurement_status = st.integers(0, 0xFFFF).map(lambda v: PlxMeasurementStatus(v & 0xFFE0))
plx_device_status = u16.map(PlxDeviceStatus)
spot_check_records = st.builds(
    SpotCheckRecord,
    reading=spo2pr,
    timestamp=optional(date_times()),
    measurement_status=optional(plx_measurement_status),
    device_status=optional(plx_device_status),
    pulse_amplitude_index=optional(sfloat_values()),
    device_clock_not_set=st.booleans(),
)
continuous_records = st.builds(
    ContinuousRecord,
    normal=spo2pr,
    fast=optional(spo2pr),
    slow=optional(spo2pr),
    measurement_status=optional(plx_measurement_status),
    device_status=optional(plx_device_status),
    pulse_amplitude_index=optional(sfloat_values()),
)

# ---------------------------------------------------------------------- CGM

_OCTET_BITS = {"status": (0, 0x3F), "cal_temp": (8, 0x3F), "warning": (16, 0xFF)}


@st.composite
def cgm_records(draw: st.DrawFn) -> CgmRecord:
    octets = draw(st.frozensets(st.sampled_from(sorted(_OCTET_BITS))))
    status = 0
    for name in octets:
        shift, mask = _OCTET_BITS[name]
        status |= (draw(u8) & mask) << shift
    return CgmRecord(
        glucose=draw(sfloat_values()),
        time_offset=draw(u16),
        status=CgmStatus(status),
        octets=octets,
        trend=draw(st.none() | sfloat_values()),
        quality=draw(st.none() | sfloat_values()),
        e2e_crc=draw(st.booleans()),
    )


cgm_values = st.lists(cgm_records(), min_size=1, max_size=3).map(tuple)
session_start_times = st.builds(
    CgmSessionStartTime,
    start=date_times(),
    time_zone=st.just(-128) | st.integers(-48, 56),
    dst_offset=st.sampled_from(sorted(DST_OFFSETS)),
    e2e_crc=st.booleans(),
)

# ---------------------------------------------------------------------- RACP


@st.composite
def racp_requests(draw: st.DrawFn) -> RacpRequest:
    opcode = draw(
        st.sampled_from(
            [
                RacpOpCode.REPORT_STORED_RECORDS,
                RacpOpCode.DELETE_STORED_RECORDS,
                RacpOpCode.ABORT_OPERATION,
                RacpOpCode.REPORT_NUMBER_OF_RECORDS,
            ]
        )
    )
    if opcode is RacpOpCode.ABORT_OPERATION:
        return RacpRequest(opcode, RacpOperator.NULL)
    operator = draw(st.sampled_from([op for op in RacpOperator if op is not RacpOperator.NULL]))
    count = {RacpOperator.LESS_THAN_OR_EQUAL: 1, RacpOperator.GREATER_THAN_OR_EQUAL: 1}.get(
        operator, 2 if operator is RacpOperator.WITHIN_RANGE else 0
    )
    if not count:
        return RacpRequest(opcode, operator)
    filter_type = draw(st.sampled_from(RacpFilter))
    value = date_times() if filter_type is RacpFilter.USER_FACING_TIME else u16
    values = tuple(draw(value) for _ in range(count))
    return RacpRequest(opcode, operator, filter_type, values)


racp_responses = st.one_of(
    st.builds(NumberOfRecordsResponse, count=u16, wide=st.just(False)),
    st.builds(NumberOfRecordsResponse, count=st.integers(0, 0xFFFFFFFF), wide=st.just(True)),
    st.builds(ResponseCodeResponse, request_opcode=u8, code=st.sampled_from(RacpResponseCode)),
)
