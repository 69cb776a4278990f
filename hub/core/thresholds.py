"""A programme's alert thresholds from stored values (``ProgramRecord.thresholds``).

A programme stores only the thresholds it changes, by the field names of
:class:`hub.core.summaries.AlertThresholds`; the others keep their defaults (the consensus
targets, docs/summaries.md). Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields

from hub.core.summaries import AlertThresholds

THRESHOLD_NAMES = tuple(f.name for f in fields(AlertThresholds))
_WHOLE = frozenset(f.name for f in fields(AlertThresholds) if f.type in (int, "int"))


def alert_thresholds(values: Mapping[str, float]) -> AlertThresholds:
    """:class:`AlertThresholds` with ``values`` over the defaults.

    ``ValueError`` naming the field for an unknown name, a value that is not a finite
    positive number, or a whole-day field (``weight_gain_days``) that is not whole.
    """
    checked: dict[str, float | int] = {}
    for name, value in values.items():
        if name not in THRESHOLD_NAMES:
            raise ValueError(f"{name}: unknown threshold; known: {', '.join(THRESHOLD_NAMES)}")
        number = float(value)
        if not math.isfinite(number) or number <= 0:
            raise ValueError(f"{name}: must be a finite positive number, not {value!r}")
        if name in _WHOLE:
            if not number.is_integer():
                raise ValueError(f"{name}: must be a whole number of days, not {value!r}")
            checked[name] = int(number)
        else:
            checked[name] = number
    return AlertThresholds(**checked)  # type: ignore[arg-type]
