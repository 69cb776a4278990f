"""Request field types shared by the routes, validated with the hub's own id rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator

from hub.core.identity import check_device_id, check_patient_id


def _checked(check: Callable[[str], str | None]) -> Callable[[str], str]:
    def validate(value: str) -> str:
        problem = check(value)
        if problem:
            raise ValueError(problem)
        return value

    return validate


DeviceId = Annotated[str, AfterValidator(_checked(check_device_id))]
PatientId = Annotated[str, AfterValidator(_checked(check_patient_id))]
