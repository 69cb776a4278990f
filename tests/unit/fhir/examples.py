"""Resources shaped as the guides' own examples are, written for these tests.

Each builder follows one kind of official example — its profile, codes, element layout and
quirks — with times relative to the tests' clock and the devices of ``conftest.DEVICES``:

* HL7 PHD IG: ``bundle-example-1`` (Patient, PHG and PHD Devices with SYSIDs and
  properties, coincident time stamp, numeric SpO2 and pulse rate with supplemental types),
  ``bundle-continuousnonin`` (Observations only, the Device referenced but not in the bundle,
  battery, SpO2 signal quality, BITs status, a data-absent quality), ``glucose-observation``
  (MDC 160368), ``meal-context-observation`` (coded enumeration), ``compound-observation-
  glucose``, ``compound-numeric-blood-pressure``, ``rtsa-example`` (SampledData),
  ``coin-example-timefault``;
* R4 core: the vital-signs examples (heart rate 8867-4 with a date-only time, oxygen
  saturation, glucose 15074-8, blood pressure panel);
* ANS *Mesures de santé*: ``ExampleMesObservationGlucose001`` (ANS LOINC URL, moment of
  measurement, date-only), ``ExampleMesFrOxygenSat`` (2708-6 only), the ``bundle-example``
  transaction (PhdDevice + body weight, subject by identifier).
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

from tests.unit.fhir.conftest import INS_A, NOW, at

MDC = "urn:iso:std:iso:11073:10101"
LOINC = "http://loinc.org"
LOINC_ANS = "https://mos.esante.gouv.fr/NOS/TRE_A04-Loinc/FHIR/TRE-A04-Loinc"
UCUM = "http://unitsofmeasure.org"
SYSID = "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680"
INS_NIR = "urn:oid:1.2.250.1.213.1.4.8"
PHD = "http://hl7.org/fhir/uv/phd/StructureDefinition/"
VS_CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
        }
    ]
}
PHD_CATEGORY = {
    "coding": [
        {"system": "http://hl7.org/fhir/uv/phd/CodeSystem/PhdObservationCategories", "code": "phd"}
    ]
}
ASN1 = "http://terminology.hl7.org/CodeSystem/ASN1ToHL7"

Json = dict[str, Any]
EST = timezone(timedelta(hours=-5))


def coding(system: str, code: str, display: str | None = None) -> Json:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def concept(*codings: Json, text: str | None = None) -> Json:
    return {"coding": list(codings), **({"text": text} if text else {})}


def quantity(value: Any, code: str, unit: str | None = None) -> Json:
    return {"value": value, "unit": unit or code, "system": UCUM, "code": code}


def bundle(kind: str, *entries: Json) -> Json:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def entry(resource: Json, full_url: str | None = None, if_none_exist: str | None = None) -> Json:
    request: Json = {"method": "POST", "url": resource["resourceType"]}
    if if_none_exist:
        request["ifNoneExist"] = if_none_exist
    item: Json = {"resource": resource, "request": request}
    if full_url:
        item["fullUrl"] = full_url
    return item


def observation(code: Json, **fields: Any) -> Json:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [VS_CATEGORY],
        "code": code,
        **fields,
    }


# --- HL7 PHD IG -----------------------------------------------------------------------------

PATIENT_URL = "urn:uuid:5b7842fe-978d-4182-a41f-0d07a8617bc2"
PHG_URL = "urn:uuid:d44b0315-947e-4da5-bb6d-533eceb7a294"
PHD_URL = "urn:uuid:c87cc91b-8b31-4e6f-b636-75e52891d10a"
CTS_URL = "urn:uuid:323f0631-6bca-47aa-8adf-69fdaf910108"
SYSID_TYPE = concept(
    coding(
        "http://terminology.hl7.org/CodeSystem/ContinuaDeviceIdentifiers",
        "SYSID",
        "IEEE 11073 System Identifier",
    )
)


def phd_patient(ins: str = INS_A) -> Json:
    return {
        "resourceType": "Patient",
        "meta": {"profile": [PHD + "PhdPatient"]},
        "identifier": [{"system": INS_NIR, "value": ins}],
        "name": [{"family": "Gyannea", "given": ["Sisansarah"]}],
    }


def phg_device() -> Json:
    return {
        "resourceType": "Device",
        "meta": {"profile": [PHD + "PhgDevice"]},
        "identifier": [{"type": SYSID_TYPE, "system": SYSID, "value": "4C-4E-49-12-34-56-FF-FF"}],
        "type": concept(coding(MDC, "531981", "MDC_MOC_VMS_MDS_AHD")),
        "property": [
            {
                "type": concept(coding(MDC, "68220", "MDC_TIME_SYNC_PROTOCOL")),
                "valueCode": [concept(coding(MDC, "532226", "MDC_TIME_SYNC_NTPV4"))],
            },
            {
                "type": concept(coding(MDC, "68221", "MDC_TIME_SYNC_ACCURACY")),
                "valueQuantity": [{"value": 120000000, "system": UCUM, "code": "us"}],
            },
        ],
    }


def phd_oximeter() -> Json:
    return {
        "resourceType": "Device",
        "meta": {"profile": [PHD + "PhdDevice"]},
        "identifier": [
            {
                "type": concept(
                    coding(
                        "http://terminology.hl7.org/CodeSystem/ContinuaDeviceIdentifiers", "BTMAC"
                    )
                ),
                "system": "http://hl7.org/fhir/sid/eui-48/bluetooth",
                "value": "00-1C-05-00-78-25",
            },
            {"type": SYSID_TYPE, "system": SYSID, "value": "00-1C-05-04-00-00-78-25"},
        ],
        "manufacturer": "Nonin Medical, Inc.",
        "modelNumber": "Model 3150",
        "type": concept(coding(MDC, "65573", "MDC_MOC_VMS_MDS_SIMP")),
        "specialization": [
            {
                "systemType": concept(coding(MDC, "528388", "MDC_DEV_SPEC_PROFILE_PULS_OXIM")),
                "version": "1",
            }
        ],
    }


def coincident_time_stamp(device_ahead_s: int = 2, minutes_ago: int = 1) -> Json:
    """PhdCoincidentTimeStampObservation: the PHD's clock (value) at the PHG's time."""
    phg_time = NOW - timedelta(minutes=minutes_ago)
    return {
        "resourceType": "Observation",
        "meta": {"profile": [PHD + "PhdCoincidentTimeStampObservation"]},
        "status": "final",
        "code": concept(coding(MDC, "67975", "MDC_ATTR_TIME_ABS"), text="Absolute time clock"),
        "subject": {"reference": PHD_URL},
        "effectiveDateTime": at(minutes_ago, "-04:00"),
        "valueDateTime": (phg_time + timedelta(seconds=device_ahead_s))
        .astimezone(phg_time.tzinfo)
        .isoformat(),
        "device": {"reference": PHG_URL},
    }


def _phd_extensions() -> list[Json]:
    return [
        {
            "url": "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice",
            "valueReference": {"reference": PHG_URL},
        },
        {
            "url": PHD + "CoincidentTimeStampReference",
            "valueReference": {"reference": CTS_URL},
        },
    ]


def _supplemental(code: str, display: str) -> Json:
    return {
        "code": concept(coding(MDC, "68193", "MDC_ATTR_SUPPLEMENTAL_TYPES")),
        "valueCodeableConcept": concept(coding(MDC, code, display)),
    }


def phd_spo2(minutes_ago: int = 5, value: Any = 98) -> Json:
    return {
        "resourceType": "Observation",
        "meta": {"profile": [PHD + "PhdNumericObservation"]},
        "extension": _phd_extensions(),
        "status": "final",
        "category": [PHD_CATEGORY, VS_CATEGORY],
        "code": concept(
            coding(MDC, "150456", "MDC_PULS_OXIM_SAT_O2"),
            coding(LOINC, "2708-6", "Oxygen saturation in Arterial blood"),
        ),
        "subject": {"reference": PATIENT_URL},
        "effectiveDateTime": at(minutes_ago, "-04:00"),
        "valueQuantity": quantity(value, "%"),
        "device": {"reference": PHD_URL},
        "component": [_supplemental("150588", "MDC_MODALITY_SPOT")],
    }


def phd_pulse_rate(minutes_ago: int = 5) -> Json:
    spo2 = phd_spo2(minutes_ago)
    return {
        **spo2,
        "code": concept(
            coding(MDC, "149530", "MDC_PULS_OXIM_PULS_RATE"),
            coding(LOINC, "8867-4", "Heart rate"),
        ),
        "valueQuantity": {"value": 47, "unit": "{beat}/min}", "system": UCUM, "code": "/min"},
    }


def phd_pulse_ox_bundle(kind: str = "transaction") -> Json:
    """bundle-example-1: Patient, PHG, PHD, coincident time stamp, SpO2, pulse rate."""
    return bundle(
        kind,
        entry(phd_patient(), PATIENT_URL, f"identifier={INS_NIR}|{INS_A}"),
        entry(phg_device(), PHG_URL, f"identifier={SYSID}|4C-4E-49-12-34-56-FF-FF"),
        entry(phd_oximeter(), PHD_URL, f"identifier={SYSID}|00-1C-05-04-00-00-78-25"),
        entry(coincident_time_stamp(), CTS_URL),
        entry(phd_spo2()),
        entry(phd_pulse_rate()),
    )


CONTINUOUS_DEVICE = "Device/phd-74E8FFFEFF051C00.001C05FFE874"


def _continuous(code: Json, seconds_ago: int, **fields: Any) -> Json:
    return {
        "resourceType": "Observation",
        "meta": {"profile": [PHD + "PhdNumericObservation"]},
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice",
                "valueReference": {"reference": "Device/phg-ecde3d4e58532d31.000000000000"},
            }
        ],
        "status": "final",
        "category": [PHD_CATEGORY],
        "code": code,
        "subject": {"reference": "Patient/patientExample-1"},
        "effectiveDateTime": (NOW - timedelta(seconds=seconds_ago)).astimezone(EST).isoformat(),
        "device": {"reference": CONTINUOUS_DEVICE},
        **fields,
    }


def phd_continuous_bundle(seconds: int = 4) -> Json:
    """bundle-continuousnonin: battery, then per second SpO2, pulse rate, signal quality and
    (from the second on) the BITs status; the last quality is data-absent."""
    entries = [
        _continuous(
            concept(coding(MDC, "67996", "MDC_ATTR_VAL_BATT_CHARGE")),
            seconds + 1,
            valueQuantity=quantity(100, "%"),
        )
    ]
    spo2_code = concept(coding(MDC, "150456", "MDC_PULS_OXIM_SAT_O2"), coding(LOINC, "2708-6"))
    rate_code = concept(coding(MDC, "149530", "MDC_PULS_OXIM_PULS_RATE"), coding(LOINC, "8867-4"))
    quality_code = concept(coding(MDC, "150320", "MDC_SAT_O2_QUAL"))
    for second in range(seconds, 0, -1):
        if second != seconds:
            entries.append(
                _continuous(
                    concept(coding(MDC, "150604", "MDC_PULS_OXIM_DEV_STATUS")),
                    second,
                    meta={"profile": [PHD + "PhdBitsEnumerationObservation"]},
                    component=[
                        {
                            "code": concept(coding(ASN1, "150604.7", "signal-pulse-questionable")),
                            "valueBoolean": True,
                        },
                        {
                            "code": concept(coding(ASN1, "150604.11", "signal-poor")),
                            "valueBoolean": True,
                        },
                    ],
                )
            )
        entries.append(_continuous(spo2_code, second, valueQuantity=quantity(95 + second, "%")))
        entries.append(_continuous(rate_code, second, valueQuantity=quantity(50 + second, "/min")))
        last = second == 1
        entries.append(
            _continuous(
                quality_code,
                second,
                **(
                    {
                        "dataAbsentReason": concept(
                            coding(
                                "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                "not-a-number",
                            )
                        )
                    }
                    if last
                    else {"valueQuantity": quantity(80 + second, "%")}
                ),
            )
        )
    return bundle("transaction", *(entry(e) for e in entries))


def phd_glucose(minutes_ago: int = 30, value: Any = 99) -> Json:
    """glucose-observation: MDC_CONC_GLU_UNDETERMINED_PLASMA (160368), no LOINC."""
    return {
        "resourceType": "Observation",
        "meta": {"profile": [PHD + "PhdNumericObservation"]},
        "status": "final",
        "category": [PHD_CATEGORY],
        "code": concept(
            coding(MDC, "160368", "MDC_CONC_GLU_UNDETERMINED_PLASMA"), text="Glucose measurement"
        ),
        "subject": {"reference": "Patient/patientExample-1"},
        "device": {"reference": "Device/meter-1"},
        "effectiveDateTime": at(minutes_ago, "-05:00"),
        "valueQuantity": quantity(value, "mg/dL"),
    }


def phd_meal_context(glucose_ref: str | None, minutes_ago: int = 30) -> Json:
    """meal-context-observation: a coded enumeration, derivedFrom its glucose measurement."""
    context: Json = {
        "resourceType": "Observation",
        "meta": {"profile": [PHD + "PhdCodedEnumerationObservation"]},
        "category": [PHD_CATEGORY],
        "status": "final",
        "code": concept(coding(MDC, "8417864", "MDC_CTXT_GLU_MEAL"), text="Meal context"),
        "subject": {"reference": "Patient/patientExample-1"},
        "effectiveDateTime": at(minutes_ago, "-05:00"),
        "valueCodeableConcept": concept(
            coding(MDC, "8417872", "MDC_CTXT_GLU_MEAL_POSTPRANDIAL"), text="After lunch/dinner"
        ),
        "device": {"reference": "Device/meter-1"},
    }
    if glucose_ref:
        context["derivedFrom"] = [{"reference": glucose_ref}]
    return context


def phd_compound_glucose(minutes_ago: int = 20) -> Json:
    """compound-observation-glucose: a private code, the values and context in components."""
    return {
        "resourceType": "Observation",
        "meta": {"profile": [PHD + "PhdCompoundObservation"]},
        "status": "final",
        "category": [PHD_CATEGORY],
        "code": concept(
            {
                "system": "http://hl7.org/fhir/uv/phd/CodeSystem/ACMEIncPrivateMDCCodes",
                "code": "8452097",
            },
            text="Private MDC code: MDCX_GLU_COMPOUND_MEASUREMENT",
        ),
        "subject": {"reference": "Patient/patientExample-1"},
        "effectiveDateTime": at(minutes_ago, "-05:00"),
        "device": {"reference": "Device/meter-1"},
        "component": [
            {
                "code": concept(coding(MDC, "160184", "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD")),
                "valueQuantity": {"value": 6.3, "unit": "mmol/l", "system": UCUM, "code": "mmol/L"},
            },
            {
                "code": concept(coding(MDC, "8417864", "MDC_CTXT_GLU_MEAL")),
                "valueCodeableConcept": concept(
                    coding(MDC, "8417868", "MDC_CTXT_GLU_MEAL_PREPRANDIAL")
                ),
            },
            {
                "code": concept(coding(MDC, "8417846", "MDC_CTXT_GLU_SAMPLELOCATION_OTHER")),
                "valueString": "Somewhere on the body.",
            },
        ],
    }


def phd_bp_compound(minutes_ago: int = 40, systolic: Any = 133) -> Json:
    """compound-numeric-blood-pressure: MDC_PRESS_BLD_NONINV with sys / dia / mean."""
    return {
        "resourceType": "Observation",
        "meta": {"profile": [PHD + "PhdCompoundNumericObservation"]},
        "status": "final",
        "category": [PHD_CATEGORY, VS_CATEGORY],
        "code": concept(coding(MDC, "150020", "MDC_PRESS_BLD_NONINV"), coding(LOINC, "85354-9")),
        "subject": {"reference": "Patient/patientExample-1"},
        "effectiveDateTime": at(minutes_ago),
        "device": {"reference": "Device/cuff-1"},
        "component": [
            {
                "code": concept(coding(MDC, "150021"), coding(LOINC, "8480-6")),
                "valueQuantity": quantity(systolic, "mm[Hg]"),
            },
            {
                "code": concept(coding(MDC, "150022"), coding(LOINC, "8462-4")),
                "valueQuantity": quantity(84, "mm[Hg]"),
            },
            {"code": concept(coding(MDC, "150023")), "valueQuantity": quantity(100, "mm[Hg]")},
        ],
    }


def phd_pleth_waveform() -> Json:
    """rtsa-example: MDC_PULS_OXIM_PLETH as SampledData."""
    return {
        "resourceType": "Observation",
        "meta": {"profile": [PHD + "PhdRtsaObservation"]},
        "status": "final",
        "category": [PHD_CATEGORY],
        "code": concept(coding(MDC, "150452", "MDC_PULS_OXIM_PLETH"), text="Pleth Wave"),
        "subject": {"reference": "Patient/patientExample-1"},
        "effectiveDateTime": at(3),
        "valueSampledData": {
            "origin": {"value": -3.4, "system": UCUM, "code": "1"},
            "period": 2.0,
            "factor": 3.0,
            "dimensions": 1,
            "data": "123 110 97 99 112 118",
        },
        "device": {"reference": CONTINUOUS_DEVICE},
    }


# --- R4 core and ANS vital signs ---------------------------------------------------------------


def r4_heart_rate(days_ago: int = 2, device: str = "Device/thermo-1") -> Json:
    """observation-example-heart-rate: LOINC 8867-4 only, a date-only effectiveDateTime."""
    return observation(
        concept(coding(LOINC, "8867-4", "Heart rate"), text="Heart rate"),
        meta={"profile": ["http://hl7.org/fhir/StructureDefinition/heartrate"]},
        subject={"reference": "Patient/example"},
        effectiveDateTime=(NOW - timedelta(days=days_ago)).date().isoformat(),
        valueQuantity=quantity(44, "/min", "beats/minute"),
        device={"reference": device},
    )


def r4_glucose(minutes_ago: int = 90) -> Json:
    """R4 glucose (15074-8, Glucose [Moles/volume] in Blood) in mmol/L."""
    return observation(
        concept(coding(LOINC, "15074-8", "Glucose [Moles/volume] in Blood")),
        subject={"reference": "Patient/f001"},
        effectivePeriod={"start": at(minutes_ago)},
        valueQuantity=quantity(6.3, "mmol/L"),
        device={"identifier": {"system": "urn:acme:meters", "value": "meter-1"}},
    )


def r4_bp_panel(minutes_ago: int = 50) -> Json:
    """observation-example-bloodpressure: 85354-9 with 8480-6 / 8462-4, as a period."""
    start = NOW - timedelta(minutes=minutes_ago)
    return observation(
        concept(coding(LOINC, "85354-9", "Blood pressure panel with all children optional")),
        meta={"profile": ["http://hl7.org/fhir/StructureDefinition/bp"]},
        subject={"reference": "Patient/example"},
        effectivePeriod={
            "start": start.isoformat(),
            "end": (start + timedelta(seconds=40)).isoformat(),
        },
        device={"reference": "Device/cuff-1"},
        component=[
            {
                "code": concept(coding(LOINC, "8480-6")),
                "valueQuantity": quantity(107, "mm[Hg]", "mmHg"),
            },
            {
                "code": concept(coding(LOINC, "8462-4")),
                "valueQuantity": quantity(60, "mm[Hg]", "mmHg"),
            },
        ],
    )


def ans_glucose(days_ago: int = 3) -> Json:
    """ExampleMesObservationGlucose001: ANS LOINC URL, moment of measurement, a date only."""
    return observation(
        concept(coding(LOINC_ANS, "2345-7")),
        meta={
            "profile": [
                "https://interop.esante.gouv.fr/ig/fhir/mesures/StructureDefinition/mesures-observation-glucose"
            ]
        },
        extension=[
            {
                "url": "https://interop.esante.gouv.fr/ig/fhir/mesures/StructureDefinition/mesures-moment-of-measurement",
                "valueCodeableConcept": concept(
                    coding(LOINC_ANS, "16915-1", "Glucose post prandial")
                ),
            }
        ],
        subject={"reference": "Patient/ExamplefrPatient001", "display": "Pierre Durand"},
        effectiveDateTime=(NOW - timedelta(days=days_ago)).date().isoformat(),
        valueQuantity=quantity(92, "mg/dL", "milligramme par décilitre"),
        device={"reference": "Device/meter-1"},
    )


def ans_spo2(days_ago: int = 1) -> Json:
    """ExampleMesFrOxygenSat: LOINC 2708-6 alone, a date only."""
    return observation(
        concept(
            coding(LOINC, "2708-6", "Oxygen saturation in Arterial blood"), text="oxygen_saturation"
        ),
        meta={
            "profile": [
                "https://interop.esante.gouv.fr/ig/fhir/mesures/StructureDefinition/mesures-fr-observation-oxygen-sat"
            ]
        },
        subject={"reference": "Patient/ExamplefrPatient001"},
        effectiveDateTime=(NOW - timedelta(days=days_ago)).date().isoformat(),
        valueQuantity=quantity(99, "%", "%O2"),
        device={"reference": "Device/00-1C-05-04-00-00-78-25"},
    )


def ans_weight_bundle(subject_ins: str = INS_A, minutes_ago: int = 60) -> Json:
    """bundle-example: a PhdDevice (SYSID) and a body weight whose subject is an INS."""
    device_url = "urn:uuid:d36bfdb6-b1b1-4efd-9cb9-d217a8696575"
    device = {
        "resourceType": "Device",
        "meta": {"profile": [PHD + "PhdDevice"]},
        "identifier": [
            {
                "type": concept(
                    coding(
                        "http://hl7.org/fhir/uv/phd/CodeSystem/ContinuaDeviceIdentifiers", "SYSID"
                    )
                ),
                "system": SYSID,
                "value": "scale-1",
            }
        ],
        "manufacturer": "OMRONHEALTHCARE",
        "deviceName": [{"name": "Ma balance", "type": "patient-reported-name"}],
    }
    weight = observation(
        concept(coding(LOINC, "29463-7", "Body weight")),
        meta={
            "profile": [
                "https://interop.esante.gouv.fr/ig/fhir/mesures/StructureDefinition/mesures-fr-observation-body-weight"
            ]
        },
        subject={"identifier": {"system": INS_NIR, "value": subject_ins}},
        effectiveDateTime=at(minutes_ago),
        valueQuantity=quantity(71, "kg"),
        device={"reference": device_url},
    )
    return bundle(
        "transaction",
        entry(device, device_url),
        entry(weight, "urn:uuid:5138af77-df7e-4b9d-ba17-07ba3ebb950a"),
    )
