"""Device discovery on one adapter: per-client filters and sessions, and which advertisements
are reported (BlueZ doc/org.bluez.Adapter.rst: StartDiscovery, StopDiscovery,
SetDiscoveryFilter, GetDiscoveryFilters; src/adapter.c).

Rules, as bluetoothd applies them:

* A client is a D-Bus unique name. It has at most one discovery session (a second
  StartDiscovery answers ``InProgress``; StopDiscovery without one, ``Failed: No discovery
  started``) and at most one filter, kept after StopDiscovery until it sets an empty filter or
  leaves the bus.
* An advertisement is reported if any discovering client's filter matches it (no filter
  matches everything); each client must check the reports against its own filter.
* Filter keys and their types are those of :data:`_PARSERS`; an unknown key, a wrong type, a
  value out of range or both RSSI and Pathloss is ``InvalidArguments``. RSSI is a floor
  (-127..20 dBm); Pathloss (<= 137 dB) needs the advertised TX power; Transport ``bredr``
  matches no LE device; Pattern is a prefix of the address or the name.
* Without RSSI or Pathloss in any filter, an RSSI change below 8 dBm is not reported
  (``RSSI_THRESHOLD``). DuplicateData asks for ManufacturerData and ServiceData on every
  advertisement; the simulated devices advertise neither, so it changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from dbus_fast.signature import Variant

from gateway_firmware_sim.bluez import errors
from gateway_firmware_sim.bluez.bt_uuid import parse_uuid

RSSI_THRESHOLD = 8
_PATHLOSS_MAX = 137
_TRANSPORTS = frozenset({"auto", "bredr", "le"})


@dataclass(frozen=True, slots=True)
class DiscoveryFilter:
    uuids: frozenset[str] = frozenset()
    rssi: int | None = None
    pathloss: int | None = None
    transport: str = "auto"
    duplicate_data: bool = False
    discoverable: bool = False
    pattern: str = ""
    auto_connect: bool = False


@dataclass(frozen=True, slots=True)
class Sighting:
    """One advertisement as the adapter heard it."""

    address: str
    name: str
    uuids: frozenset[str]
    rssi: int
    tx_power: int | None


def _uuids(discovery_filter: DiscoveryFilter, value: Any) -> DiscoveryFilter:
    return replace(discovery_filter, uuids=frozenset(parse_uuid(text) for text in value))


def _rssi(discovery_filter: DiscoveryFilter, value: Any) -> DiscoveryFilter:
    if not -127 <= value <= 20:
        raise ValueError(f"RSSI {value} is outside -127..20")
    return replace(discovery_filter, rssi=value)


def _pathloss(discovery_filter: DiscoveryFilter, value: Any) -> DiscoveryFilter:
    if value > _PATHLOSS_MAX:
        raise ValueError(f"Pathloss {value} is above {_PATHLOSS_MAX}")
    return replace(discovery_filter, pathloss=value)


def _transport(discovery_filter: DiscoveryFilter, value: Any) -> DiscoveryFilter:
    if value not in _TRANSPORTS:
        raise ValueError(f"Transport {value!r} is not one of {sorted(_TRANSPORTS)}")
    return replace(discovery_filter, transport=value)


_Parser = Callable[[DiscoveryFilter, Any], DiscoveryFilter]
# key -> (D-Bus signature of its variant, how it sets the filter), in BlueZ's order
_PARSERS: dict[str, tuple[str, _Parser]] = {
    "UUIDs": ("as", _uuids),
    "RSSI": ("n", _rssi),
    "Pathloss": ("q", _pathloss),
    "Transport": ("s", _transport),
    "DuplicateData": ("b", lambda f, v: replace(f, duplicate_data=v)),
    "Discoverable": ("b", lambda f, v: replace(f, discoverable=v)),
    "Pattern": ("s", lambda f, v: replace(f, pattern=v)),
    "AutoConnect": ("b", lambda f, v: replace(f, auto_connect=v)),
}
FILTER_KEYS = tuple(_PARSERS)


def parse_filter(options: Mapping[str, object]) -> DiscoveryFilter | None:
    """The filter of a SetDiscoveryFilter argument; ``None`` for an empty one (no filter)."""
    if not options:
        return None
    result = DiscoveryFilter()
    for key, variant in options.items():
        parser = _PARSERS.get(key)
        if parser is None:
            raise errors.invalid_arguments()
        signature, apply = parser
        if not isinstance(variant, Variant) or variant.signature != signature:
            raise errors.invalid_arguments()
        try:
            result = apply(result, variant.value)
        except ValueError:
            raise errors.invalid_arguments() from None
    if result.rssi is not None and result.pathloss is not None:
        raise errors.invalid_arguments()
    return result


def matches(discovery_filter: DiscoveryFilter | None, sighting: Sighting) -> bool:
    if discovery_filter is None:
        return True
    if discovery_filter.transport == "bredr":
        return False
    if discovery_filter.uuids and not discovery_filter.uuids & sighting.uuids:
        return False
    if discovery_filter.pattern and not (
        sighting.address.startswith(discovery_filter.pattern)
        or sighting.name.startswith(discovery_filter.pattern)
    ):
        return False
    if discovery_filter.rssi is not None and sighting.rssi < discovery_filter.rssi:
        return False
    return discovery_filter.pathloss is None or (
        sighting.tx_power is not None
        and sighting.tx_power - sighting.rssi <= discovery_filter.pathloss
    )


class Discovery:
    """The discovery clients of one adapter."""

    def __init__(self) -> None:
        self._filters: dict[str, DiscoveryFilter] = {}
        self._sessions: set[str] = set()

    @property
    def active(self) -> bool:
        return bool(self._sessions)

    @property
    def proximity(self) -> bool:
        """Whether a discovering client filters on RSSI or Pathloss (every RSSI change is
        then reported)."""
        return any(f.rssi is not None or f.pathloss is not None for f in self._active_filters())

    def _active_filters(self) -> list[DiscoveryFilter]:
        return [self._filters[s] for s in self._sessions if s in self._filters]

    def set_filter(self, client: str, discovery_filter: DiscoveryFilter | None) -> None:
        if discovery_filter is None:
            self._filters.pop(client, None)
        else:
            self._filters[client] = discovery_filter

    def start(self, client: str) -> bool:
        """Start ``client``'s session; whether discovery was off until now."""
        if client in self._sessions:
            raise errors.busy()
        was_active = self.active
        self._sessions.add(client)
        return not was_active

    def stop(self, client: str) -> bool:
        """Stop ``client``'s session; whether discovery is now off."""
        if client not in self._sessions:
            raise errors.failed("No discovery started")
        self._sessions.discard(client)
        return not self.active

    def forget(self, client: str) -> bool:
        """``client`` left the bus; whether discovery went off because of it."""
        self._filters.pop(client, None)
        if client not in self._sessions:
            return False
        self._sessions.discard(client)
        return not self.active

    def reports(self, sighting: Sighting) -> bool:
        return any(matches(self._filters.get(s), sighting) for s in self._sessions)
