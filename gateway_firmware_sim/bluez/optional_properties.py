"""Optional D-Bus properties: present on one object, absent on another, appearing later.

BlueZ marks many properties ``[optional]`` and omits them from ``GetAll``,
``GetManagedObjects`` and ``InterfacesAdded`` while they have no value: a characteristic's
``Value`` until it is read or notified, ``NotifyAcquired`` unless it has the "notify" flag, a
device's ``RSSI`` and ``TxPower`` outside discovery, its ``Name`` until it advertised one.
Clients rely on that (bleak reads ``props.get("RSSI", -127)``).

dbus-fast declares properties per class. :class:`OptionalProperties` narrows them per
instance by editing the instance's own property list, which dbus-fast builds for each
instance in ``ServiceInterface.__init__`` and reads through ``ServiceInterface._get_properties``
for every ``Get``/``GetAll``, ``GetManagedObjects``, ``InterfacesAdded`` and
``PropertiesChanged``. This relies on that one private accessor of dbus-fast (pinned below 6);
``tests/integration/test_bluez_sim.py`` would fail first if it changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from dbus_fast.service import ServiceInterface


class OptionalProperties:
    """Which of ``optional`` properties of ``interface`` are present (others always are)."""

    def __init__(
        self, interface: ServiceInterface, optional: Iterable[str], present: Iterable[str] = ()
    ) -> None:
        self._interface = interface
        self._live = ServiceInterface._get_properties(interface)
        self._all = list(self._live)
        declared = {prop.name for prop in self._all}
        self._optional = frozenset(optional)
        unknown = self._optional - declared
        if unknown:
            raise ValueError(f"{interface.name} declares no property {sorted(unknown)}")
        self._present = set(present) & self._optional
        self._apply()

    def _apply(self) -> None:
        self._live[:] = [
            prop
            for prop in self._all
            if prop.name not in self._optional or prop.name in self._present
        ]

    def show(self, name: str) -> bool:
        """Make ``name`` present; whether it was absent."""
        if name not in self._optional:
            raise ValueError(f"{name} is not an optional property of {self._interface.name}")
        if name in self._present:
            return False
        self._present.add(name)
        self._apply()
        return True

    def hide(self, name: str) -> bool:
        """Make ``name`` absent; whether it was present (then clients must be told)."""
        if name not in self._present:
            return False
        self._present.discard(name)
        self._apply()
        return True
