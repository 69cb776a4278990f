"""The validators themselves: they catch the mistakes the hub's FHIR output once made (a
``total`` on a collection Bundle, an id with an underscore, an AuditEvent without a source, a
vital sign coded by text alone), and the two waived medplum defects are defects (the R4
specification's own examples trip them)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.fhir.validators import (
    BP,
    KNOWN_DEFECTS,
    Medplum,
    bp_slices_present,
    r4b_errors,
    uses_period,
)

Json = dict[str, Any]
VS = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
        }
    ]
}


def r4_blood_pressure_example(**changes: Any) -> Json:
    """observation-example-bloodpressure of the R4 specification (trimmed of narrative,
    identifiers and performer), claiming the ``bp`` profile it is the example of."""
    return {
        "resourceType": "Observation",
        "id": "blood-pressure",
        "meta": {"profile": [BP]},
        "status": "final",
        "category": [VS],
        "code": {
            "coding": [
                {
                    "system": "http://loinc.org",
                    "code": "85354-9",
                    "display": "Blood pressure panel with all children optional",
                }
            ],
            "text": "Blood pressure systolic & diastolic",
        },
        "subject": {"reference": "Patient/example"},
        "effectiveDateTime": "2012-09-17",
        "component": [
            {
                "code": {
                    "coding": [
                        {"system": "http://loinc.org", "code": "8480-6", "display": "Systolic"}
                    ]
                },
                "valueQuantity": {
                    "value": 107,
                    "unit": "mmHg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            },
            {
                "code": {
                    "coding": [
                        {"system": "http://loinc.org", "code": "8462-4", "display": "Diastolic"}
                    ]
                },
                "valueQuantity": {
                    "value": 60,
                    "unit": "mmHg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            },
        ],
        **changes,
    }


def test_the_waived_medplum_defects_reproduce_on_the_specifications_own_example(
    medplum: Medplum,
) -> None:
    example = r4_blood_pressure_example()
    period = r4_blood_pressure_example(
        effectivePeriod={"start": "2012-09-17T10:00:00Z", "end": "2012-09-17T10:00:40Z"}
    )
    del period["effectiveDateTime"]
    found = [
        {issue["details"] for issue in issues} for issues in medplum.raw_issues([example, period])
    ]
    for text, _ in KNOWN_DEFECTS[:2]:
        assert any(text in detail for detail in found[0])
    assert any(KNOWN_DEFECTS[2][0] in detail for detail in found[1])
    # ...and the waivers apply because the hub's own check of the same rule passes.
    assert bp_slices_present(example) and uses_period(period)
    assert medplum.errors([example, period]) == []


def test_a_waiver_does_not_hide_a_real_bp_error(medplum: Medplum) -> None:
    no_diastolic = r4_blood_pressure_example()
    no_diastolic["component"] = no_diastolic["component"][:1]
    assert not bp_slices_present(no_diastolic)
    assert any("DiastolicBP" in e for e in medplum.errors([no_diastolic]))


@pytest.mark.parametrize(
    ("resource", "medplum_says", "r4b_says"),
    [
        (
            {"resourceType": "Bundle", "type": "collection", "total": 1, "entry": []},
            "bdl-1",
            None,
        ),
        (
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {
                        "resource": {
                            "resourceType": "Basic",
                            "id": "dead_letters",
                            "code": {"text": "x"},
                        }
                    }
                ],
            },
            None,
            "pattern",
        ),
        (
            {
                "resourceType": "AuditEvent",
                "type": {"code": "rest"},
                "recorded": "2026-01-01T00:00:00Z",
                "agent": [{"requestor": True}],
            },
            "AuditEvent.source",
            "source",
        ),
        (
            {
                "resourceType": "Observation",
                "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/heartrate"]},
                "status": "final",
                "code": {"text": "pulse_rate"},
                "subject": {"reference": "Patient/p"},
                "effectiveDateTime": "2026-01-01T00:00:00Z",
                "valueQuantity": {"value": 60, "unit": "/min"},
            },
            "category",
            None,
        ),
    ],
    ids=["total-on-collection", "basic-id-underscore", "audit-without-source", "code-text-only"],
)
def test_the_validators_catch_what_the_hub_once_emitted(
    resource: Json, medplum_says: str | None, r4b_says: str | None, medplum: Medplum
) -> None:
    medplum_errors = medplum.errors([resource])
    r4b = r4b_errors([resource])
    assert medplum_errors or r4b
    if medplum_says:
        assert any(medplum_says in e for e in medplum_errors), medplum_errors
    if r4b_says:
        assert any(r4b_says in e for e in r4b), r4b
