"""Code tables of the FHIR edge: which codes name which metric, context, device fact.

Tables, not branches. Sources:

* IEEE 11073-10101 nomenclature (system :data:`MDC`, code =
  partition * 65536 + term code), as the HL7 Personal Health Device (PHD) IG uses it
  ("MDC Nomenclature codes"); the hub's own metric codes come from
  ``device_profiles.vocabulary`` and are not repeated here — this module adds the *aliases*
  other senders use (the glucose sample types of IEEE 11073-10417, the pulse oximeter's own
  pulse rate of 11073-10404...).
* LOINC codes of the R4 vital-signs profiles (``observation-vitalsigns``: heartrate 8867-4,
  oxygensat 2708-6, bp 85354-9 with 8480-6 / 8462-4...) and of the ANS *Mesures de santé*
  value sets (JDV-J154 TypeGlucose: 2345-7 / TAASIP MED-969; JDV-J157 MomentGlucose), also
  under the ANS terminology URL ``TRE-A04-Loinc``.
* PHD IG context and device-information codes: MDC_CTXT_GLU_* (10417 meal, tester, health,
  sample location), MDC_ATTR_TIME_* (coincident time stamp clock types), MDC_ATTR_VAL_BATT_CHARGE,
  MDC_TIME_SYNC_*, MDC_SAT_O2_QUAL, and the ``ASN1ToHL7`` bit codes of the PHD
  BITs-enumeration Observations (measurement status), mapped to the hub's own flag names
  (the same names the Bluetooth decoders use, ``device_profiles``).

**Heart rate or pulse rate** (both are LOINC 8867-4 "Heart rate"): an MDC coding decides
(MDC_CARD_BEAT_RATE → ``heart_rate``; MDC_PULS_RATE_NON_INV, MDC_PULS_OXIM_PULS_RATE,
MDC_PULS_RATE → ``pulse_rate``); else ``Observation.method`` (ANS JDV-J147: oximeter, cuff or
palpation → pulse; heart-rate monitor → heart); else the context (a component of a
blood-pressure panel, or a Device whose PHD specialization is a blood-pressure monitor or a
pulse oximeter → pulse); else ``heart_rate``, the meaning of the LOINC code.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from device_profiles.vocabulary import LOINC_SYSTEM, MDC_SYSTEM, METRICS, UCUM_SYSTEM

# The vocabulary's code systems, under the short names the tables below use.
MDC = MDC_SYSTEM
LOINC = LOINC_SYSTEM
UCUM = UCUM_SYSTEM
# The ANS terminology server's URL for LOINC (ANS value sets JDV-J154, JDV-J157).
LOINC_ANS = "https://mos.esante.gouv.fr/NOS/TRE_A04-Loinc/FHIR/TRE-A04-Loinc"
TAASIP = "https://mos.esante.gouv.fr/NOS/TRE_R308-TAASIP/FHIR/TRE-R308-TAASIP"
CLADIMED = "https://mos.esante.gouv.fr/NOS/TRE_R306-CLADIMED/FHIR/TRE-R306-CLADIMED"
NCIT = "https://mos.esante.gouv.fr/NOS/TRE_R307-NCIT/FHIR/TRE-R307-NCIT"
CISP2 = "https://mos.esante.gouv.fr/NOS/TRE_R313-CISP2/FHIR/TRE-R313-CISP2"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PHD_CATEGORY = "http://hl7.org/fhir/uv/phd/CodeSystem/PhdObservationCategories"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
# PHD IG: bits of an ASN.1 BITS attribute (both URLs are in use across the IG's versions).
ASN1_SYSTEMS = frozenset(
    {
        "http://terminology.hl7.org/CodeSystem/ASN1ToHL7",
        "http://hl7.org/fhir/uv/phd/CodeSystem/ASN1ToHL7",
    }
)
# PHD IG PhdDevice.identifier: the IEEE 11073 system id (EUI-64), type SYSID.
SYSID_SYSTEM = "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680"
DEVICE_ID_TYPE_SYSTEMS = frozenset(
    {
        "http://hl7.org/fhir/uv/phd/CodeSystem/ContinuaDeviceIdentifiers",
        "http://terminology.hl7.org/CodeSystem/ContinuaDeviceIdentifiers",
    }
)
# INS (ANS Référentiel INS): INS-NIR, INS-NIA, and the test / demonstration authorities.
INS_NIR = "urn:oid:1.2.250.1.213.1.4.8"
INS_SYSTEMS = frozenset(
    {
        INS_NIR,
        "urn:oid:1.2.250.1.213.1.4.9",  # INS-NIA
        "urn:oid:1.2.250.1.213.1.4.10",  # INS-NIR test
        "urn:oid:1.2.250.1.213.1.4.11",  # INS-NIR demonstration
    }
)
LOINC_SYSTEMS = frozenset({LOINC, LOINC_ANS})

# Extensions read and written.
GATEWAY_DEVICE_EXT = "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice"
COINCIDENT_TIME_EXT = "http://hl7.org/fhir/uv/phd/StructureDefinition/CoincidentTimeStampReference"
ANS_MOMENT_EXT = (
    "https://interop.esante.gouv.fr/ig/fhir/mesures/StructureDefinition/"
    "mesures-moment-of-measurement"
)

_PHD_DM = 128 << 16  # MDC_PART_PHD_DM, IEEE 11073-10417 glucose context codes
_SCADA = 2 << 16  # MDC_PART_SCADA


def _dm(term: int) -> str:
    return str(_PHD_DM + term)


def _scada(term: int) -> str:
    return str(_SCADA + term)


# --- metrics -----------------------------------------------------------------------------

HEART_RATE_LOINC = "8867-4"

# Codes other senders use for the hub's metrics (the vocabulary's own codes are added below).
_METRIC_ALIASES: dict[tuple[str, str], str] = {
    # IEEE 11073-10417 glucose concentrations by sample type (MDC_CONC_GLU_*).
    (MDC, _scada(29116)): "glucose",  # CAPILLARY_PLASMA
    (MDC, _scada(29120)): "glucose",  # VENOUS_WHOLEBLOOD
    (MDC, _scada(29124)): "glucose",  # VENOUS_PLASMA
    (MDC, _scada(29128)): "glucose",  # ARTERIAL_WHOLEBLOOD
    (MDC, _scada(29132)): "glucose",  # ARTERIAL_PLASMA
    (MDC, _scada(29136)): "glucose",  # CONTROL (control solution: never a patient reading)
    (MDC, _scada(29292)): "glucose",  # UNDETERMINED_WHOLEBLOOD
    (MDC, _scada(29296)): "glucose",  # UNDETERMINED_PLASMA (PHD IG glucose example, 160368)
    # Pulse rates: the oximeter's (10404) and the generic one.
    (MDC, _scada(18458)): "pulse_rate",  # MDC_PULS_OXIM_PULS_RATE (149530)
    (MDC, _scada(18442)): "pulse_rate",  # MDC_PULS_RATE (149514)
    # LOINC glucose (R4 / ANS JDV-J154 TypeGlucose).
    (LOINC, "15074-8"): "glucose",  # Glucose [Moles/volume] in Blood
    (LOINC, "2345-7"): "glucose",  # Glucose [Mass/volume] in Serum or Plasma (ANS "sanguin")
    (LOINC, "14749-6"): "glucose",  # Glucose [Moles/volume] in Serum or Plasma
    (LOINC, "41653-7"): "glucose",  # Glucose [Mass/volume] in Capillary blood by Glucometer
    (LOINC, "14743-9"): "glucose",  # Glucose [Moles/volume] in Capillary blood by Glucometer
    (LOINC, "32016-8"): "glucose",  # Glucose [Mass/volume] in Capillary blood
    (TAASIP, "MED-969"): "glucose_isf",  # ANS "Glucose interstitiel"
    # LOINC SpO2: 2708-6 is the code of the R4 oxygensat profile and of the ANS profile.
    (LOINC, "2708-6"): "spo2",
    (LOINC, "20564-1"): "spo2",  # Oxygen saturation in Blood
    (LOINC, "8889-8"): "pulse_rate",  # Heart rate by Pulse oximetry
    (LOINC, "3141-9"): "weight",  # Body weight Measured
    (LOINC, "8306-3"): "height",  # Body height --lying
    (LOINC, "8308-9"): "height",  # Body height --standing
    (LOINC, "8331-1"): "body_temperature",  # Oral temperature
    (LOINC, "8332-9"): "body_temperature",  # Rectal temperature
    (LOINC, "8333-7"): "body_temperature",  # Tympanic membrane temperature
    (LOINC, "8328-7"): "body_temperature",  # Axillary temperature
}


def _metric_table() -> dict[tuple[str, str], str]:
    table: dict[tuple[str, str], str] = {}
    for metric in METRICS.values():
        table.setdefault((MDC, str(metric.mdc_code)), metric.name)
        if metric.loinc and metric.loinc != HEART_RATE_LOINC:
            table.setdefault((LOINC, metric.loinc), metric.name)
    for key, name in _METRIC_ALIASES.items():
        table.setdefault(key, name)
    for (system, code), name in list(table.items()):
        if system == LOINC:
            table.setdefault((LOINC_ANS, code), name)
    return table


METRIC_BY_CODE: Mapping[tuple[str, str], str] = MappingProxyType(_metric_table())

# Blood-pressure panels: the values are in the components (R4 bp profile, PHD compound numeric).
PANEL_CODES = frozenset(
    {(LOINC, "85354-9"), (LOINC_ANS, "85354-9"), (LOINC, "55284-4"), (MDC, _scada(18948))}
)

# Observation.method (ANS JDV-J147 MethodHeartrate) -> heart rate or pulse rate.
RATE_BY_METHOD: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        (CLADIMED, "K50BF"): "pulse_rate",  # oxymètre
        (CLADIMED, "K51FC01"): "pulse_rate",  # tensiomètre
        (NCIT, "C49676"): "pulse_rate",  # prise du pouls (palpation)
        (TAASIP, "MED-873"): "heart_rate",  # cardiofréquencemètre
    }
)
# PHD Device.specialization (MDC_DEV_SPEC_PROFILE_*) whose rate is a pulse rate.
PULSE_SPECIALIZATIONS = frozenset({"528391", "528388"})  # BPM, PULS_OXIM

# MDC glucose codes that also say the sample type (same names as the Bluetooth decoder).
SAMPLE_BY_CODE: Mapping[str, str] = MappingProxyType(
    {
        _scada(29112): "sample:capillary-whole-blood",
        _scada(29116): "sample:capillary-plasma",
        _scada(29120): "sample:venous-whole-blood",
        _scada(29124): "sample:venous-plasma",
        _scada(29128): "sample:arterial-whole-blood",
        _scada(29132): "sample:arterial-plasma",
        _scada(29136): "control-solution",
        _scada(29292): "sample:undetermined-whole-blood",
        _scada(29296): "sample:undetermined-plasma",
        _scada(29140): "sample:interstitial-fluid",
    }
)

# --- context of a measurement ----------------------------------------------------------

GLUCOSE_METRICS = frozenset({"glucose", "glucose_isf"})

# A context value (coded) -> the annotation it puts on its measurement. The MDC values are
# the IEEE 11073-10417 context codes; the LOINC / CISP2 ones the ANS JDV-J157 MomentGlucose.
CONTEXT_VALUES: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        (MDC, _dm(29260)): "meal:preprandial",
        (MDC, _dm(29261)): "meal:bedtime",
        (MDC, _dm(29264)): "meal:postprandial",
        (MDC, _dm(29268)): "meal:fasting",
        (MDC, _dm(29272)): "meal:casual",
        (MDC, _dm(29280)): "tester:self",
        (MDC, _dm(29284)): "tester:health-care-professional",
        (MDC, _dm(29288)): "tester:lab-test",
        (MDC, _dm(29216)): "health:minor-issues",
        (MDC, _dm(29220)): "health:major-issues",
        (MDC, _dm(29224)): "health:during-menses",
        (MDC, _dm(29228)): "health:under-stress",
        (MDC, _dm(29232)): "health:no-issues",
        (MDC, _dm(29238)): "location:other",
        (MDC, _dm(29240)): "location:finger",
        (MDC, _dm(29241)): "location:subcutaneous",
        (MDC, _dm(29244)): "location:alternate-site",
        (MDC, _dm(29248)): "location:earlobe",
        (MDC, _dm(29252)): "control-solution",
        (LOINC_ANS, "88365-2"): "meal:preprandial",
        (LOINC_ANS, "16915-1"): "meal:postprandial",
        (LOINC_ANS, "53049-3"): "meal:fasting",
        (LOINC_ANS, "LA11865-5"): "moment:after-exercise",
        (LOINC_ANS, "LA46-8"): "moment:other",
        (LOINC, "88365-2"): "meal:preprandial",
        (LOINC, "16915-1"): "meal:postprandial",
        (LOINC, "53049-3"): "meal:fasting",
        (LOINC, "LA11865-5"): "moment:after-exercise",
        (LOINC, "LA46-8"): "moment:other",
        (CISP2, "A05"): "moment:malaise",
        # PHD supplemental types (MDC_ATTR_SUPPLEMENTAL_TYPES): how the value was averaged.
        (MDC, _scada(19508)): "modality:fast",  # MDC_MODALITY_FAST
        (MDC, _scada(19512)): "modality:slow",  # MDC_MODALITY_SLOW
        (MDC, _scada(19516)): "modality:spot",  # MDC_MODALITY_SPOT (150588, PHD IG example)
    }
)
# Context "questions" (the code of a context Observation or component) -> the metrics whose
# readings it describes. A component whose code is itself a context value also counts.
CONTEXT_QUESTIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        _dm(29256): GLUCOSE_METRICS,  # MDC_CTXT_GLU_MEAL
        _dm(29276): GLUCOSE_METRICS,  # MDC_CTXT_GLU_TESTER
        _dm(29212): GLUCOSE_METRICS,  # MDC_CTXT_GLU_HEALTH
        _dm(29236): GLUCOSE_METRICS,  # MDC_CTXT_GLU_SAMPLELOCATION
        "68193": frozenset(METRICS),  # MDC_ATTR_SUPPLEMENTAL_TYPES
    }
)
SIGNAL_QUALITY = _scada(19248)  # MDC_SAT_O2_QUAL 150320: SpO2 signal quality, %
SIGNAL_QUALITY_METRICS = frozenset({"spo2", "pulse_rate"})

# PHD BITs-enumeration Observations (measurement / device status): their codes, and each bit
# (ASN1ToHL7 code) -> the hub flag, named as the Bluetooth decoders name the same condition.
STATUS_CODES = frozenset({_scada(19532), _dm(22000), _dm(29144)})
STATUS_FLAGS: Mapping[str, str] = MappingProxyType(
    {
        "150604.0": "sensor-disconnected",
        "150604.1": "sensor-malfunction",
        "150604.2": "sensor-displaced",
        "150604.3": "unknown-sensor",
        "150604.4": "sensor-unconnected",
        "150604.5": "sensor-interference",
        "150604.6": "signal-analysis-ongoing",
        "150604.7": "questionable-pulse",
        "150604.8": "nonpulsatile-signal",
        "150604.9": "erratic-signal",
        "150604.10": "low-perfusion",
        "150604.11": "poor-signal",
        "150604.12": "inadequate-signal",
        "150604.13": "signal-processing-irregularity",
        "150604.14": "equipment-malfunction",
        "150604.15": "extended-display-update",
        "8410608.0": "body-movement",
        "8410608.1": "cuff-loose",
        "8410608.2": "irregular-pulse",
        "8410608.3": "pulse-rate-high",
        "8410608.4": "pulse-rate-low",
        "8410608.5": "improper-position",
        "8417752.0": "device-battery-low",
        "8417752.1": "sensor-malfunction",
        "8417752.2": "sample-size-insufficient",
        "8417752.3": "strip-insertion-error",
        "8417752.4": "strip-type-incorrect",
        "8417752.5": "HI",
        "8417752.6": "LO",
        "8417752.7": "sensor-temperature-high",
        "8417752.8": "sensor-temperature-low",
        "8417752.9": "sensor-read-interrupted",
        "8417752.10": "general-device-fault",
        "8417752.11": "sensor-temperature-out-of-range",
    }
)

# --- device information -------------------------------------------------------------------

# PHD coincident time stamp (PhdCoincidentTimeStampObservation): the clock types of
# MDCClockTypes. Absolute and base-offset clocks read as a dateTime: the device's clock.
CLOCK_CODES: Mapping[str, str] = MappingProxyType(
    {"67975": "absolute", "68226": "base-offset", "67983": "relative", "68072": "relative"}
)
# Device facts sent as Observations (PHD IG) or Device.property: kept in the answer.
DEVICE_FACTS: Mapping[str, str] = MappingProxyType(
    {
        "67996": "battery",  # MDC_ATTR_VAL_BATT_CHARGE
        "68220": "time-sync-protocol",  # MDC_TIME_SYNC_PROTOCOL
        "68221": "time-sync-accuracy",  # MDC_TIME_SYNC_ACCURACY
        "68222": "time-resolution",  # MDC_TIME_RES_ABS
        "68223": "time-resolution",  # MDC_TIME_RES_REL
        "68224": "time-resolution",  # MDC_TIME_RES_REL_HI_RES
        "68219": "time-capabilities",  # MDC_TIME_CAP_STATE
    }
)

# --- outbound ---------------------------------------------------------------------------------

VITAL_SIGNS_PROFILE = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
BP_PROFILE = "http://hl7.org/fhir/StructureDefinition/bp"
# R4 vital-signs profiles (observation-vitalsigns.html) by metric; every metric with a LOINC
# code also claims the base vitalsigns profile (the ANS profiles derive from it, glucose too).
PROFILE_BY_METRIC: Mapping[str, str] = MappingProxyType(
    {
        "heart_rate": "http://hl7.org/fhir/StructureDefinition/heartrate",
        "pulse_rate": "http://hl7.org/fhir/StructureDefinition/heartrate",
        "spo2": "http://hl7.org/fhir/StructureDefinition/oxygensat",
        "weight": "http://hl7.org/fhir/StructureDefinition/bodyweight",
        "height": "http://hl7.org/fhir/StructureDefinition/bodyheight",
        "bmi": "http://hl7.org/fhir/StructureDefinition/bmi",
        "body_temperature": "http://hl7.org/fhir/StructureDefinition/bodytemp",
        "respiratory_rate": "http://hl7.org/fhir/StructureDefinition/resprate",
    }
)
# LOINC codes emitted for a metric besides the vocabulary's: the oxygensat profile requires
# 2708-6 (the vocabulary's 59408-5 "by pulse oximetry" follows it).
EXTRA_LOINC: Mapping[str, tuple[str, ...]] = MappingProxyType({"spo2": ("2708-6",)})
LOINC_DISPLAY: Mapping[str, str] = MappingProxyType(
    {
        "8867-4": "Heart rate",
        "2708-6": "Oxygen saturation in Arterial blood",
        "59408-5": "Oxygen saturation in Arterial blood by Pulse oximetry",
        "85354-9": "Blood pressure panel with all children optional",
        "8480-6": "Systolic blood pressure",
        "8462-4": "Diastolic blood pressure",
        "8478-0": "Mean blood pressure",
        "29463-7": "Body weight",
        "8302-2": "Body height",
        "39156-5": "Body mass index (BMI) [Ratio]",
        "8310-5": "Body temperature",
        "9279-1": "Respiratory rate",
        "2339-0": "Glucose [Mass/volume] in Blood",
    }
)
BP_METRICS = ("systolic_bp", "diastolic_bp", "mean_arterial_pressure")
BP_PANEL_LOINC = "85354-9"
BP_PANEL_MDC = (_scada(18948), "MDC_PRESS_BLD_NONINV")

# A meal flag -> the PHD component (MDC_CTXT_GLU_MEAL = value) and the ANS moment extension
# (JDV-J157; bedtime and casual have no code there: "LA46-8" other, with the text).
MEAL_CONTEXT_CODE = (_dm(29256), "MDC_CTXT_GLU_MEAL")
MEAL_OUT: Mapping[str, tuple[str, str, str, str]] = MappingProxyType(
    {
        "meal:preprandial": (_dm(29260), "MDC_CTXT_GLU_MEAL_PREPRANDIAL", "88365-2", "Avant repas"),
        "meal:postprandial": (
            _dm(29264),
            "MDC_CTXT_GLU_MEAL_POSTPRANDIAL",
            "16915-1",
            "Glucose post prandial",
        ),
        "meal:fasting": (_dm(29268), "MDC_CTXT_GLU_MEAL_FASTING", "53049-3", "Glucose à jeun"),
        "meal:casual": (_dm(29272), "MDC_CTXT_GLU_MEAL_CASUAL", "LA46-8", "Autre"),
        "meal:bedtime": (_dm(29261), "MDC_CTXT_GLU_MEAL_BEDTIME", "LA46-8", "Autre"),
    }
)
MOMENT_OUT: Mapping[str, tuple[str, str, str]] = MappingProxyType(
    {
        "moment:after-exercise": (LOINC_ANS, "LA11865-5", "Après exercice"),
        "moment:other": (LOINC_ANS, "LA46-8", "Autre"),
        "moment:malaise": (CISP2, "A05", "Lors d'un malaise"),
    }
)
# Hub flags -> v3 ObservationInterpretation.
INTERPRETATION_OUT: Mapping[str, tuple[str, str]] = MappingProxyType(
    {"critical-low": ("LL", "Critical low"), "critical-high": ("HH", "Critical high")}
)
