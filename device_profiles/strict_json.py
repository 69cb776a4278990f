"""The one JSON reader for everything the hub receives: strict, bounded, exact.

Every JSON document from outside — canonical readings, vendor payloads, gateway frames,
provider pushes, FHIR Bundles — goes through :func:`loads`, so a hostile document gets the same
answer on every path. It refuses, with a :class:`~device_profiles.errors.DecodeError` naming the
problem:

* a document larger than ``max_bytes``, or text that is not UTF-8;
* anything ``json`` itself refuses (RFC 8259), and the ``NaN``/``Infinity`` literals it would
  otherwise accept;
* a key repeated in one object — parsers disagree on which value wins (RFC 8259 §4: names
  SHOULD be unique), so the document is ambiguous;
* nesting deeper than ``max_depth``;
* a number with more than ``max_digits`` digits, or an exponent beyond ±``MAX_EXPONENT`` —
  checked on the text, before Python converts it (an integer of thousands of digits costs
  quadratic time and then raises past Python's own 4300-digit limit).

Numbers keep their exact decimal value: integers are ``int``, the rest ``Decimal`` — a
``98.6`` stays ``98.6``. :func:`dumps` writes such a value back as compact JSON, numbers with
the digits they were read with (a dead letter keeps one item of a message that way).
:func:`kind_of` names what a value is in the messages that refuse it ("expected a number, got
a string"), the same words on every path. Pure: standard library only, no IO.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Final, TypeAlias, cast

from device_profiles.errors import DecodeError

JsonValue: TypeAlias = (
    bool | int | Decimal | str | list["JsonValue"] | dict[str, "JsonValue"] | None
)

DEFAULT_MAX_DEPTH: Final = 32
DEFAULT_MAX_DIGITS: Final = 30
MAX_EXPONENT: Final = 400


@dataclass(frozen=True, slots=True)
class _Refusal:
    """Left in the document by a parser hook, in place of a value it refused; the walk after
    the parse reports it with its path (a hook cannot know where it is)."""

    reason: str


def _preview(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:12]}…{text[-6:]} ({len(text)} characters)"


class _Hooks:
    """The parser's hooks, bound to one call's limits."""

    def __init__(self, max_digits: int) -> None:
        self.max_digits = max_digits
        self.refused = False  # a hook left a refusal in the document

    def integer(self, text: str) -> int | _Refusal:
        digits = len(text) - (text[0] == "-")
        if digits > self.max_digits:
            return self._refuse(f"integer {_preview(text)} has more than {self.max_digits} digits")
        return int(text)

    def number(self, text: str) -> Decimal | _Refusal:
        mantissa, _, exponent = text.lower().partition("e")
        if sum(ch.isdigit() for ch in mantissa) > self.max_digits:
            return self._refuse(f"number {_preview(text)} has more than {self.max_digits} digits")
        if exponent and (len(exponent) > 6 or abs(int(exponent)) > MAX_EXPONENT):
            return self._refuse(f"number {_preview(text)} has an exponent beyond ±{MAX_EXPONENT}")
        return Decimal(text)

    def constant(self, name: str) -> _Refusal:
        return self._refuse(f"{name} is not a number JSON allows")

    def mapping(self, pairs: list[tuple[str, object]]) -> dict[str, object] | _Duplicate:
        result = dict(pairs)
        if len(result) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    self.refused = True
                    return _Duplicate(key)
                seen.add(key)
        return result

    def _refuse(self, reason: str) -> _Refusal:
        self.refused = True
        return _Refusal(reason)


@dataclass(frozen=True, slots=True)
class _Duplicate:
    """An object that repeats ``key``."""

    key: str


def _first_problem(document: object, max_depth: int) -> tuple[str, str] | None:
    """(reason, path) of the first refused value in document order, or None.

    Iterative (no recursion limit); paths are ``$``, ``$.key``, ``$.key.0``.
    """
    stack: list[tuple[object, str, int]] = [(document, "$", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, _Refusal):
            return value.reason, path
        if isinstance(value, _Duplicate):
            return f"key repeated in one object: {_preview(value.key)!r}", f"{path}.{value.key}"
        if isinstance(value, dict):
            children = [(child, f"{path}.{key}") for key, child in value.items()]
        elif isinstance(value, list):
            children = [(child, f"{path}.{index}") for index, child in enumerate(value)]
        else:
            continue
        if depth >= max_depth:
            return f"payload nests deeper than {max_depth} levels", path
        stack.extend((child, where, depth + 1) for child, where in reversed(children))
    return None


def _too_large(size: int, what: str, max_bytes: int) -> str:
    return f"payload of {size} {what} exceeds the limit of {max_bytes} bytes"


def loads(
    data: bytes | bytearray | memoryview | str,
    *,
    max_bytes: int,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_digits: int = DEFAULT_MAX_DIGITS,
) -> JsonValue:
    """Parse one JSON document under the limits, or raise :class:`DecodeError` for anything
    the module docstring lists; ``field`` is the path of the offending value (``$.a.0.b``)."""
    if isinstance(data, str):
        if len(data) > max_bytes:  # every character is at least one byte
            raise DecodeError(_too_large(len(data), "characters", max_bytes), field="$")
        text = data
    else:
        raw = bytes(data)
        if len(raw) > max_bytes:
            raise DecodeError(_too_large(len(raw), "bytes", max_bytes), field="$")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DecodeError(f"payload is not UTF-8 (byte {err.start})", field="$") from err
    hooks = _Hooks(max_digits)
    try:
        document = json.loads(
            text,
            parse_int=hooks.integer,
            parse_float=hooks.number,
            parse_constant=hooks.constant,
            object_pairs_hook=hooks.mapping,
        )
    except RecursionError:
        raise DecodeError(f"payload nests deeper than {max_depth} levels", field="$") from None
    except json.JSONDecodeError as err:
        raise DecodeError(
            f"payload is not JSON: {err.msg} at line {err.lineno} column {err.colno}", field="$"
        ) from None
    # The walk that finds a refused value's path, or a nesting too deep, runs only when it can
    # find something: a hook refused a value, or there are more brackets than levels allowed.
    if hooks.refused or text.count("[") + text.count("{") > max_depth:
        problem = _first_problem(document, max_depth)
        if problem is not None:
            raise DecodeError(problem[0], field=problem[1])
    return cast(JsonValue, document)


def dumps(value: object) -> bytes:
    """``value`` (as :func:`loads` returns it) as compact UTF-8 JSON; numbers keep the digits
    they were read with. :class:`TypeError` for anything that is not a JSON value."""
    return _dump(value).encode("utf-8")


def _dump(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_dump(item) for item in value) + "]"
    if isinstance(value, dict):
        members = (f"{json.dumps(key, ensure_ascii=False)}:{_dump(v)}" for key, v in value.items())
        return "{" + ",".join(members) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def kind_of(value: object, *, mapping: str = "an object") -> str:
    """What ``value`` is, for a message that refuses it: ``"null"``, ``"a boolean"``,
    ``"an integer"``, ``"a number"``, ``"a string"``, ``"an array"``, ``mapping`` (a JSON
    object; a TOML profile says ``"a table"``), ``"a date/time"`` (TOML), else the type's
    name. The one naming of values for the JSON readers, the wire contract and the catalog."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: a bool is an int in Python, never on the wire
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, Decimal | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return mapping
    if isinstance(value, datetime | date | time):
        return "a date/time"
    return type(value).__name__
