"""INS validation (13-character NIR + key = 97 - NIR mod 97, Corsica 2A/2B rule)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.identity import check_patient_id
from hub.core.ins import InsError, ins_key, validate_ins


def with_key(nir: str) -> str:
    return f"{nir}{ins_key(nir):02d}"


def test_key_of_a_known_nir() -> None:
    # 2 55 08 14 168 025: the key is 97 - (2550814168025 mod 97) = 38.
    assert ins_key("2550814168025") == 38
    assert validate_ins("2 55 08 14 168 025 38") == "255081416802538"


def test_corsica_departments_use_19_and_18() -> None:
    assert ins_key("185052A123456") == 97 - int("1850519123456") % 97
    assert ins_key("185052B123456") == 97 - int("1850518123456") % 97
    assert validate_ins(with_key("185052A123456")).endswith(f"{ins_key('185052A123456'):02d}")
    assert validate_ins(with_key("185052B123456").lower()) == with_key("185052B123456")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("25508141680253", "15 characters"),
        ("2550814168025381", "15 characters"),
        ("2550814168X2538", "digits only"),
        ("255082C16802538", "2A or 2B"),
        ("955081416802538", "position 1"),
        ("255131416802538", "birth month"),
        ("255081416802539", "control key 39 does not match the NIR (expected 38)"),
    ],
)
def test_invalid_ins_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(InsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_ins(text)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.from_regex(r"[12][0-9]{2}(0[1-9]|1[0-2])([0-9]{2}|2A|2B)[0-9]{6}", fullmatch=True))
def test_every_nir_with_its_key_validates_and_is_never_a_patient_id(nir: str) -> None:
    ins = with_key(nir)
    assert validate_ins(ins) == ins
    assert check_patient_id(ins) is not None  # an INS can never be stored as a patient id
    wrong = f"{nir}{(ins_key(nir) % 97) + 1:02d}"
    with pytest.raises(InsError):
        validate_ins(wrong)
