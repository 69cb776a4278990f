"""The national health identifier (INS, *identifiant national de santé*) at the edges.

An INS is the 13-character NIR (or NIA) followed by its 2-digit control key (ANS, *Référentiel
INS*; INSEE NIR structure). Layout of the NIR::

    S YY MM DD CCC OOO     sex/kind, birth year, birth month, department, commune, order
    1 85 05 78 123 456  +  key

The key is ``97 - (NIR mod 97)``; for Corsica the department ``2A``/``2B`` is read as ``19``/
``18`` for the computation. The INS is validated where it enters (API) and then replaced by the
pseudonymous patient id: stores and logs never hold it.
"""

from __future__ import annotations

import re

_SHAPE = re.compile(r"[0-9]{5}(?:[0-9]{2}|2A|2B)[0-9]{8}")
_CORSICA = {"2A": "19", "2B": "18"}
# 1, 2: NIR (men, women); 3, 4: foreign-born persons pending registration; 7, 8: NIA.
_KINDS = set("123478")


class InsError(ValueError):
    """Why a text is not a valid INS; the message names the part at fault."""


def ins_key(nir: str) -> int:
    """The control key of a 13-character NIR."""
    department = nir[5:7]
    digits = nir[:5] + _CORSICA.get(department, department) + nir[7:]
    return 97 - int(digits) % 97


def validate_ins(text: str) -> str:
    """The INS, normalised (spaces removed, upper case); :class:`InsError` if invalid."""
    ins = re.sub(r"[\s.-]", "", text).upper()
    if len(ins) != 15:
        raise InsError(f"an INS has 15 characters (13-character NIR + 2-digit key), got {len(ins)}")
    if not _SHAPE.fullmatch(ins):
        raise InsError(
            "an INS is digits only, except the department (positions 6-7) which may be 2A or 2B"
        )
    if ins[0] not in _KINDS:
        raise InsError(f"position 1 (sex/kind) must be one of 1, 2, 3, 4, 7, 8, got {ins[0]}")
    month = int(ins[3:5])
    if not (1 <= month <= 12 or 20 <= month <= 42 or 50 <= month <= 99):
        raise InsError(f"positions 4-5 (birth month) {ins[3:5]} are not a valid month code")
    expected = ins_key(ins[:13])
    if int(ins[13:]) != expected:
        raise InsError(f"control key {ins[13:]} does not match the NIR (expected {expected:02d})")
    return ins
