"""Typed accessors over a parsed TOML profile that collect problems instead of stopping.

The catalog (``catalog.py``: the profile, its quirks, limits and ``[ble]`` section) and the
JSON mapping (``json_mapping.py``: the ``[json]`` section) each validate their own part of a
profile file with one shared :class:`Checker`, so a file's problems are all reported at once,
each as ``(file, field path, message)``. Pure: no IO.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TypeAlias

from device_profiles.strict_json import kind_of
from device_profiles.vocabulary import METRICS, MetricDef

Table: TypeAlias = Mapping[str, object]
"""A TOML table as :mod:`tomllib` parses it (numbers read with ``parse_float=Decimal``)."""


def toml_kind(value: object) -> str:
    """What a TOML value is, for a message: ``"a table"``, ``"an integer"``..."""
    return kind_of(value, mapping="a table")


def join(where: str, key: str) -> str:
    """The field path of ``key`` inside the table at ``where`` (``""``: the top level)."""
    return f"{where}.{key}" if where else key


class Checker:
    """Collects ``(file, field, message)`` problems while building a profile.

    Every accessor returns ``None`` after recording a problem, so validation goes on and the
    caller sees every problem of the file at once.
    """

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self.problems: list[tuple[str, str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.problems.append((self.file_name, field, message))

    def keys(self, table: Table, allowed: Iterable[str], where: str) -> None:
        allowed = tuple(allowed)
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.add(join(where, key), f"unknown key{hint} (allowed: {', '.join(allowed)})")

    def table(self, parent: Table, key: str, where: str, *, required: bool) -> Table | None:
        value = parent.get(key)
        field = join(where, key)
        if value is None:
            if required:
                self.add(field, "required table is missing")
            return None
        if not isinstance(value, dict):
            self.add(field, f"expected a table, got {toml_kind(value)}")
            return None
        return value

    def text(
        self, table: Table, key: str, where: str, *, required: bool = False, limit: int = 200
    ) -> str | None:
        value = table.get(key)
        field = join(where, key)
        if value is None:
            if required:
                self.add(field, "required key is missing")
            return None
        if not isinstance(value, str):
            self.add(field, f"expected a string, got {toml_kind(value)}")
            return None
        if not value.strip() or len(value) > limit:
            self.add(field, f"must be 1 to {limit} characters, not blank")
            return None
        return value

    def flag(self, table: Table, key: str, where: str) -> bool | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.add(join(where, key), f"expected true or false, got {toml_kind(value)}")
            return None
        return value

    def number(
        self, table: Table, key: str, where: str, *, required: bool, max_digits: int
    ) -> Decimal | None:
        """A finite number of at most ``max_digits`` significant digits, ``|exponent| <= 15``."""
        value = table.get(key)
        field = join(where, key)
        if value is None:
            if required:
                self.add(field, "required key is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            self.add(field, f"expected a number, got {toml_kind(value)}")
            return None
        number = Decimal(value)
        if not number.is_finite():
            self.add(field, f"{value} is not a finite number")
            return None
        if len(number.as_tuple().digits) > max_digits or abs(number.adjusted()) > 15:
            self.add(field, f"{value} is out of range")
            return None
        return number

    def choice(
        self, table: Table, key: str, where: str, choices: Iterable[str], *, required: bool
    ) -> str | None:
        value = self.text(table, key, where, required=required)
        choices = tuple(choices)
        if value is not None and value not in choices:
            self.add(join(where, key), f"{value!r} is not one of: {', '.join(choices)}")
            return None
        return value

    def text_list(self, table: Table, key: str, where: str, *, required: bool) -> list[str]:
        value = table.get(key)
        field = join(where, key)
        if value is None:
            if required:
                self.add(field, "required key is missing")
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.add(field, "expected an array of strings")
            return []
        if not value and required:
            self.add(field, "must not be empty")
        return [item for item in value if isinstance(item, str)]

    def tables(self, table: Table, key: str, where: str) -> list[tuple[str, Table]]:
        """An array of tables (``[[x]]`` or ``x = [{...}]``) as (field path, table) pairs."""
        value = table.get(key)
        field = join(where, key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(field, f"expected an array of tables, got {toml_kind(value)}")
            return []
        result: list[tuple[str, Table]] = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                result.append((f"{field}[{index}]", item))
            else:
                self.add(f"{field}[{index}]", f"expected a table, got {toml_kind(item)}")
        return result

    def metric_name(self, name: object, where: str) -> MetricDef | None:
        """The vocabulary metric ``name``; a problem (with the closest name) if unknown."""
        if not isinstance(name, str):
            self.add(where, f"expected a metric name, got {toml_kind(name)}")
            return None
        metric = METRICS.get(name)
        if metric is None:
            close = difflib.get_close_matches(name, METRICS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.add(where, f"unknown metric {name!r}{hint} (known: {', '.join(METRICS)})")
        return metric
