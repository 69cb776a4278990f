"""InfluxDB line protocol and InfluxQL literals: escaping, nothing else (no IO).

Line protocol (``measurement,tag=v field=1 1700000000000``) escapes per element:

============== ==========================================
measurement    ``,`` and space
tag key/value  ``,``  ``=`` and space
field key      ``,``  ``=`` and space
string field   ``"`` and ``\\`` (inside double quotes)
============== ==========================================

Backslashes in *tag values* are not portable: InfluxDB 1.x keeps ``\\\\`` as two characters
and refuses a tag value ending in a backslash (measured on 1.6.7), while other parsers
unescape them. Tag values are therefore first *encoded* (:func:`encode_tag_value`):
``%`` and ``\\`` become ``%25`` and ``%5C``, so a stored tag never holds a backslash, reads
back the same on every server version and decodes to exactly the original string. Every
other character — spaces, commas, equals signs, quotes, any unicode — is kept and escaped.
Control characters never get this far: ``validate_for_store`` refuses them (line protocol is
newline-delimited).
"""

from __future__ import annotations

import re

_TAG_DECODE = re.compile("%(25|5C)")

# str.replace beats str.translate by ~20x on these short strings (measured): the hot path
# escapes every field of every point.


def escape_measurement(name: str) -> str:
    return name.replace(",", r"\,").replace(" ", r"\ ")


def escape_key(key: str) -> str:
    """A tag key, tag value or field key."""
    return key.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def escape_string_field(value: str) -> str:
    """The inside of a string field value (without its quotes)."""
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if '"' in value:
        value = value.replace('"', '\\"')
    return value


def encode_tag_value(value: str) -> str:
    """The portable stored form of a tag value (see the module docstring); not yet escaped."""
    if "%" in value:
        value = value.replace("%", "%25")
    if "\\" in value:
        value = value.replace("\\", "%5C")
    return value


def decode_tag_value(stored: str) -> str:
    """Inverse of :func:`encode_tag_value`."""
    if "%" not in stored:
        return stored
    return _TAG_DECODE.sub(lambda m: "%" if m.group(1) == "25" else "\\", stored)


def tag(key: str, value: str) -> str:
    """``key=value`` ready for a line, the value encoded then escaped."""
    return f"{escape_key(key)}={escape_key(encode_tag_value(value))}"


def string_field(value: str) -> str:
    """A string field value, quoted."""
    return f'"{escape_string_field(value)}"'


def influxql_string(value: str) -> str:
    """A single-quoted InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def influxql_identifier(name: str) -> str:
    """A double-quoted InfluxQL identifier (measurement, tag or field name)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
