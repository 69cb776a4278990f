"""What the registry raises. Every SQLAlchemy error is translated once, in
:mod:`hub.adapters.registry.database`: callers never see a driver's exception."""

from __future__ import annotations


class RegistryError(Exception):
    """The registry could not be read or written (translated from SQLAlchemy)."""


class RegistryUnavailable(RegistryError):
    """The registry's database cannot be reached now (connection refused, locked, timed out):
    retry later. Raised at the registry's one translation point."""


class EnrollmentConflict(RegistryError):
    """A new enrollment would start before the device's current one."""


class EnrollmentNotFound(RegistryError):
    """No enrollment has this id."""


class DeviceConflict(RegistryError):
    """The device (or gateway) id is registered already, by another maker or with another
    model."""
