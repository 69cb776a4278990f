"""The JSON log format: one object per line, patient identifiers redacted everywhere."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from hub.runtime.logs import REDACTED, JsonFormatter, configure_logging, redact

INS = "255081416802538"


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(f"IntegrityError: parameters ('{INS}', 'pat-0f3a9c2b11d4e5f6')")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("hub.test", logging.WARNING, __file__, 1, message, args, exc_info)


def test_a_record_is_one_json_object_with_time_level_logger_message() -> None:
    line = JsonFormatter().format(record("stored %d readings from %s", 12, "dev-a"))
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "hub.test"
    assert entry["message"] == "stored 12 readings from dev-a"  # device ids stay
    assert entry["time"].endswith("+00:00")
    assert "exception" not in entry


def test_patient_identifiers_are_redacted_in_messages_arguments_and_tracebacks() -> None:
    entry = json.loads(
        JsonFormatter().format(
            record(
                "patient %s (INS %s, spaced 2 55 08 14 168 025 38)", "pat-demo-0001", INS, exc=True
            )
        )
    )
    assert entry["message"] == f"patient {REDACTED} (INS {REDACTED}, spaced {REDACTED})"
    assert "IntegrityError" in entry["exception"]
    assert INS not in entry["exception"] and "pat-0f3a" not in entry["exception"]


@pytest.mark.parametrize(
    "text",
    [
        "batch of 500 in 0.012 s",
        "compat-mode on",  # "pat-" inside a word is not an id
        "epoch 1795851234567 ms",  # 13 digits: not an INS
        "device ble-cuff-1 at C0:26:DA:01:02:03",
    ],
)
def test_other_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_configure_logging_installs_the_chosen_format(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    configure_logging("INFO", "json")
    (handler,) = root.handlers
    assert isinstance(handler.formatter, JsonFormatter)
    assert root.level == logging.INFO


@pytest.mark.parametrize(
    ("level", "alembic"), [("INFO", logging.WARNING), ("DEBUG", logging.DEBUG)]
)
def test_alembic_says_warnings_and_errors_only_unless_the_hub_logs_at_debug(
    monkeypatch: pytest.MonkeyPatch, level: str, alembic: int
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(logging.getLogger("alembic"), "level", logging.NOTSET)
    configure_logging(level, "text")
    # Every hub process upgrades the registry at start: Alembic's INFO lines would be noise.
    assert logging.getLogger("alembic.runtime.migration").getEffectiveLevel() == alembic
