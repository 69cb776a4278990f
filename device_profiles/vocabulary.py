"""The metric vocabulary: each metric the hub stores, with its codes, unit and limits.

One table, looked up by name (STYLE: prefer tables to branches). For each metric:

* ``mdc``: IEEE 11073-10101 nomenclature code (partition << 16 | term code) and reference id,
  as used by the HL7 Personal Health Device IG (Observation.code, system :data:`MDC_SYSTEM`);
* ``loinc``: the LOINC code where one exists (the vital-signs / ANS *Mesures de santé* code;
  system :data:`LOINC_SYSTEM`);
* ``unit``: the canonical UCUM unit stored by the hub (system :data:`UCUM_SYSTEM`); ``units``
  maps every accepted UCUM unit to an affine conversion into it;
* ``limits``: the physically possible range in the canonical unit. A value outside it is
  *impossible* (a decoding or device fault) and is refused;
* ``critical``: the values beyond which a single reading needs attention whatever its source
  (flagged ``critical-low`` / ``critical-high``, never refused). A device profile may set
  its own (``[limits.<metric>]``); the vocabulary's apply on every path otherwise. Sources:
  glucose < 54 mg/dL is level 2 hypoglycaemia and > 400 mg/dL the usual "call your care team"
  level (International consensus on time in range, Battelino et al., Diabetes Care 2019;
  ADA Standards of Care 2024 §6); blood pressure ≥ 180 / ≥ 120 mm[Hg] is a hypertensive crisis
  (ACC/AHA 2017 guideline §11); SpO2 < 90 % hypoxaemia (BTS 2017 oxygen guideline);
  temperature < 35 °C hypothermia and > 40 °C hyperpyrexia; heart and pulse rate < 40 or
  > 150 /min; respiratory rate < 8 or > 30 /min (NEWS2, Royal College of Physicians 2017).

Unit aliases (``mmHg``, ``bpm``, ``°C``...) are accepted at the edge and normalised to UCUM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from device_profiles.errors import DecodeError

# The code systems of the vocabulary's codes, as FHIR and the API's readings name them: the
# one place these URIs are written.
MDC_SYSTEM = "urn:iso:std:iso:11073:10101"
LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"


class UnitError(DecodeError):
    """A unit that is unknown or not convertible for the metric."""


@dataclass(frozen=True, slots=True)
class MetricDef:
    name: str
    display: str
    mdc_code: int
    mdc_ref: str
    loinc: str | None
    unit: str
    limits: tuple[float, float]
    # accepted UCUM unit -> (factor, offset) such that canonical = value * factor + offset
    units: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    critical_low: Decimal | None = None
    critical_high: Decimal | None = None


def _mdc(partition: int, term: int) -> int:
    return (partition << 16) | term


_ONE = (Decimal(1), Decimal(0))
# 1 mmol/L of glucose = 18.0156 mg/dL: the molar mass of glucose C6H12O6 is 180.156 g/mol
# (IUPAC 2013 standard atomic weights), and 1 mmol/L = 180.156 mg/L = 18.0156 mg/dL. UCUM
# itself cannot convert mol to g without that molar mass; every other factor here is UCUM's.
_GLUCOSE_UNITS = {"mg/dL": _ONE, "mmol/L": (Decimal("18.0156"), Decimal(0))}
_GLUCOSE_CRITICAL = (Decimal(54), Decimal(400))
_PRESSURE_UNITS = {"mm[Hg]": _ONE, "kPa": (Decimal("7.50062"), Decimal(0))}
_RATE_UNITS = {"/min": _ONE}
_PERCENT = {"%": _ONE}
_MASS_UNITS = {
    "kg": _ONE,
    "g": (Decimal("0.001"), Decimal(0)),
    "[lb_av]": (Decimal("0.45359237"), Decimal(0)),
}

METRICS: dict[str, MetricDef] = {
    m.name: m
    for m in (
        MetricDef(
            "glucose",
            "Blood glucose (capillary)",
            _mdc(2, 29112),
            "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD",
            "2339-0",
            "mg/dL",
            (1, 1500),
            _GLUCOSE_UNITS,
            critical_low=_GLUCOSE_CRITICAL[0],
            critical_high=_GLUCOSE_CRITICAL[1],
        ),
        MetricDef(
            "glucose_isf",
            "Interstitial glucose (CGM)",
            _mdc(2, 29140),
            "MDC_CONC_GLU_ISF",
            "99504-3",
            "mg/dL",
            (1, 1500),
            _GLUCOSE_UNITS,
            critical_low=_GLUCOSE_CRITICAL[0],
            critical_high=_GLUCOSE_CRITICAL[1],
        ),
        MetricDef(
            "systolic_bp",
            "Systolic blood pressure",
            _mdc(2, 18949),
            "MDC_PRESS_BLD_NONINV_SYS",
            "8480-6",
            "mm[Hg]",
            (20, 320),
            _PRESSURE_UNITS,
            critical_high=Decimal(180),
        ),
        MetricDef(
            "diastolic_bp",
            "Diastolic blood pressure",
            _mdc(2, 18950),
            "MDC_PRESS_BLD_NONINV_DIA",
            "8462-4",
            "mm[Hg]",
            (5, 250),
            _PRESSURE_UNITS,
            critical_high=Decimal(120),
        ),
        MetricDef(
            "mean_arterial_pressure",
            "Mean arterial pressure",
            _mdc(2, 18951),
            "MDC_PRESS_BLD_NONINV_MEAN",
            "8478-0",
            "mm[Hg]",
            (10, 280),
            _PRESSURE_UNITS,
        ),
        MetricDef(
            "pulse_rate",
            "Pulse rate",
            _mdc(2, 18474),
            "MDC_PULS_RATE_NON_INV",
            "8867-4",
            "/min",
            (10, 350),
            _RATE_UNITS,
            critical_low=Decimal(40),
            critical_high=Decimal(150),
        ),
        MetricDef(
            "heart_rate",
            "Heart rate",
            _mdc(2, 16770),
            "MDC_CARD_BEAT_RATE",
            "8867-4",
            "/min",
            (10, 350),
            _RATE_UNITS,
            critical_low=Decimal(40),
            critical_high=Decimal(150),
        ),
        MetricDef(
            "spo2",
            "Oxygen saturation (pulse oximetry)",
            _mdc(2, 19384),
            "MDC_PULS_OXIM_SAT_O2",
            "59408-5",
            "%",
            (20, 100),
            _PERCENT,
            critical_low=Decimal(90),
        ),
        MetricDef(
            "weight",
            "Body weight",
            _mdc(2, 57664),
            "MDC_MASS_BODY_ACTUAL",
            "29463-7",
            "kg",
            (0.2, 650),
            {
                "kg": _ONE,
                "g": (Decimal("0.001"), Decimal(0)),
                "[lb_av]": (Decimal("0.45359237"), Decimal(0)),
            },
        ),
        MetricDef(
            "height",
            "Body height",
            _mdc(2, 57668),
            "MDC_LEN_BODY_ACTUAL",
            "8302-2",
            "cm",
            (20, 280),
            {"cm": _ONE, "m": (Decimal(100), Decimal(0)), "[in_i]": (Decimal("2.54"), Decimal(0))},
        ),
        MetricDef(
            "bmi",
            "Body mass index",
            _mdc(2, 57680),
            "MDC_RATIO_MASS_BODY_LEN_SQ",
            "39156-5",
            "kg/m2",
            (5, 250),
            {"kg/m2": _ONE},
        ),
        MetricDef(
            "body_fat",
            "Body fat percentage",
            _mdc(2, 57676),
            "MDC_BODY_FAT",
            "41982-0",
            "%",
            (1, 80),
            _PERCENT,
        ),
        MetricDef(
            "body_temperature",
            "Body temperature",
            _mdc(2, 19292),
            "MDC_TEMP_BODY",
            "8310-5",
            "Cel",
            (25, 45),
            {"Cel": _ONE, "[degF]": (Decimal(5) / Decimal(9), Decimal(-160) / Decimal(9))},
            critical_low=Decimal(35),
            critical_high=Decimal(40),
        ),
        MetricDef(
            "respiratory_rate",
            "Respiratory rate",
            _mdc(2, 20490),
            "MDC_RESP_RATE",
            "9279-1",
            "/min",
            (1, 100),
            _RATE_UNITS,
            critical_low=Decimal(8),
            critical_high=Decimal(30),
        ),
        # Intermediate Cuff Pressure (0x2A36): the cuff pressure while a BP measurement runs.
        MetricDef(
            "cuff_pressure",
            "Cuff pressure (intermediate)",
            _mdc(2, 19228),
            "MDC_PRESS_CUFF",
            None,
            "mm[Hg]",
            (0, 350),
            _PRESSURE_UNITS,
        ),
        # PLX Pulse Amplitude Index (0x2A5E/0x2A5F), the relative perfusion of the oximeter.
        MetricDef(
            "pulse_amplitude_index",
            "Pulse amplitude index (perfusion)",
            _mdc(2, 19376),
            "MDC_PULS_OXIM_PERF_REL",
            None,
            "%",
            (0, 100),
            _PERCENT,
        ),
        # Body Composition Measurement (0x2A9C) masses; codes from IEEE 11073-10420.
        MetricDef(
            "fat_free_mass",
            "Fat-free mass",
            _mdc(2, 57684),
            "MDC_MASS_BODY_FAT_FREE",
            None,
            "kg",
            (0.1, 650),
            _MASS_UNITS,
        ),
        MetricDef(
            "soft_lean_mass",
            "Soft lean mass",
            _mdc(2, 57688),
            "MDC_MASS_BODY_SOFT_LEAN",
            None,
            "kg",
            (0.1, 650),
            _MASS_UNITS,
        ),
        MetricDef(
            "body_water_mass",
            "Body water mass",
            _mdc(2, 57692),
            "MDC_BODY_WATER",
            None,
            "kg",
            (0.1, 650),
            _MASS_UNITS,
        ),
    )
}

# Spellings seen on real devices and vendor APIs -> UCUM code.
UNIT_ALIASES: dict[str, str] = {
    "mg/dl": "mg/dL",
    "mmol/l": "mmol/L",
    "mmhg": "mm[Hg]",
    "mm hg": "mm[Hg]",
    "kpa": "kPa",
    "bpm": "/min",
    "1/min": "/min",
    "beats/min": "/min",
    "{beats}/min": "/min",
    "{breaths}/min": "/min",
    "kg": "kg",
    "kgs": "kg",
    "g": "g",
    "lb": "[lb_av]",
    "lbs": "[lb_av]",
    "°c": "Cel",
    "degc": "Cel",
    "c": "Cel",
    "cel": "Cel",
    "°f": "[degF]",
    "degf": "[degF]",
    "f": "[degF]",
    "%": "%",
    "percent": "%",
    "cm": "cm",
    "m": "m",
    "in": "[in_i]",
    "kg/m2": "kg/m2",
    "kg/m^2": "kg/m2",
}


def lookup_metric(name: str) -> MetricDef:
    """The definition of ``name``; :class:`DecodeError` naming the vocabulary if unknown."""
    try:
        return METRICS[name]
    except KeyError:
        known = ", ".join(sorted(METRICS))
        raise DecodeError(
            f"unknown metric {name!r}; known metrics: {known}", field="metric"
        ) from None


def normalize_unit(unit: str) -> str:
    """The UCUM code for ``unit`` (exact UCUM codes pass through; known aliases map)."""
    stripped = unit.strip()
    for metric in METRICS.values():
        if stripped in metric.units:
            return stripped
    alias = UNIT_ALIASES.get(stripped.lower())
    if alias is None:
        raise UnitError(f"unknown unit {unit!r}", field="unit")
    return alias


def critical_flag(value: Decimal, low: Decimal | None, high: Decimal | None) -> str | None:
    """``"critical-low"`` below ``low``, ``"critical-high"`` above ``high``, else None."""
    if low is not None and value < low:
        return "critical-low"
    if high is not None and value > high:
        return "critical-high"
    return None


def to_canonical(metric: MetricDef, value: Decimal, unit: str) -> Decimal:
    """``value`` in ``unit`` converted to the metric's canonical unit, at the precision sent.

    A converted value is rounded (half even) to the largest power of ten not above the
    resolution the device sent, expressed in the canonical unit: ``10.0`` mmol/L (resolution
    0.1 mmol/L = 1.80 mg/dL) is ``180`` mg/dL, ``165.3`` [lb_av] is ``74.98`` kg, ``98.6``
    [degF] is ``37.00`` Cel — never ``74.978818761`` kg, a precision no scale has. A value
    already in the canonical unit is returned unchanged.

    Raises :class:`UnitError` when the unit is not one the metric accepts.
    """
    ucum = normalize_unit(unit)
    conversion = metric.units.get(ucum)
    if conversion is None:
        accepted = ", ".join(metric.units)
        raise UnitError(
            f"unit {unit!r} is not valid for {metric.name}; accepted: {accepted}", field="unit"
        )
    factor, offset = conversion
    if (factor, offset) == _ONE:
        return value
    converted = value * factor + offset
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or not converted.is_finite():
        return converted
    resolution = abs(factor) * Decimal(1).scaleb(exponent)
    return converted.quantize(Decimal(1).scaleb(resolution.adjusted()), rounding=ROUND_HALF_EVEN)
