"""The device catalog: one declarative TOML file per device model, loaded and validated.

A device maker onboards a model with a profile file, not code (``docs/device-profiles.md``
walks through it). :func:`load_profile_text` parses and validates one file's text and returns
a frozen :class:`DeviceProfile`; :func:`load_catalog` loads a directory of them (by default
the profiles shipped in ``device_profiles/profiles/``) into a :class:`Catalog`. Validation
reports *every* problem found, each as ``(file, field path, message)`` in one
:class:`~device_profiles.errors.ProfileError`. Only :func:`_read` touches the file system.

TOML schema
-----------
Top level::

    schema_version = 1                 # optional; 1 is the only version
    id = "acme-bp-wifi"                # required: slug, 3-64 of a-z 0-9 -, starts with a letter
    manufacturer = "Acme"              # required, 1-200 characters
    model = "BP-200 WiFi"              # required, 1-200 characters
    transport = "mqtt-json"            # required: "ble-gatt" | "mqtt-json"
    description = "..."                # optional, up to 2000 characters

``[quirks]`` (optional) — known deviations of this model, from the closed set :data:`QUIRKS`
(each applies to the transports named; all default to off)::

    clock_unreliable = true            # both: the clock drifts or resets; flag its times and
                                       #   prefer gateway or receive time
    clock_zone = "local"               # both: "local" | "utc", zone of a device time that
                                       #   states no offset
    duplicate_notifications = true     # ble-gatt: each value is notified twice; the echo
                                       #   (same characteristic and bytes just after) is dropped
    kg_resolution_override = 0.05      # ble-gatt: the scale counts its masses in steps of
                                       #   this many kg, not the standard's 0.005: one of
                                       #   0.5 0.2 0.1 0.05 0.02 0.01 0.005; needs 2A9D/2A9C
    sequence_resets = true             # both: sequence numbers restart (power cycle), so are
                                       #   not unique over the device's life: a record without
                                       #   a device time is not identified by its number alone

``[limits.<metric>]`` (optional, one table per metric of ``vocabulary.METRICS``) — plausibility
for this model, in the metric's canonical unit: ``min`` and ``max`` required, within the
vocabulary's physical limits, ``min < max``; ``critical_low`` / ``critical_high`` optional,
within ``[min, max]``, ``critical_low < critical_high``; readings beyond them are flagged.
For ``mqtt-json`` the metric must be one the ``[json]`` mapping can produce.

``[ble]`` — required for ``ble-gatt``, refused otherwise::

    services = ["1810"]                # non-empty; known SIG services (uuids.SERVICES)
    characteristics = ["2A35", "2A36"] # non-empty; known SIG characteristics

UUIDs are 16-bit text (``"2A35"``; ``"0x2a35"`` and the 128-bit SIG base form also parse).

``[json]`` — required for ``mqtt-json``, refused otherwise (path syntax, decoding policy and
the section's validation: ``json_mapping``)::

    records = "readings"               # optional: path of an array of records
    time = "ts"                        # optional default for every metric: path of the time
    time_format = "epoch_s"            # "iso8601" | "epoch_s" | "epoch_ms"; required with time
    sequence = "seq"                   # optional default: path of the record sequence number
    user_id = "user"                   # optional default: path of the device's user index
    annotations = [...]                # optional, applied to every metric (see below)
    status = {...}                     # optional, applied to every metric (see below)

    [[json.metrics]]                   # one or more (at most 64)
    metric = "systolic_bp"             # a vocabulary metric, or instead:
    # metric_field = "metric"          #   path of a field naming the metric, with optional
    # metrics = ["glucose", ...]       #   allowed metrics (default: any)
    value = "sys"                      # required: path of the number
    unit = "mmHg"                      # fixed unit (UCUM or alias), or the fallback for:
    unit_field = "unit"                # path of a field holding the unit; one of the two needed
    scale = 0.1                        # optional positive factor applied to the value
    required = true                    # default true; false: an absent value is not an error
    time, time_format, sequence, user_id   # optional overrides of the defaults above
    annotations = [{ field = "irregular", equals = true, annotation = "irregular-pulse" }]
    status = { field = "status", values = { control = "control-solution" } }

``equals`` defaults to ``true`` and may be a boolean, number or string; annotations are short
slugs (1-32 of ``A-Z a-z 0-9 -``). Unknown keys anywhere are errors.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final, Literal

from device_profiles._checker import Checker, Table, toml_kind
from device_profiles.errors import DecodeError, ProfileError
from device_profiles.json_mapping import MAX_NUMBER_DIGITS, JsonMapping, check_json_section
from device_profiles.uuids import (
    BODY_COMPOSITION_MEASUREMENT,
    CHARACTERISTICS,
    SERVICES,
    WEIGHT_MEASUREMENT,
    normalize_uuid,
    uuid_str,
)
from device_profiles.vocabulary import MetricDef, critical_flag

Transport = Literal["ble-gatt", "mqtt-json"]
TRANSPORTS: Final[dict[str, Transport]] = {"ble-gatt": "ble-gatt", "mqtt-json": "mqtt-json"}
ClockZone = Literal["local", "utc"]
CLOCK_ZONES: Final[dict[str, ClockZone]] = {"local": "local", "utc": "utc"}
SCHEMA_VERSION: Final = 1
MAX_PROFILE_BYTES: Final = 64 * 1024
PROFILES_DIRECTORY: Final = "profiles"
"""The package's folder of shipped profile files (one TOML file per device model)."""
KG_RESOLUTIONS: Final = tuple(
    Decimal(text) for text in ("0.5", "0.2", "0.1", "0.05", "0.02", "0.01", "0.005")
)
"""Weight Scale Feature resolutions (GATT Supplement, Weight Scale Feature), in kg."""
_WEIGHT_CHARACTERISTICS: Final = frozenset((WEIGHT_MEASUREMENT, BODY_COMPOSITION_MEASUREMENT))

_BOTH: Final[frozenset[Transport]] = frozenset(("ble-gatt", "mqtt-json"))
_BLE: Final[frozenset[Transport]] = frozenset(("ble-gatt",))

QUIRKS: Final[dict[str, tuple[frozenset[Transport], str]]] = {
    "clock_unreliable": (
        _BOTH,
        "the device clock drifts or resets: flag its times, prefer gateway or receive time",
    ),
    "clock_zone": (_BOTH, 'zone of a device time that states no offset: "local" or "utc"'),
    "duplicate_notifications": (
        _BLE,
        "each value is notified twice: the repeat right after it in an upload is dropped",
    ),
    "kg_resolution_override": (
        _BLE,
        "the scale counts its masses in steps of this many kg, not the standard's 0.005 kg",
    ),
    "sequence_resets": (
        _BOTH,
        "sequence numbers restart (power cycle), so a number alone identifies no record",
    ),
}
"""The closed set of quirks: name -> (transports it applies to, meaning)."""


# --- the profile ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quirks:
    """Known deviations of a model (see :data:`QUIRKS`). The catalog records them; decoders
    and the hub pipeline act on them."""

    clock_unreliable: bool = False
    clock_zone: ClockZone | None = None
    duplicate_notifications: bool = False
    kg_resolution_override: Decimal | None = None
    sequence_resets: bool = False


@dataclass(frozen=True, slots=True)
class MetricLimits:
    """Plausibility limits of one metric for one model, in the metric's canonical unit."""

    metric: str
    min: Decimal
    max: Decimal
    critical_low: Decimal | None = None
    critical_high: Decimal | None = None

    def is_plausible(self, canonical_value: Decimal) -> bool:
        return self.min <= canonical_value <= self.max

    def critical_flag(
        self, canonical_value: Decimal, fallback: MetricDef | None = None
    ) -> str | None:
        """``"critical-low"`` / ``"critical-high"`` beyond this model's critical limits, else
        None. A side the profile leaves unset is ``fallback``'s (the vocabulary's), if given."""
        low, high = self.critical_low, self.critical_high
        if fallback is not None:
            low = fallback.critical_low if low is None else low
            high = fallback.critical_high if high is None else high
        return critical_flag(canonical_value, low, high)

    def is_critical(self, canonical_value: Decimal) -> bool:
        return self.critical_flag(canonical_value) is not None


@dataclass(frozen=True, slots=True)
class BleProfile:
    """The GATT services and characteristics a BLE model uses, as 16-bit numbers."""

    services: tuple[int, ...]
    characteristics: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """One validated catalog profile. ``source`` is the file it came from.

    Exactly one of ``ble`` (transport ``ble-gatt``) and ``json_mapping`` (``mqtt-json``) is set.
    """

    id: str
    manufacturer: str
    model: str
    transport: Transport
    source: str
    description: str | None = None
    quirks: Quirks = Quirks()
    limits: tuple[MetricLimits, ...] = ()
    ble: BleProfile | None = None
    json_mapping: JsonMapping | None = None

    def limits_for(self, metric: str) -> MetricLimits | None:
        for limits in self.limits:
            if limits.metric == metric:
                return limits
        return None


class Catalog(Mapping[str, DeviceProfile]):
    """Profiles by id. ``catalog.get(id)`` returns ``None`` for an unknown id."""

    __slots__ = ("_profiles",)

    def __init__(self, profiles: Iterable[DeviceProfile]) -> None:
        by_id: dict[str, DeviceProfile] = {}
        problems: list[tuple[str, str, str]] = []
        for profile in profiles:
            first = by_id.setdefault(profile.id, profile)
            if first is not profile:
                problems.append(
                    (profile.source, "id", f"duplicate id {profile.id!r}, also in {first.source}")
                )
        if problems:
            raise ProfileError(problems)
        self._profiles = dict(sorted(by_id.items()))

    def __getitem__(self, profile_id: str) -> DeviceProfile:
        try:
            return self._profiles[profile_id]
        except KeyError:
            raise KeyError(f"no profile {profile_id!r} in the catalog") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._profiles)

    def __len__(self) -> int:
        return len(self._profiles)

    def by_transport(self, transport: str) -> tuple[DeviceProfile, ...]:
        """The profiles of ``transport``, by id; :class:`ValueError` for an unknown one."""
        if transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {transport!r}; known: {', '.join(TRANSPORTS)}")
        return tuple(p for p in self._profiles.values() if p.transport == transport)


# --- loading --------------------------------------------------------------------------------


def load_profile_text(text: str, file_name: str) -> DeviceProfile:
    """Parse and validate one profile's TOML ``text``; ``file_name`` names it in problems.

    Raises :class:`ProfileError` listing every problem found.
    """
    checker = _ProfileChecker(file_name)
    try:
        document = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as err:
        raise ProfileError([(file_name, "(document)", f"not valid TOML: {err}")]) from err
    profile = checker.profile(document)
    if checker.problems or profile is None:
        raise ProfileError(checker.problems)
    return profile


def load_profile_file(path: str | os.PathLike[str]) -> DeviceProfile:
    """Load the profile file at ``path`` (UTF-8, at most :data:`MAX_PROFILE_BYTES`)."""
    source = Path(path)
    return load_profile_text(_read(source, source.name), source.name)


def load_catalog(directory: str | os.PathLike[str] | None = None) -> Catalog:
    """Load every ``*.toml`` file of ``directory`` (default: the packaged catalog).

    Files whose name starts with ``.`` are skipped. Raises :class:`ProfileError` with the
    problems of every file, and duplicate ids, at once.
    """
    root: Traversable = (
        resources.files(__package__ or "device_profiles") / PROFILES_DIRECTORY
        if directory is None
        else Path(directory)
    )
    if not root.is_dir():
        raise ProfileError([(str(root), "(directory)", "not a directory")])
    problems: list[tuple[str, str, str]] = []
    profiles: list[DeviceProfile] = []
    for entry in sorted(root.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".toml") or entry.name.startswith(".") or not entry.is_file():
            continue
        try:
            profiles.append(load_profile_text(_read(entry, entry.name), entry.name))
        except ProfileError as err:
            problems.extend(err.problems)
    try:
        catalog = Catalog(profiles)
    except ProfileError as err:
        problems.extend(err.problems)
    if problems:
        raise ProfileError(problems)
    return catalog


def _read(source: Traversable, file_name: str) -> str:
    """The one function that reads a file: bounded in size, strictly UTF-8."""
    try:
        with source.open("rb") as stream:
            data = stream.read(MAX_PROFILE_BYTES + 1)
    except OSError as err:
        raise ProfileError([(file_name, "(file)", f"cannot read: {err.strerror}")]) from err
    if len(data) > MAX_PROFILE_BYTES:
        raise ProfileError([(file_name, "(file)", f"larger than {MAX_PROFILE_BYTES} bytes")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProfileError([(file_name, "(file)", f"not UTF-8 (byte {err.start})")]) from err


# --- validation -----------------------------------------------------------------------------

_TOP_KEYS: Final = (
    "schema_version",
    "id",
    "manufacturer",
    "model",
    "transport",
    "description",
    "quirks",
    "limits",
    "ble",
    "json",
)
_LIMIT_KEYS: Final = ("min", "max", "critical_low", "critical_high")
_BLE_KEYS: Final = ("services", "characteristics")
_SLUG_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def _physical(metric: MetricDef) -> tuple[Decimal, Decimal]:
    # repr, not Decimal(float): the table's 0.2 means 0.2, not 0.2000000000000000111.
    low, high = metric.limits
    return Decimal(repr(low)), Decimal(repr(high))


def _is_slug(text: str) -> bool:
    return (
        3 <= len(text) <= 64
        and set(text) <= _SLUG_CHARS
        and text[0].isalpha()
        and text[-1] != "-"
        and "--" not in text
    )


class _ProfileChecker(Checker):
    """The profile's own sections (top level, quirks, limits, ``[ble]``); the ``[json]``
    section is validated beside its types (``json_mapping.check_json_section``)."""

    # -- sections --

    def profile(self, document: Table) -> DeviceProfile | None:
        self.keys(document, _TOP_KEYS, "")
        version = document.get("schema_version", SCHEMA_VERSION)
        if isinstance(version, bool) or version != SCHEMA_VERSION:
            self.add("schema_version", f"unsupported schema version {version!r}; expected 1")
        profile_id = self.text(document, "id", "", required=True, limit=64)
        if profile_id is not None and not _is_slug(profile_id):
            self.add("id", f"{profile_id!r} is not a slug (3-64 of a-z 0-9 -, a letter first)")
            profile_id = None
        manufacturer = self.text(document, "manufacturer", "", required=True)
        model = self.text(document, "model", "", required=True)
        description = self.text(document, "description", "", limit=2000)
        transport_text = self.choice(document, "transport", "", TRANSPORTS, required=True)
        transport = TRANSPORTS.get(transport_text or "")

        ble_table = self.table(document, "ble", "", required=transport == "ble-gatt")
        json_table = self.table(document, "json", "", required=transport == "mqtt-json")
        ble = json_mapping = None
        if ble_table is not None:
            if transport == "ble-gatt":
                ble = self.ble(ble_table)
            elif transport is not None:
                self.add("ble", f"a {transport} profile has no [ble] section")
        if json_table is not None:
            if transport == "mqtt-json":
                json_mapping = check_json_section(self, json_table)
            elif transport is not None:
                self.add("json", f"a {transport} profile has no [json] section")

        quirks = self.quirks(document, transport, ble)
        limits = self.limits(document, json_mapping)

        if (
            profile_id is None
            or manufacturer is None
            or model is None
            or transport is None
            or self.problems
        ):
            return None
        return DeviceProfile(
            id=profile_id,
            manufacturer=manufacturer,
            model=model,
            transport=transport,
            source=self.file_name,
            description=description,
            quirks=quirks,
            limits=limits,
            ble=ble,
            json_mapping=json_mapping,
        )

    def quirks(
        self, document: Table, transport: Transport | None, ble: BleProfile | None
    ) -> Quirks:
        table = self.table(document, "quirks", "", required=False)
        if table is None:
            return Quirks()
        self.keys(table, QUIRKS, "quirks")
        for name in table:
            applies = QUIRKS.get(name)
            if applies is not None and transport is not None and transport not in applies[0]:
                self.add(f"quirks.{name}", f"does not apply to a {transport} profile")
        zone = self.choice(table, "clock_zone", "quirks", CLOCK_ZONES, required=False)
        resolution = self.number(
            table, "kg_resolution_override", "quirks", required=False, max_digits=MAX_NUMBER_DIGITS
        )
        if resolution is not None:
            if resolution not in KG_RESOLUTIONS:
                allowed = ", ".join(str(r) for r in KG_RESOLUTIONS)
                self.add("quirks.kg_resolution_override", f"{resolution} is not one of {allowed}")
            elif ble is not None and not _WEIGHT_CHARACTERISTICS & set(ble.characteristics):
                self.add(
                    "quirks.kg_resolution_override",
                    "needs a weight characteristic (2A9D or 2A9C) in ble.characteristics",
                )
        return Quirks(
            clock_unreliable=self.flag(table, "clock_unreliable", "quirks") or False,
            clock_zone=CLOCK_ZONES.get(zone or ""),
            duplicate_notifications=self.flag(table, "duplicate_notifications", "quirks") or False,
            kg_resolution_override=resolution,
            sequence_resets=self.flag(table, "sequence_resets", "quirks") or False,
        )

    def limits(self, document: Table, mapping: JsonMapping | None) -> tuple[MetricLimits, ...]:
        table = self.table(document, "limits", "", required=False)
        if table is None:
            return ()
        produced: frozenset[str] | None = None
        if mapping is not None:
            produced = frozenset()
            for metric_mapping in mapping.metrics:
                metrics = metric_mapping.produces()
                if metrics is None:
                    produced = None
                    break
                produced |= metrics
        result: list[MetricLimits] = []
        for name, body in table.items():
            where = f"limits.{name}"
            metric = self.metric_name(name, where)
            if not isinstance(body, dict):
                self.add(where, f"expected a table, got {toml_kind(body)}")
                continue
            if metric is not None and produced is not None and name not in produced:
                self.add(where, f"the [json] mapping never produces {name}")
            limits = self.metric_limits(body, where, metric)
            if limits is not None:
                result.append(limits)
        return tuple(result)

    def metric_limits(
        self, body: Table, where: str, metric: MetricDef | None
    ) -> MetricLimits | None:
        self.keys(body, _LIMIT_KEYS, where)
        values = {
            key: self.number(
                body, key, where, required=key in ("min", "max"), max_digits=MAX_NUMBER_DIGITS
            )
            for key in _LIMIT_KEYS
        }
        if metric is not None:
            low, high = _physical(metric)
            for key, value in values.items():
                if value is not None and value < low:
                    self.add(
                        f"{where}.{key}", f"{value} is below the physical limit {low} {metric.unit}"
                    )
                elif value is not None and value > high:
                    self.add(
                        f"{where}.{key}",
                        f"{value} is above the physical limit {high} {metric.unit}",
                    )
        minimum, maximum = values["min"], values["max"]
        low_alert, high_alert = values["critical_low"], values["critical_high"]
        if minimum is not None and maximum is not None and minimum >= maximum:
            self.add(f"{where}.min", f"min {minimum} must be below max {maximum}")
        for key, value in (("critical_low", low_alert), ("critical_high", high_alert)):
            if value is None:
                continue
            if (minimum is not None and value < minimum) or (
                maximum is not None and value > maximum
            ):
                self.add(f"{where}.{key}", f"{value} is outside min..max")
        if low_alert is not None and high_alert is not None and low_alert >= high_alert:
            self.add(
                f"{where}.critical_low",
                f"critical_low {low_alert} must be below critical_high {high_alert}",
            )
        if metric is None or minimum is None or maximum is None:
            return None
        return MetricLimits(metric.name, minimum, maximum, low_alert, high_alert)

    def ble(self, table: Table) -> BleProfile:
        self.keys(table, _BLE_KEYS, "ble")
        services = self.uuids(table, "services", SERVICES, "service", CHARACTERISTICS)
        characteristics = self.uuids(
            table, "characteristics", CHARACTERISTICS, "characteristic", SERVICES
        )
        return BleProfile(services, characteristics)

    def uuids(
        self,
        table: Table,
        key: str,
        known: Mapping[int, str],
        kind: str,
        other: Mapping[int, str],
    ) -> tuple[int, ...]:
        result: list[int] = []
        for index, text in enumerate(self.text_list(table, key, "ble", required=True)):
            field = f"ble.{key}[{index}]"
            try:
                number = normalize_uuid(text)
            except DecodeError as err:
                self.add(field, err.reason)
                continue
            if number in result:
                self.add(field, f"{uuid_str(number)} is listed twice")
            elif number in known:
                result.append(number)
            elif number in other:
                self.add(field, f"{uuid_str(number)} ({other[number]}) is not a {kind}")
            else:
                names = ", ".join(f"{uuid_str(n)} {name}" for n, name in known.items())
                self.add(field, f"unknown {kind} {uuid_str(number)}; known: {names}")
        return tuple(result)
