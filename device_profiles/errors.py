"""The errors of ``device_profiles``.

Exception tree::

    ValueError
     ├── DecodeError        bytes or a payload that cannot be decoded (truncated, oversized,
     │    │                 inconsistent flags, reserved values, impossible dates, wrong types)
     │    └── UnitError     a unit that is not UCUM for the metric, or no conversion exists
     ├── EncodeError        a typed value an encoder cannot put on the wire (outside the
     │                      field's range, not representable as SFLOAT/FLOAT, inconsistent)
     └── ProfileError       a catalog profile file is invalid; carries every problem found

Decoders never let ``IndexError``, ``struct.error``, ``KeyError`` or a bare ``ValueError``
escape: they are translated here, at the boundary, with the reason as the message.
"""

from __future__ import annotations


class DecodeError(ValueError):
    """Input that cannot be decoded. ``reason`` names the problem; ``field`` the offending part."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)


class EncodeError(ValueError):
    """A value an encoder cannot put on the wire. ``reason`` says why; ``field`` names the part."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)


class ProfileError(ValueError):
    """A device profile that does not validate. ``problems`` lists ``(file, field, message)``."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems
        lines = [f"{file}: {field}: {message}" for file, field, message in problems]
        super().__init__("\n".join(lines) if lines else "invalid profile")
