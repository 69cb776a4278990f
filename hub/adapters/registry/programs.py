"""Remote-monitoring programmes: alert thresholds and report periods (table ``programs``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from hub.adapters.registry import schema
from hub.adapters.registry.database import Database
from hub.core.model import epoch_ms


@dataclass(frozen=True, slots=True)
class ProgramRecord:
    """A remote-monitoring program: its alert thresholds (fields of
    ``hub.core.summaries.AlertThresholds``; absent ones take the defaults) and the periods
    its reports cover (``week``, ``month``)."""

    id: str
    name: str
    thresholds: dict[str, float]
    report_periods: tuple[str, ...] = ("week", "month")


def _record(row: Any) -> ProgramRecord:
    return ProgramRecord(
        id=str(row.id),
        name=str(row.name),
        thresholds={str(k): float(v) for k, v in json.loads(row.thresholds).items()},
        report_periods=tuple(str(p) for p in json.loads(row.report_periods)),
    )


class Programs:
    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, program: ProgramRecord, *, now: datetime) -> bool:
        """Create or update a program; True if it is new."""
        programs = schema.programs
        values = {
            "name": program.name,
            "thresholds": json.dumps(program.thresholds, sort_keys=True),
            "report_periods": json.dumps(list(program.report_periods)),
        }
        with self.db.write("save program") as conn:
            existing = conn.execute(
                select(programs.c.id).where(programs.c.id == program.id)
            ).first()
            if existing is None:
                conn.execute(
                    insert(programs).values(id=program.id, created_ms=epoch_ms(now), **values)
                )
                return True
            conn.execute(update(programs).where(programs.c.id == program.id).values(**values))
        return False

    def get(self, program_id: str) -> ProgramRecord | None:
        programs = schema.programs
        with self.db.read("program") as conn:
            row = conn.execute(select(programs).where(programs.c.id == program_id)).one_or_none()
        return None if row is None else _record(row)

    def all(self) -> list[ProgramRecord]:
        programs = schema.programs
        with self.db.read("programs") as conn:
            rows = conn.execute(select(programs).order_by(programs.c.id)).all()
        return [_record(row) for row in rows]
