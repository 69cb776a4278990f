"""The GDPR table map (hub/adapters/registry/gdpr.py) covers every table of the registry, and
its check catches what it is for: a new table nobody classified, and a table said to hold no
patient data with a column named like a patient, a device or a sender."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, String, Table

from hub.adapters.registry import schema
from hub.adapters.registry.gdpr import (
    TABLES,
    ByDevice,
    ByPatient,
    NoPatientData,
    Relation,
    map_problems,
)


def test_every_table_of_the_registry_is_in_the_map_and_the_map_holds() -> None:
    assert set(TABLES) == set(schema.metadata.tables)
    assert map_problems() == []


def test_every_table_says_how_it_relates_and_why_what_is_kept_stays() -> None:
    for name, relation in TABLES.items():
        if isinstance(relation, NoPatientData):
            assert relation.why.strip() and "\n" not in relation.why, name
        elif isinstance(relation, ByDevice) and not relation.erased:
            assert relation.kept, f"{name}: exported only, but why is it kept?"


def _metadata_with(*tables: tuple[str, list[Column[object]]]) -> MetaData:
    metadata = MetaData()
    for name, columns in tables:
        Table(name, metadata, Column("id", BigInteger, primary_key=True), *columns)
    return metadata


def test_a_table_missing_from_the_map_is_flagged() -> None:
    metadata = _metadata_with(("patients", []), ("wearables", [Column("note", String(9))]))
    problems = map_problems(metadata, {"patients": ByPatient("id")})
    assert problems == ["wearables: not in the map"]


def test_an_identifying_column_in_a_table_without_patient_data_is_flagged() -> None:
    metadata = _metadata_with(
        ("inbox", [Column("sender_id", String(9)), Column("body", String(9))]),
        ("kits", [Column("device_serial", String(9))]),
        ("people", [Column("patient", String(9)), Column("ins", String(15))]),
        ("settings", [Column("name", String(9)), Column("instance", String(9))]),
    )
    tables: dict[str, Relation] = {
        name: NoPatientData("said to hold none") for name in metadata.tables
    }
    assert map_problems(metadata, tables) == [
        "inbox.sender_id: named like an identifier in a table said to hold no patient data",
        "kits.device_serial: named like an identifier in a table said to hold no patient data",
        "people.patient: named like an identifier in a table said to hold no patient data",
        "people.ins: named like an identifier in a table said to hold no patient data",
    ]  # "instance" is not "ins"


def test_a_relation_naming_a_column_that_does_not_exist_is_flagged() -> None:
    metadata = _metadata_with(("letters", [Column("device_id", String(9))]))
    problems = map_problems(metadata, {"letters": ByDevice("device_id", at="received_ms")})
    assert problems == ["letters.received_ms: no such column"]
