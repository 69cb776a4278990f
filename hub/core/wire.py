"""The wire contract, version 1: MQTT topics and the canonical JSON reading (docs/wire.md).

Pure: text and bytes in, typed values out. Topic parsing is a table from the topic's kind to
its shape; payload parsing turns every failure into :class:`WireError` with the offending field.

Topics (``{id}`` = 1..128 of ``A-Z a-z 0-9 . _ : -``)::

    hs/v1/devices/{device_id}/readings     canonical JSON reading(s), device -> hub, QoS 1
    hs/v1/devices/{device_id}/json/{profile_id}
                                           vendor JSON, decoded by that catalog profile
    hs/v1/gateways/{gateway_id}/frames     raw GATT frames from a BLE gateway
    hs/v1/gateways/{gateway_id}/status     retained gateway status / last will
    hs/v1/gateways/{gateway_id}/acks       end-to-end acks, hub -> gateway
    hs/v1/hub/bridges/{client_id}/status   retained bridge presence (online / offline as LWT)
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from device_profiles import strict_json
from device_profiles.errors import DecodeError
from device_profiles.measurement import Measurement
from device_profiles.strict_json import kind_of
from hub.core.identity import ID_PATTERN

TOPIC_ROOT = "hs/v1"
MAX_READINGS_PER_MESSAGE = 1000


class WireError(DecodeError):
    """A topic or payload that does not follow the wire contract."""


class TopicKind(enum.StrEnum):
    DEVICE_READINGS = "device-readings"
    DEVICE_JSON = "device-json"
    GATEWAY_FRAMES = "gateway-frames"
    GATEWAY_STATUS = "gateway-status"


_PROFILE = r"[a-z][a-z0-9-]{2,63}"
_TOPIC_SHAPES: dict[TopicKind, re.Pattern[str]] = {
    TopicKind.DEVICE_READINGS: re.compile(rf"hs/v1/devices/(?P<id>{ID_PATTERN})/readings"),
    TopicKind.DEVICE_JSON: re.compile(
        rf"hs/v1/devices/(?P<id>{ID_PATTERN})/json/(?P<profile>{_PROFILE})"
    ),
    TopicKind.GATEWAY_FRAMES: re.compile(rf"hs/v1/gateways/(?P<id>{ID_PATTERN})/frames"),
    TopicKind.GATEWAY_STATUS: re.compile(rf"hs/v1/gateways/(?P<id>{ID_PATTERN})/status"),
}

# What the bridge subscribes to (one filter per kind it ingests).
SUBSCRIPTIONS: tuple[str, ...] = (
    f"{TOPIC_ROOT}/devices/+/readings",
    f"{TOPIC_ROOT}/devices/+/json/+",
    f"{TOPIC_ROOT}/gateways/+/frames",
)
# Retained gateway statuses: every bridge reads them all (never through a shared group,
# which would not deliver retained messages, MQTT 5 §4.8.2).
STATUS_SUBSCRIPTIONS: tuple[str, ...] = (f"{TOPIC_ROOT}/gateways/+/status",)


@dataclass(frozen=True, slots=True)
class Topic:
    kind: TopicKind
    sender_id: str
    profile_id: str | None = None


def parse_topic(topic: str) -> Topic:
    for kind, shape in _TOPIC_SHAPES.items():
        match = shape.fullmatch(topic)
        if match:
            return Topic(kind, match["id"], match.groupdict().get("profile"))
    raise WireError(f"topic {topic!r} is not part of wire contract v1", field="topic")


def device_json_topic(device_id: str, profile_id: str) -> str:
    if not re.fullmatch(_PROFILE, profile_id):
        raise WireError(f"invalid profile id {profile_id!r}", field="profile_id")
    return f"{device_readings_topic(device_id).removesuffix('/readings')}/json/{profile_id}"


def gateway_status_topic(gateway_id: str) -> str:
    return gateway_frames_topic(gateway_id).removesuffix("/frames") + "/status"


def gateway_acks_topic(gateway_id: str) -> str:
    return gateway_frames_topic(gateway_id).removesuffix("/frames") + "/acks"


def gateway_frames_topic(gateway_id: str) -> str:
    if not re.fullmatch(ID_PATTERN, gateway_id):
        raise WireError(f"invalid gateway id {gateway_id!r}", field="gateway_id")
    return f"{TOPIC_ROOT}/gateways/{gateway_id}/frames"


def device_readings_topic(device_id: str) -> str:
    if not re.fullmatch(ID_PATTERN, device_id):
        raise WireError(f"invalid device id {device_id!r}", field="device_id")
    return f"{TOPIC_ROOT}/devices/{device_id}/readings"


def bridge_status_topic(client_id: str) -> str:
    return f"{TOPIC_ROOT}/hub/bridges/{client_id}/status"


def shared(topic_filter: str, group: str) -> str:
    """The MQTT 5 shared-subscription form of a filter (§4.8.2)."""
    return f"$share/{group}/{topic_filter}" if group else topic_filter


# --- canonical JSON reading -------------------------------------------------------------

_FIELDS = {"metric": str, "value": Decimal, "unit": str, "time": str, "seq": int}
_REQUIRED = ("metric", "value", "unit", "time")


@dataclass(frozen=True, slots=True)
class ItemError:
    """One item of a message that could not be parsed; the others still go through.
    ``index`` None: a part of the message's envelope (e.g. a gateway's device clock)."""

    index: int | None
    error: DecodeError
    # The item's own JSON, kept by its dead letter instead of the whole message; None: the
    # dead letter keeps the message.
    raw: bytes | None = None


class ItemsJson(Mapping[int, bytes]):
    """The items of a message by index, as compact JSON — made only when asked for (a dead
    letter keeps the item it is about, and only refused items need their bytes)."""

    def __init__(self, items: Sequence[Any]) -> None:
        self._items = items

    def __getitem__(self, index: int) -> bytes:
        if not 0 <= index < len(self._items):
            raise KeyError(index)
        return strict_json.dumps(self._items[index])

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self._items)))

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True, slots=True)
class ParsedPayload:
    """Good readings with their index in the message, and the bad ones' errors."""

    measurements: list[tuple[int | None, Measurement]]
    errors: list[ItemError]
    items_json: Mapping[int, bytes] = field(default_factory=dict)
    # The device's own clock when it sent the message (``device_now``), if it said.
    device_now: datetime | None = None
    device_now_raw: str | None = None


def parse_json(payload: bytes, *, max_bytes: int) -> Any:
    """Decode a JSON document with the hub's one strict reader (``device_profiles.strict_json``:
    exact decimals, no NaN/Infinity, no repeated keys, bounded size, depth and digits)."""
    try:
        return strict_json.loads(payload, max_bytes=max_bytes)
    except DecodeError as err:
        raise WireError(err.reason, field=None if err.field == "$" else err.field) from err


def _field(item: dict[str, Any], name: str, prefix: str) -> Any:
    value = item.get(name)
    expected = _FIELDS[name]
    where = f"{prefix}{name}"
    if value is None:
        if name in _REQUIRED:
            raise WireError("required field is missing", field=where)
        return None
    # bool is an int in Python but never a number on this wire.
    if isinstance(value, bool):
        raise WireError(f"expected {_type_name(expected)}, got a boolean", field=where)
    if expected is Decimal:
        if isinstance(value, int):
            value = Decimal(value)
        if not isinstance(value, Decimal):
            raise WireError(f"expected a number, got {kind_of(value)}", field=where)
        if not value.is_finite():
            raise WireError("value must be finite", field=where)
        return value
    if not isinstance(value, expected):
        raise WireError(f"expected {_type_name(expected)}, got {kind_of(value)}", field=where)
    return value


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", Decimal: "a number"}[kind]


def parse_time(text: str, field: str = "time") -> datetime:
    """An ISO-8601 / RFC 3339 time that states its UTC offset (``Z`` or ``+01:00``)."""
    if len(text) > 64:
        raise WireError("time text is too long", field=field)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise WireError(f"{text!r} is not an ISO-8601 date-time", field=field) from err
    if moment.tzinfo is None:
        raise WireError(f"{text!r} has no UTC offset (add 'Z' or '+hh:mm')", field=field)
    return moment


def parse_reading(item: Any, prefix: str, *, extra: frozenset[str] = frozenset()) -> Measurement:
    """One canonical reading object; ``extra`` names further fields the caller reads itself."""
    if not isinstance(item, dict):
        raise WireError(
            f"expected an object, got {kind_of(item)}", field=prefix.rstrip(".") or None
        )
    unknown = sorted(set(item) - set(_FIELDS) - extra)
    if unknown:
        raise WireError(f"unknown field(s) {', '.join(unknown)}", field=f"{prefix}{unknown[0]}")
    metric = _field(item, "metric", prefix)
    value = _field(item, "value", prefix)
    unit = _field(item, "unit", prefix)
    time_raw = _field(item, "time", prefix)
    seq = _field(item, "seq", prefix)
    if seq is not None and not 0 <= seq < 2**63:
        raise WireError("seq must be between 0 and 2^63-1", field=f"{prefix}seq")
    if len(metric) > 64:
        raise WireError("metric text is too long", field=f"{prefix}metric")
    if len(unit) > 32:
        raise WireError("unit text is too long", field=f"{prefix}unit")
    return Measurement(
        metric=metric,
        value=value,
        unit=unit,
        time=parse_time(time_raw, f"{prefix}time"),
        time_raw=time_raw,
        sequence=seq,
    )


def parse_device_readings(payload: bytes, *, max_bytes: int = 256 * 1024) -> ParsedPayload:
    """Parse the payload of ``hs/v1/devices/{id}/readings``.

    Accepts one canonical reading object, an array of them, or ``{"readings": [...]}``; an
    object form may add ``"device_now"``: the device's own clock when it sent the message
    (RFC 3339 with offset), from which the hub measures the clock's offset.
    A document that is not JSON raises :class:`WireError`; inside an array, each bad item is
    reported in ``errors`` with its index and the good items are returned.
    """
    document = parse_json(payload, max_bytes=max_bytes)
    now_raw = None
    if isinstance(document, dict) and "device_now" in document:
        now_raw = _text(document, "device_now", "", max_length=64)
        document = {k: v for k, v in document.items() if k != "device_now"}
    device_now = None if now_raw is None else parse_time(now_raw, "device_now")
    if isinstance(document, dict) and set(document) == {"readings"}:
        document = document["readings"]
    if isinstance(document, dict):
        return ParsedPayload([(None, parse_reading(document, ""))], [], {}, device_now, now_raw)
    if not isinstance(document, list):
        raise WireError(f"expected a reading object or an array, got {kind_of(document)}")
    if not document:
        raise WireError("empty array: no readings")
    if len(document) > MAX_READINGS_PER_MESSAGE:
        raise WireError(
            f"{len(document)} readings exceed the limit of {MAX_READINGS_PER_MESSAGE} per message"
        )
    measurements: list[tuple[int | None, Measurement]] = []
    errors: list[ItemError] = []
    items = ItemsJson(document)
    for index, item in enumerate(document):
        try:
            measurements.append((index, parse_reading(item, f"readings[{index}].")))
        except DecodeError as err:
            errors.append(ItemError(index, err, items[index]))
    return ParsedPayload(measurements, errors, items, device_now, now_raw)


# --- gateway frames ---------------------------------------------------------------------

MAX_FRAMES_PER_MESSAGE = 500
MAX_FRAME_BYTES = 512  # ATT_MTU caps an attribute value at 512 bytes (Core v5.4, Vol 3 F 3.2.9)
_UUID16 = re.compile(r"(?:0x)?[0-9A-Fa-f]{4}")


@dataclass(frozen=True, slots=True)
class Frame:
    """One characteristic value as the gateway received it from the device."""

    index: int
    seq: int  # the gateway's per-device frame sequence (for end-to-end acks)
    uuid: str  # 16-bit characteristic UUID, upper-case hex ("2A35")
    data: bytes
    time: datetime | None  # when the gateway received it (with offset)
    time_raw: str | None


@dataclass(frozen=True, slots=True)
class GatewayFrames:
    device_id: str
    device_address: str | None
    profile_id: str
    gateway_time: datetime
    frames: list[Frame]
    errors: list[ItemError]
    frames_json: Mapping[int, bytes] = field(default_factory=dict)
    zone: str | None = None  # the gateway's IANA time zone ("Europe/Paris")


def _text(
    table: dict[str, Any], name: str, where: str, *, required: bool = True, max_length: int = 128
) -> str | None:
    value = table.get(name)
    if value is None:
        if required:
            raise WireError("required field is missing", field=f"{where}{name}")
        return None
    if not isinstance(value, str):
        raise WireError(f"expected a string, got {kind_of(value)}", field=f"{where}{name}")
    if not value or len(value) > max_length:
        raise WireError(f"must be 1-{max_length} characters", field=f"{where}{name}")
    return value


def _frame(item: Any, index: int) -> Frame:
    where = f"frames[{index}]."
    if not isinstance(item, dict):
        raise WireError(f"expected an object, got {kind_of(item)}", field=f"frames[{index}]")
    unknown = sorted(set(item) - {"seq", "uuid", "data", "time"})
    if unknown:
        raise WireError(f"unknown field(s) {', '.join(unknown)}", field=f"{where}{unknown[0]}")
    seq = item.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**63:
        raise WireError("expected an integer 0 <= seq < 2^63", field=f"{where}seq")
    uuid = _text(item, "uuid", where)
    assert uuid is not None
    if not _UUID16.fullmatch(uuid):
        raise WireError(f"{uuid!r} is not a 16-bit UUID", field=f"{where}uuid")
    hex_data = _text(item, "data", where, max_length=2 * MAX_FRAME_BYTES)
    assert hex_data is not None
    try:
        data = bytes.fromhex(hex_data)
    except ValueError as err:
        raise WireError("data is not hexadecimal bytes", field=f"{where}data") from err
    time_raw = _text(item, "time", where, required=False, max_length=64)
    time = None if time_raw is None else parse_time(time_raw, f"{where}time")
    return Frame(index, seq, uuid.upper().removeprefix("0X"), data, time, time_raw)


def parse_gateway_frames(payload: bytes, *, max_bytes: int = 256 * 1024) -> GatewayFrames:
    """Parse the payload of ``hs/v1/gateways/{id}/frames`` (docs/wire.md).

    The envelope (device, profile, gateway time) must be valid or the whole message is
    refused; each bad frame is reported in ``errors`` and the good frames are returned.
    """
    document = parse_json(payload, max_bytes=max_bytes)
    if not isinstance(document, dict):
        raise WireError(f"expected an object, got {kind_of(document)}")
    unknown = sorted(set(document) - {"gateway_time", "zone", "device", "frames"})
    if unknown:
        raise WireError(f"unknown field(s) {', '.join(unknown)}", field=unknown[0])
    gateway_time_raw = _text(document, "gateway_time", "", max_length=64)
    assert gateway_time_raw is not None
    gateway_time = parse_time(gateway_time_raw, "gateway_time")
    device = document.get("device")
    if not isinstance(device, dict):
        raise WireError("expected an object", field="device")
    unknown = sorted(set(device) - {"id", "address", "profile"})
    if unknown:
        raise WireError(f"unknown field(s) {', '.join(unknown)}", field=f"device.{unknown[0]}")
    device_id = _text(device, "id", "device.")
    assert device_id is not None
    if not re.fullmatch(ID_PATTERN, device_id):
        raise WireError(f"invalid device id {device_id!r}", field="device.id")
    profile_id = _text(device, "profile", "device.", max_length=64)
    assert profile_id is not None
    frames = document.get("frames")
    if not isinstance(frames, list) or not frames:
        raise WireError("expected a non-empty array", field="frames")
    if len(frames) > MAX_FRAMES_PER_MESSAGE:
        raise WireError(
            f"{len(frames)} frames exceed the limit of {MAX_FRAMES_PER_MESSAGE}", field="frames"
        )
    good: list[Frame] = []
    errors: list[ItemError] = []
    frames_json = ItemsJson(frames)
    for index, item in enumerate(frames):
        try:
            good.append(_frame(item, index))
        except DecodeError as err:
            errors.append(ItemError(index, err, frames_json[index]))
    return GatewayFrames(
        device_id,
        _text(device, "address", "device.", required=False),
        profile_id,
        gateway_time,
        good,
        errors,
        frames_json,
        zone=check_zone(document.get("zone")),
    )


_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,2}")


def check_zone(value: Any, field: str = "zone") -> str | None:
    """An IANA time zone name (``Europe/Paris``), checked against the tz database."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64 or not _ZONE.fullmatch(value):
        raise WireError("expected an IANA time zone name such as Europe/Paris", field=field)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise WireError(f"unknown time zone {value!r}", field=field) from err
    return value


# --- gateway status ---------------------------------------------------------------------

MAX_STATUS_DEVICES = 64
_STATUSES = frozenset({"online", "offline"})
_STATUS_FIELDS = frozenset({"status", "time", "zone", "software", "outbox", "devices"})
_OUTBOX_FIELDS = ("pending", "bytes", "refused")
_DEVICE_FIELDS = frozenset(
    {"id", "address", "profile", "connected", "last_seen", "battery", "clock_offset_s"}
)


@dataclass(frozen=True, slots=True)
class OutboxHealth:
    """A gateway's outbox: frames waiting for the hub's ack, their cost in bytes, and the
    frames it refused because it was full (since it was created)."""

    pending: int
    bytes: int
    refused: int


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """One device as its gateway last knew it."""

    device_id: str
    address: str | None = None
    profile_id: str | None = None
    connected: bool | None = None
    last_seen: datetime | None = None  # the gateway's time when it last heard the device
    battery_percent: int | None = None  # Battery Level (0x2A19)
    clock_offset_s: Decimal | None = None  # device clock minus the gateway's, when last read


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    """The retained ``hs/v1/gateways/{id}/status`` document (docs/wire.md)."""

    status: str  # "online" | "offline"
    time: datetime | None = None
    zone: str | None = None
    software: str | None = None
    outbox: OutboxHealth | None = None
    devices: tuple[DeviceHealth, ...] = ()

    @property
    def online(self) -> bool:
        return self.status == "online"


def _count(table: dict[str, Any], name: str, where: str, *, maximum: int = 2**53) -> int | None:
    value = table.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise WireError(f"expected an integer 0..{maximum}", field=f"{where}{name}")
    return value


def _known(table: Any, fields: frozenset[str], where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise WireError(f"expected an object, got {kind_of(table)}", field=where or None)
    unknown = sorted(set(table) - fields)
    if unknown:
        prefix = f"{where}." if where else ""
        raise WireError(f"unknown field(s) {', '.join(unknown)}", field=f"{prefix}{unknown[0]}")
    return table


def _device_health(item: Any, index: int) -> DeviceHealth:
    where = f"devices[{index}]"
    table = _known(item, _DEVICE_FIELDS, where)
    device_id = _text(table, "id", f"{where}.")
    assert device_id is not None
    if not re.fullmatch(ID_PATTERN, device_id):
        raise WireError(f"invalid device id {device_id!r}", field=f"{where}.id")
    connected = table.get("connected")
    if connected is not None and not isinstance(connected, bool):
        raise WireError("expected a boolean", field=f"{where}.connected")
    seen = _text(table, "last_seen", f"{where}.", required=False, max_length=64)
    offset = table.get("clock_offset_s")
    if offset is not None:
        if isinstance(offset, bool) or not isinstance(offset, int | Decimal):
            raise WireError("expected a number", field=f"{where}.clock_offset_s")
        offset = Decimal(offset)
        if not offset.is_finite() or abs(offset) >= Decimal(10) ** 10:
            raise WireError("expected a number of seconds", field=f"{where}.clock_offset_s")
    return DeviceHealth(
        device_id,
        _text(table, "address", f"{where}.", required=False, max_length=64),
        _text(table, "profile", f"{where}.", required=False, max_length=64),
        connected,
        None if seen is None else parse_time(seen, f"{where}.last_seen"),
        _count(table, "battery", f"{where}.", maximum=100),
        offset,
    )


def parse_gateway_status(payload: bytes, *, max_bytes: int = 64 * 1024) -> GatewayStatus:
    """Parse the payload of ``hs/v1/gateways/{id}/status`` (docs/wire.md, "Gateway status").

    ``{"status": "online"}`` / ``{"status": "offline"}`` alone are valid (a last will carries
    nothing else); every other field is optional and checked; unknown fields are refused.
    """
    table = _known(parse_json(payload, max_bytes=max_bytes), _STATUS_FIELDS, "")
    status = _text(table, "status", "", max_length=16)
    if status not in _STATUSES:
        raise WireError('expected "online" or "offline"', field="status")
    time_raw = _text(table, "time", "", required=False, max_length=64)
    outbox = None
    if "outbox" in table:
        counts = _known(table["outbox"], frozenset(_OUTBOX_FIELDS), "outbox")
        values = [_count(counts, name, "outbox.") for name in _OUTBOX_FIELDS]
        if any(value is None for value in values):
            raise WireError("pending, bytes and refused are required", field="outbox")
        outbox = OutboxHealth(*(v or 0 for v in values))
    devices = table.get("devices", [])
    if not isinstance(devices, list) or len(devices) > MAX_STATUS_DEVICES:
        raise WireError(f"expected an array of at most {MAX_STATUS_DEVICES}", field="devices")
    return GatewayStatus(
        status,
        None if time_raw is None else parse_time(time_raw, "time"),
        check_zone(table.get("zone")),
        _text(table, "software", "", required=False, max_length=64),
        outbox,
        tuple(_device_health(item, index) for index, item in enumerate(devices)),
    )


def parse_gateway_acks(payload: bytes, *, max_bytes: int = 1024 * 1024) -> dict[str, list[int]]:
    """Parse the payload of ``hs/v1/gateways/{id}/acks``: device id -> acknowledged seqs."""
    table = _known(parse_json(payload, max_bytes=max_bytes), frozenset({"acks"}), "")
    entries = table.get("acks")
    if not isinstance(entries, list):
        raise WireError("expected an array", field="acks")
    acks: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        where = f"acks[{index}]"
        fields = _known(entry, frozenset({"device_id", "seqs"}), where)
        device_id = _text(fields, "device_id", f"{where}.")
        assert device_id is not None
        seqs = fields.get("seqs")
        if not isinstance(seqs, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**63 for s in seqs
        ):
            raise WireError("expected an array of seqs", field=f"{where}.seqs")
        acks.setdefault(device_id, []).extend(seqs)
    return acks


def encode_gateway_status(status: GatewayStatus) -> bytes:
    """The payload of a :class:`GatewayStatus` (compact JSON): the inverse of
    :func:`parse_gateway_status`, absent fields left out."""
    document: dict[str, Any] = {"status": status.status}
    if status.time is not None:
        document["time"] = status.time.isoformat()
    if status.zone is not None:
        document["zone"] = status.zone
    if status.software is not None:
        document["software"] = status.software
    if status.outbox is not None:
        outbox = status.outbox
        document["outbox"] = {
            "pending": outbox.pending,
            "bytes": outbox.bytes,
            "refused": outbox.refused,
        }
    if status.devices:
        document["devices"] = [_device_document(d) for d in status.devices]
    return strict_json.dumps(document)


def _device_document(device: DeviceHealth) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": device.device_id,
        "address": device.address,
        "profile": device.profile_id,
        "connected": device.connected,
        "last_seen": None if device.last_seen is None else device.last_seen.isoformat(),
        "battery": device.battery_percent,
        "clock_offset_s": device.clock_offset_s,
    }
    return {name: value for name, value in fields.items() if value is not None}
