"""Provider Bundles as the PHD IG, the R4 spec and the ANS guide write them, parsed (pure)."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from device_profiles import strict_json
from hub.core.fhir.inbound import FhirBatch, parse_fhir_bundle
from hub.core.provider import parse_json_batch
from hub.core.timekeeping import ClockMethod
from hub.core.wire import WireError
from tests.unit.fhir import examples as ex
from tests.unit.fhir.conftest import INS_A, NOW, at

Json = dict[str, Any]


def parse(document: Json) -> FhirBatch:
    return parse_fhir_bundle(json.dumps(document).encode(), max_bytes=1 << 20)


def one(resource: Json, kind: str = "batch") -> FhirBatch:
    return parse(ex.bundle(kind, ex.entry(resource)))


def single(resource: Json) -> tuple[str, str, Decimal | None, str, str | None, tuple[str, ...]]:
    batch = one(resource)
    assert batch.errors == [], [(e.error.field, e.error.reason) for e in batch.errors]
    [item] = batch.items
    m = item.measurement
    return item.device_id, m.metric, m.value, m.unit, m.time_raw, m.annotations


def errors(batch: FhirBatch) -> list[tuple[int | None, str | None]]:
    return [(e.index, e.error.field) for e in batch.errors]


# --- what the guides send, accepted with the right metric, value, unit, time, device -------------


def test_phd_glucose_mdc_160368_is_blood_glucose() -> None:
    glucose = ex.phd_glucose(value=99)
    device, metric, value, unit, time_raw, notes = single(glucose)
    assert (device, metric, value, unit) == ("meter-1", "glucose", Decimal(99), "mg/dL")
    assert time_raw == glucose["effectiveDateTime"]
    assert "sample:undetermined-plasma" in notes


def test_spo2_coded_with_loinc_2708_6_alone() -> None:
    device, metric, value, unit, time_raw, notes = single(ex.ans_spo2(days_ago=1))
    assert (device, metric, value, unit) == ("00-1C-05-04-00-00-78-25", "spo2", Decimal(99), "%")
    assert time_raw == (NOW - timedelta(days=1)).date().isoformat()
    assert "time-precision:day" in notes


def test_r4_glucose_15074_8_in_mmol_per_litre_with_a_device_by_identifier() -> None:
    device, metric, value, unit, _, _ = single(ex.r4_glucose())
    assert (device, metric, value, unit) == ("meter-1", "glucose", Decimal("6.3"), "mmol/L")


def test_a_date_only_time_is_the_start_of_that_day_in_the_devices_zone() -> None:
    """R4/ANS examples send ``effectiveDateTime: 1999-07-02``: the hub reads a naive midnight
    (the pipeline applies the device's zone) and remembers that only a day was sent."""
    batch = one(ex.r4_heart_rate(days_ago=2))
    [item] = batch.items
    day = (NOW - timedelta(days=2)).date()
    assert item.measurement.time == datetime(day.year, day.month, day.day)
    assert item.measurement.time.tzinfo is None
    assert item.measurement.time_raw == day.isoformat()
    assert "time-precision:day" in item.measurement.annotations


def test_a_period_is_its_start_and_keeps_its_duration() -> None:
    panel = ex.r4_bp_panel(minutes_ago=50)
    batch = one(panel)
    assert errors(batch) == []
    assert {i.measurement.metric for i in batch.items} == {"systolic_bp", "diastolic_bp"}
    start = panel["effectivePeriod"]["start"]
    assert {i.measurement.time_raw for i in batch.items} == {start}
    assert all("period-ms:40000" in i.measurement.annotations for i in batch.items)


@pytest.mark.parametrize(
    ("period", "note"),
    [
        ({"end": "2026-01-02T10:00:00+01:00"}, "period:end-only"),
        ({"start": "2026-01-02T10:00:00Z"}, "period:start-only"),
    ],
)
def test_a_period_with_one_bound_is_that_bound(period: Json, note: str) -> None:
    glucose = ex.phd_glucose()
    del glucose["effectiveDateTime"]
    glucose["effectivePeriod"] = period
    *_, time_raw, notes = single(glucose)
    assert time_raw == next(iter(period.values()))
    assert note in notes


def test_a_phd_bundle_whose_device_is_not_in_the_bundle() -> None:
    """bundle-continuousnonin: 47 Observations, ``device: Device/<id>``, no Device entry."""
    batch = parse(ex.phd_continuous_bundle(seconds=4))
    assert errors(batch) == []
    assert {i.device_id for i in batch.items} == {"phd-74E8FFFEFF051C00.001C05FFE874"}
    metrics = [i.measurement.metric for i in batch.items]
    assert metrics.count("spo2") == 4 and metrics.count("pulse_rate") == 4


def test_the_sysid_names_the_device_whatever_its_place_among_the_identifiers() -> None:
    batch = parse(ex.phd_pulse_ox_bundle())
    assert errors(batch) == []
    assert {i.device_id for i in batch.items} == {"00-1C-05-04-00-00-78-25"}
    assert [i.measurement.metric for i in batch.items] == ["spo2", "pulse_rate"]
    spo2 = batch.items[0]
    assert spo2.measurement.value == 98 and spo2.measurement.unit == "%"
    assert spo2.subject_ins == INS_A  # the bundle's Patient carries the INS
    assert "modality:spot" in spo2.measurement.annotations


# --- heart rate or pulse rate --------------------------------------------------------------------

HR_LOINC = ex.coding(ex.LOINC, "8867-4")


def _rate(*codings: Json, **fields: Any) -> Json:
    return ex.observation(
        ex.concept(*codings),
        subject={"reference": "Patient/x"},
        effectiveDateTime=at(5),
        valueQuantity=ex.quantity(70, "/min"),
        device={"reference": "Device/cuff-1"},
        **fields,
    )


METHOD = "https://mos.esante.gouv.fr/NOS/TRE_R306-CLADIMED/FHIR/TRE-R306-CLADIMED"


@pytest.mark.parametrize(
    ("resource", "metric"),
    [
        (_rate(HR_LOINC), "heart_rate"),  # the LOINC meaning (R4 heartrate profile)
        (_rate(ex.coding(ex.MDC, "147842"), HR_LOINC), "heart_rate"),  # MDC_CARD_BEAT_RATE
        (_rate(ex.coding(ex.MDC, "149546"), HR_LOINC), "pulse_rate"),  # MDC_PULS_RATE_NON_INV
        (_rate(ex.coding(ex.MDC, "149530"), HR_LOINC), "pulse_rate"),  # oximeter's pulse
        (_rate(HR_LOINC, method=ex.concept(ex.coding(METHOD, "K50BF"))), "pulse_rate"),
        (_rate(HR_LOINC, method=ex.concept(ex.coding(METHOD, "K51FC01"))), "pulse_rate"),
        (
            _rate(
                HR_LOINC,
                method=ex.concept(
                    ex.coding(
                        "https://mos.esante.gouv.fr/NOS/TRE_R308-TAASIP/FHIR/TRE-R308-TAASIP",
                        "MED-873",
                    )
                ),
            ),
            "heart_rate",
        ),
    ],
    ids=[
        "loinc",
        "mdc-heart",
        "mdc-pulse",
        "mdc-oximeter",
        "ans-oximeter",
        "ans-cuff",
        "ans-hr-monitor",
    ],
)
def test_heart_rate_or_pulse_rate(resource: Json, metric: str) -> None:
    assert single(resource)[1] == metric


def test_8867_4_from_a_pulse_oximeter_or_in_a_bp_panel_is_the_pulse() -> None:
    oximeter = ex.phd_pulse_ox_bundle()
    rate = oximeter["entry"][5]["resource"]
    rate["code"] = ex.concept(HR_LOINC)  # the MDC coding removed: the Device decides
    assert parse(oximeter).items[1].measurement.metric == "pulse_rate"
    panel = ex.r4_bp_panel()
    panel["component"].append(
        {"code": ex.concept(HR_LOINC), "valueQuantity": ex.quantity(61, "/min")}
    )
    assert "pulse_rate" in {i.measurement.metric for i in one(panel).items}


# --- context kept with the reading ---------------------------------------------------------------


def test_a_meal_context_observation_derived_from_its_glucose() -> None:
    glucose_url = "urn:uuid:0f6c2f4e-0000-4000-8000-000000000001"
    batch = parse(
        ex.bundle(
            "batch",
            ex.entry(
                ex.phd_meal_context(glucose_url, minutes_ago=31)
            ),  # another time: by reference
            ex.entry(ex.phd_glucose(minutes_ago=30), glucose_url),
        )
    )
    [item] = batch.items
    assert "meal:postprandial" in item.measurement.annotations
    assert any("context kept" in note for note in batch.notes[0])


def test_a_meal_context_at_the_same_time_on_the_same_device() -> None:
    batch = parse(
        ex.bundle("batch", ex.entry(ex.phd_glucose(30)), ex.entry(ex.phd_meal_context(None, 30)))
    )
    assert "meal:postprandial" in batch.items[0].measurement.annotations


def test_a_meal_context_without_its_reading_is_said_to_be_lost() -> None:
    batch = one(ex.phd_meal_context(None, 30))
    assert batch.items == [] and batch.errors == []
    assert any("not kept" in note for note in batch.notes[0])


def test_compound_glucose_components_and_ans_moment_of_measurement() -> None:
    _, metric, value, unit, _, notes = single(ex.phd_compound_glucose())
    assert (metric, value, unit) == ("glucose", Decimal("6.3"), "mmol/L")
    assert {"meal:preprandial", "location:other", "sample:capillary-whole-blood"} <= set(notes)
    *_, ans_notes = single(ex.ans_glucose())
    assert {"meal:postprandial", "time-precision:day"} <= set(ans_notes)


def test_status_bits_signal_quality_and_battery_are_kept_not_refused() -> None:
    batch = parse(ex.phd_continuous_bundle(seconds=3))
    assert batch.errors == []
    second = [i for i in batch.items if i.measurement.metric == "spo2"][1]
    assert {"questionable-pulse", "poor-signal", "signal-quality:82"} <= set(
        second.measurement.annotations
    )
    assert [(f.name, f.value) for f in batch.facts] == [("battery", "100 %")]
    last = batch.entry_count - 1  # the data-absent signal quality
    assert any("dataAbsentReason" in n or "without a value" in n for n in batch.notes[last])


def test_device_properties_and_the_coincident_time_stamp() -> None:
    batch = parse(ex.phd_pulse_ox_bundle())
    names = {(f.device_id, f.name) for f in batch.facts}
    assert ("4C-4E-49-12-34-56-FF-FF", "time-sync-protocol") in names
    clock = batch.clocks["00-1C-05-04-00-00-78-25"]
    assert clock.method is ClockMethod.PHD_COINCIDENT
    assert clock.device_time - clock.reference_time == timedelta(seconds=2)
    assert clock.device_time_raw == batch_cts_value(ex.phd_pulse_ox_bundle())


def batch_cts_value(document: Json) -> str:
    value: str = document["entry"][3]["resource"]["valueDateTime"]
    return value


def test_a_time_fault_is_a_fact_and_no_clock() -> None:
    fault = ex.coincident_time_stamp()
    del fault["valueDateTime"]
    fault["dataAbsentReason"] = ex.concept(
        ex.coding("http://terminology.hl7.org/CodeSystem/data-absent-reason", "unknown")
    )
    document = ex.phd_pulse_ox_bundle()
    document["entry"][3]["resource"] = fault
    batch = parse(document)
    assert batch.clocks == {}
    assert any(f.name == "clock" and "fault" in f.value for f in batch.facts)


def _absent(resource: Json) -> Json:
    del resource["valueQuantity"]
    reason = ex.coding("http://terminology.hl7.org/CodeSystem/data-absent-reason", "not-a-number")
    return {**resource, "dataAbsentReason": ex.concept(reason)}


@pytest.mark.parametrize(
    ("resource", "note"),
    [(ex.phd_pleth_waveform(), "waveform"), (_absent(ex.phd_glucose()), "no value")],
    ids=["sampled-data", "data-absent"],
)
def test_valid_content_the_hub_does_not_store_is_a_note(resource: Json, note: str) -> None:
    batch = one(resource)
    assert batch.items == [] and batch.errors == []
    assert any(note in n for n in batch.notes[0])


def test_a_device_setting_is_not_a_patient_reading() -> None:
    setting = ex.phd_glucose()
    setting["subject"] = {"reference": "Device/meter-1"}
    batch = one(setting)
    assert batch.items == [] and batch.errors == []
    assert "device setting" in batch.notes[0][0]


# --- refused, with the offending field -----------------------------------------------------------


def _set(path: str, value: Any) -> Json:
    resource = ex.phd_glucose()
    target = resource
    *parents, last = path.split(".")
    for name in parents:
        target = target[name]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return resource


_DELETE = object()


@pytest.mark.parametrize(
    ("resource", "field"),
    [
        (_set("effectiveDateTime", "2022"), "effectiveDateTime"),
        (_set("effectiveDateTime", "2022-11"), "effectiveDateTime"),
        (_set("effectiveDateTime", "2022-11-06T10:00:00"), "effectiveDateTime"),
        (_set("effectiveDateTime", _DELETE), "effectiveDateTime"),
        (_set("valueQuantity.value", "99"), "valueQuantity.value"),
        (_set("valueQuantity.system", "http://example.org/units"), "valueQuantity.system"),
        (_set("status", "preliminary"), "status"),
        (_set("device", _DELETE), "device"),
        (_set("device", {"reference": "urn:uuid:not-in-this-bundle"}), "device.reference"),
        (_set("code", ex.concept(ex.coding(ex.LOINC, "1234-5"))), "code.coding"),
        (
            _set("subject", {"identifier": {"system": ex.INS_NIR, "value": "255081416802599"}}),
            "subject.identifier.value",
        ),
    ],
    ids=[
        "year-only",
        "month-only",
        "no-offset",
        "no-time",
        "value-string",
        "not-ucum",
        "preliminary",
        "no-device",
        "unresolved-device",
        "unknown-code",
        "bad-ins",
    ],
)
def test_bad_observations_are_refused_naming_the_field(resource: Json, field: str) -> None:
    batch = one(resource)
    assert batch.items == []
    assert errors(batch) == [(0, f"entry[0].resource.{field}")]


def test_requests_other_than_create_and_other_resources_are_refused() -> None:
    put = ex.entry(ex.phd_glucose())
    put["request"]["method"] = "PUT"
    search = ex.entry(ex.phd_glucose(), if_none_exist="code=160368")
    other = {
        "resource": {"resourceType": "MedicationRequest"},
        "request": {"method": "POST", "url": "MedicationRequest"},
    }
    batch = parse(ex.bundle("batch", put, search, other, ex.entry(ex.phd_glucose(10))))
    assert errors(batch) == [
        (0, "entry[0].request.method"),
        (1, "entry[1].request.ifNoneExist"),
        (2, "entry[2].resource.resourceType"),
    ]
    assert [i.index for i in batch.items] == [3]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"resourceType": "Observation"}, "resourceType"),
        ({"resourceType": "Bundle", "type": "collection", "entry": [{}]}, "type"),
        ({"resourceType": "Bundle", "type": "batch", "entry": []}, "entry"),
    ],
)
def test_a_document_that_is_not_a_batch_or_transaction_is_refused_whole(
    document: Json, field: str
) -> None:
    with pytest.raises(WireError) as caught:
        parse(document)
    assert caught.value.field == field


def test_conditional_create_by_identifier_answers_the_second_entry_as_already_there() -> None:
    key = "identifier=urn:ietf:rfc:3986|urn:uuid:187e0c12-8dd2-67e2-99b2-bf273c878281"
    batch = parse(
        ex.bundle(
            "batch",
            ex.entry(ex.phd_glucose(), if_none_exist=key),
            ex.entry(ex.phd_glucose(), if_none_exist=key),
        )
    )
    assert batch.duplicate_of == {1: 0}
    assert [i.index for i in batch.items] == [0]


# --- raw: the item, not the request; no INS ------------------------------------------------------


def test_each_item_keeps_its_own_json_with_the_ins_masked() -> None:
    document = ex.ans_weight_bundle()
    batch = parse(document)
    [weight] = batch.items
    raw = json.loads(weight.raw)
    assert raw["resource"]["code"] == document["entry"][1]["resource"]["code"]
    assert "Device" not in weight.raw.decode()  # the entry, not the whole request
    assert (
        INS_A not in weight.raw.decode()
        and raw["resource"]["subject"]["identifier"]["value"] == "masked"
    )
    assert weight.subject_ins == INS_A
    bad = copy.deepcopy(document)
    bad["entry"][1]["resource"]["status"] = "registered"
    [error] = parse(bad).errors
    assert error.raw is not None and json.loads(error.raw)["resource"]["status"] == "registered"
    assert INS_A.encode() not in error.raw


def test_json_batch_items_keep_their_own_json_with_exact_numbers() -> None:
    body = (
        b'{"readings": [{"device_id": "d-1", "metric": "body_temperature", "value": 36.60,'
        b' "unit": "Cel", "time": "2026-01-02T10:00:00Z"}, {"device_id": "d-1", "value": 1}]}'
    )
    batch = parse_json_batch(body, max_bytes=4096)
    assert batch.items[0].raw == strict_json.dumps(
        json.loads(body, parse_float=Decimal)["readings"][0]
    )
    assert b"36.60" in batch.items[0].raw
    assert batch.errors[0].raw == b'{"device_id":"d-1","value":1}'
