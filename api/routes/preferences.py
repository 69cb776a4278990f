"""A patient's preferences, and the monitoring programmes whose thresholds drive alerts.

* ``GET /v1/patients/{id}/preferences`` (the patient; a practitioner in care may read) and
  ``PUT`` (the patient): time zone, language of documents and of the page, glucose unit;
  and the programme followed, which the care team sets (``PUT .../program``: a practitioner
  in care, or an admin). Preferences belong to a registered patient (``POST /v1/patients``);
  an unregistered id reads the defaults and cannot store any.
* ``GET/PUT /v1/programs/{program_id}`` (admin): a programme's name, the alert thresholds it
  changes (the field names of ``AlertThresholds``, docs/summaries.md) and its report periods.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, Field, field_validator

from api import audit
from api.auth import CurrentPrincipal, authorize_patient_access, require_role
from api.deps import Context, HubContext
from api.errors import Problem
from hub.adapters.registry.patients import PatientPreferences
from hub.adapters.registry.programs import ProgramRecord
from hub.adapters.tokens import Role
from hub.core.glucose_units import GlucoseUnit
from hub.core.thresholds import alert_thresholds

router = APIRouter(prefix="/v1", tags=["preferences"])

ProgramId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]


class PreferencesIn(BaseModel):
    zone: str | None = Field(None, description="IANA zone; null: the hub's default")
    language: Literal["fr", "en"] = "fr"
    glucose_unit: GlucoseUnit = "mg/dL"

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown IANA time zone {value!r}") from err
        return value


class PreferencesOut(BaseModel):
    patient_id: str
    registered: bool = Field(description="false: the defaults of an unregistered id")
    zone: str | None
    effective_zone: str = Field(description="the zone days are read in")
    language: str
    glucose_unit: str
    program: str | None


def _preferences(context: HubContext, patient_id: str) -> PreferencesOut:
    stored = context.registry.patients.preferences(patient_id)
    return PreferencesOut(
        patient_id=patient_id,
        registered=context.registry.patients.get(patient_id) is not None,
        zone=stored.zone,
        effective_zone=stored.zone or context.settings.time.zone,
        language=stored.language,
        glucose_unit=stored.glucose_unit,
        program=stored.program,
    )


@router.get("/patients/{patient_id}/preferences", response_model=PreferencesOut)
def get_preferences(
    patient_id: str, principal: CurrentPrincipal, context: Context
) -> PreferencesOut:
    """The patient's preferences (the defaults for an unregistered id)."""
    authorize_patient_access(context, principal, patient_id, "preferences.read")
    return _preferences(context, patient_id)


@router.put("/patients/{patient_id}/preferences", response_model=PreferencesOut)
def put_preferences(
    patient_id: str, body: PreferencesIn, principal: CurrentPrincipal, context: Context
) -> PreferencesOut:
    """Replace the patient's own choices (the patient only): zone, language, glucose unit.
    The monitoring programme is set by their care team (``PUT .../program``)."""
    authorize_patient_access(
        context, principal, patient_id, "preferences.update", practitioners=False
    )
    program = context.registry.patients.preferences(patient_id).program
    preferences = PatientPreferences(body.zone, body.language, body.glucose_unit, program)
    if not context.registry.patients.set_preferences(patient_id, preferences):
        raise Problem(404, "not-found", "this patient is not registered (POST /v1/patients)")
    return _preferences(context, patient_id)


class ProgramChoice(BaseModel):
    program: str | None = Field(None, max_length=64, description="a programme id; null: none")


@router.put("/patients/{patient_id}/program", response_model=PreferencesOut)
def put_patient_program(
    patient_id: str, body: ProgramChoice, principal: CurrentPrincipal, context: Context
) -> PreferencesOut:
    """Put the patient in a monitoring programme (its thresholds drive their alerts): a
    practitioner in care, or an admin — a clinical decision, not the patient's own."""
    require_role(principal, Role.PRACTITIONER, Role.ADMIN)
    if principal.role is Role.PRACTITIONER:
        authorize_patient_access(context, principal, patient_id, "preferences.program")
    else:
        audit.record(context, principal, "preferences.program", patient_id)
    if body.program is not None and context.registry.programs.get(body.program) is None:
        raise Problem(422, "unknown-program", f"no programme {body.program!r}", field="program")
    stored = context.registry.patients.preferences(patient_id)
    chosen = PatientPreferences(stored.zone, stored.language, stored.glucose_unit, body.program)
    if not context.registry.patients.set_preferences(patient_id, chosen):
        raise Problem(404, "not-found", "this patient is not registered (POST /v1/patients)")
    return _preferences(context, patient_id)


class ProgramIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="AlertThresholds fields it changes; others: defaults"
    )
    report_periods: list[Literal["week", "month"]] = Field(default=["week", "month"])

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        alert_thresholds(value)  # ValueError naming the field
        return value


class ProgramOut(BaseModel):
    id: str
    name: str
    thresholds: dict[str, float] = Field(description="as stored: what the programme changes")
    effective_thresholds: dict[str, float] = Field(description="every threshold in force")
    report_periods: list[str]


def _program_out(program: ProgramRecord) -> ProgramOut:
    effective = asdict(alert_thresholds(program.thresholds))
    return ProgramOut(
        id=program.id,
        name=program.name,
        thresholds=program.thresholds,
        effective_thresholds={k: float(v) for k, v in effective.items()},
        report_periods=list(program.report_periods),
    )


@router.get("/programs/{program_id}", response_model=ProgramOut)
def get_program(program_id: ProgramId, principal: CurrentPrincipal, context: Context) -> ProgramOut:
    require_role(principal, Role.ADMIN)
    program = context.registry.programs.get(program_id)
    if program is None:
        raise Problem(404, "not-found", "no programme with this id")
    return _program_out(program)


@router.put("/programs/{program_id}", response_model=ProgramOut)
def put_program(
    program_id: ProgramId,
    body: ProgramIn,
    principal: CurrentPrincipal,
    context: Context,
    response: Response,
) -> ProgramOut:
    """Create (201) or replace (200) a programme."""
    require_role(principal, Role.ADMIN)
    record = ProgramRecord(program_id, body.name, body.thresholds, tuple(body.report_periods))
    created = context.registry.programs.save(record, now=context.clock())
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return _program_out(record)
