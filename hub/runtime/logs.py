"""Logging set-up: text for a terminal, or one JSON object per line for a log pipeline.

``HUB_LOG_FORMAT=json`` writes ``time`` (UTC, RFC 3339), ``level``, ``logger``, ``message`` and,
when there is one, ``exception`` — and redacts patient identifiers wherever they appear: INS
numbers (15 characters, spaced or not) and the hub's pseudonymous patient ids (``pat-…``), in
the message, its arguments and tracebacks (a database error quotes its statement's parameters).
The hub logs no patient identifier at INFO and above; this is the net under that rule, at
every level, for what libraries and exceptions say.

Libraries that narrate routine work at INFO (:data:`CHATTY_LIBRARIES`: Alembic names every
plugin it loads, context it opens and migration step it runs, in every process at every
start) log at WARNING and above, unless the hub itself logs at DEBUG: their warnings and
errors still show.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Literal

REDACTED = "[redacted]"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

CHATTY_LIBRARIES = ("alembic",)

_PATIENT_IDENTIFIERS = re.compile(
    # INS: sex/kind 1-8, year, month, department (2 digits, 2A or 2B), commune, order, key.
    r"\b[1-8] ?\d{2} ?\d{2} ?(?:\d{2}|2[AaBb]) ?\d{3} ?\d{3} ?\d{2}\b"
    # The registry's pseudonymous patient ids.
    r"|\bpat-[A-Za-z0-9._:-]+"
)


def redact(text: str) -> str:
    """``text`` with every patient identifier replaced by :data:`REDACTED`."""
    return _PATIENT_IDENTIFIERS.sub(REDACTED, text)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, patient identifiers redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, log_format: Literal["text", "json"]) -> None:
    """The root logger writes to stderr at ``level`` in ``log_format``."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    logging.basicConfig(level=level, handlers=[handler])
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in CHATTY_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)
