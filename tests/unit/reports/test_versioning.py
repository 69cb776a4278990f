"""Deterministic identifiers, the content hash, and file / replace / unchanged / empty."""

from __future__ import annotations

import re

import pytest

from hub.core.reports.versioning import (
    Decision,
    LatestVersion,
    Verdict,
    content_hash,
    decide,
    document_set_id,
    submission_ids,
    version_ids,
)
from tests.unit.reports.week import PATIENT, PERIOD, week


def test_a_document_set_is_named_by_patient_program_period_and_type_alone() -> None:
    first = document_set_id(PATIENT, "diabetes", "2026-W47", "pdf")
    assert first == document_set_id(PATIENT, "diabetes", "2026-W47", "pdf")
    others = {
        document_set_id("pat-other", "diabetes", "2026-W47", "pdf"),
        document_set_id(PATIENT, "heart-failure", "2026-W47", "pdf"),
        document_set_id(PATIENT, "diabetes", "2026-W48", "pdf"),
        document_set_id(PATIENT, "diabetes", "2026-W47", "fhir"),
    }
    assert first not in others and len(others) == 4
    with pytest.raises(ValueError, match="unknown document type"):
        document_set_id(PATIENT, "diabetes", "2026-W47", "docx")


def test_each_version_has_its_own_stable_xds_identifiers() -> None:
    set_id = document_set_id(PATIENT, "diabetes", "2026-W47", "pdf")
    one, two = version_ids(set_id, 1), version_ids(set_id, 2)
    assert version_ids(set_id, 1) == one
    assert len({one.entry_uuid, two.entry_uuid, one.binary_uuid, two.binary_uuid}) == 4
    for ids in (one, two, submission_ids("a|b|c", 1)):
        # XDS uniqueIds are OIDs (at most 64 characters): a UUID under 2.25 (ITU-T X.667).
        assert re.fullmatch(r"urn:oid:2\.25\.\d{1,39}", ids.unique_id)
        assert len(ids.unique_id.removeprefix("urn:oid:")) <= 64
        assert ids.entry_urn == f"urn:uuid:{ids.entry_uuid}"
    assert one.unique_id != two.unique_id
    with pytest.raises(ValueError, match="start at 1"):
        version_ids(set_id, 0)


def test_decisions() -> None:
    assert decide(None, "h1", empty=False) == Verdict(Decision.FILE, 1, None)
    assert decide(LatestVersion(1, "h1"), "h1", empty=False) == Verdict(
        Decision.UNCHANGED, None, None
    )
    assert decide(LatestVersion(1, "h1"), "h2", empty=False) == Verdict(Decision.REPLACE, 2, 1)
    assert decide(LatestVersion(4, "h1"), "h2", empty=False) == Verdict(Decision.REPLACE, 5, 4)
    assert decide(None, "h1", empty=True).decision is Decision.EMPTY
    # Readings erased after filing: the version filed stays, no empty report over it.
    assert decide(LatestVersion(1, "h1"), "h2", empty=True).decision is Decision.EMPTY


def test_the_hash_follows_the_content_and_the_filed_metadata_only() -> None:
    metadata = {"hidden_from_professionals": False, "language": "fr", "title": "t"}
    once = content_hash(week().to_json(), metadata)
    assert content_hash(week().to_json(), metadata) == once  # recomputed: the same report
    hidden = {**metadata, "hidden_from_professionals": True}
    assert content_hash(week().to_json(), hidden) != once  # the choice shows in the filing
    assert content_hash(week(language="en").to_json(), metadata) != once
    assert content_hash(week(cgm=False).to_json(), metadata) != once


def test_an_empty_period_is_empty() -> None:
    content = week(empty=True)
    assert content.empty and content.summaries() == {}
    assert content.period == PERIOD
