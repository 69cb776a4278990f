"""From one MQTT message to measurements, through the wire contract and the device catalog.

Pure: topic and payload in, :class:`Decoded` out; a message refused whole raises
:class:`~device_profiles.errors.DecodeError`. One table maps each topic kind to its decoder:

* ``hs/v1/devices/{id}/readings`` — the hub's canonical JSON (``hub.core.wire``);
* ``hs/v1/devices/{id}/json/{profile}`` — a vendor payload, decoded by that ``mqtt-json``
  catalog profile's mapping (``device_profiles.json_mapping``);
* ``hs/v1/gateways/{id}/frames`` — raw characteristic values forwarded by a BLE gateway,
  decoded by the Bluetooth SIG codecs (``device_profiles.codecs``) that the device's
  ``ble-gatt`` profile lists. Within one message, a CGM Session Start Time (0x2AAA) frame
  dates the CGM Measurement (0x2AA7) frames after it, and Glucose Measurement Context (0x2A34)
  frames are joined to their measurements by sequence number.

The profile also gives the policy: its plausibility and critical limits, and the zone of a
device clock that states none (``clock_zone`` quirk; otherwise the gateway's IANA zone, else
the gateway's current UTC offset, else the hub's default zone — the last two flagged
``time-zone-assumed``). The device's own clock read at upload — ``device_now`` in a canonical
message, the Current Time / Date Time a gateway read on connection — becomes the upload's
:class:`~hub.core.timekeeping.ClockReading` (``hub.core.timekeeping``). A scale's
``kg_resolution_override`` quirk rescales the masses of its Weight and Body Composition
Measurement frames (``device_profiles.weight``); a ``duplicate_notifications`` model's echo
(a frame repeating the one just before it, same characteristic and bytes) is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from device_profiles import strict_json, uuids
from device_profiles.catalog import Catalog, DeviceProfile
from device_profiles.cgm import DST_OFFSETS, TIME_ZONE_UNKNOWN, CgmSessionStartTime
from device_profiles.codecs import codec_for
from device_profiles.errors import DecodeError
from device_profiles.gatt_time import decode_current_time, decode_date_time
from device_profiles.glucose import GlucoseContext, join_glucose_context
from device_profiles.json_mapping import decode_json
from device_profiles.measurement import Measurement
from device_profiles.weight import with_kg_resolution
from hub.core.model import Source
from hub.core.pipeline import Policy
from hub.core.timekeeping import ClockMethod, ClockReading
from hub.core.wire import (
    Frame,
    GatewayFrames,
    ItemError,
    Topic,
    TopicKind,
    WireError,
    parse_device_readings,
    parse_gateway_frames,
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A message's measurements (with their item index), its bad items, and how to judge them."""

    device_id: str
    items: list[tuple[int | None, Measurement]]
    errors: list[ItemError]
    source: Source
    policy: Policy
    # Gateway frames: the seqs of every frame read from the message, stored or refused, that
    # the gateway may release from its outbox once the batch is committed.
    frame_seqs: tuple[int, ...] = ()
    # A remote-monitoring provider that pushed the items (consent: source kind "provider").
    provider_id: str | None = None
    # The device's own clock as read at upload: the basis of this upload's clock offset...
    clock: ClockReading | None = None
    # ...or, item by item (gateway frames: each connection's clock dates its own records).
    clocks: tuple[ClockReading | None, ...] = ()
    # The true time of the upload (the gateway's time); None: the hub's receive time.
    reference_time: datetime | None = None
    # The gateway that forwarded gateway frames (it must be paired with the device).
    gateway_id: str | None = None
    # Each item's own JSON by item index: the dead letter of a refused item keeps the item,
    # not the whole message (a request of 5,000 items must not be stored 5,000 times).
    item_raws: Mapping[int, bytes] = field(default_factory=dict)
    # The patient the items say they belong to (FHIR Observation.subject, resolved from the
    # INS to the pseudonymous id); attribution by enrollment must agree or the item is refused.
    expected_patient: str | None = None


class MessageDecoder:
    def __init__(self, catalog: Catalog, base_policy: Policy, *, max_payload_bytes: int) -> None:
        self.catalog = catalog
        self.base_policy = base_policy
        self.max_payload_bytes = max_payload_bytes
        self._policies: dict[str, Policy] = {}
        self._decoders: dict[TopicKind, Callable[[Topic, bytes, datetime], Decoded]] = {
            TopicKind.DEVICE_READINGS: self._canonical,
            TopicKind.DEVICE_JSON: self._vendor_json,
            TopicKind.GATEWAY_FRAMES: self._gateway_frames,
        }

    def decode(self, topic: Topic, payload: bytes, receive_time: datetime) -> Decoded:
        decoder = self._decoders.get(topic.kind)
        if decoder is None:
            raise WireError(f"topic kind {topic.kind.value} carries no readings", field="topic")
        return decoder(topic, payload, receive_time)

    # --- policy -------------------------------------------------------------------------

    def policy_for(self, profile_id: str | None) -> Policy:
        """The policy of a catalog profile (its limits, clock and sequence quirks); base if
        unknown."""
        profile = self.catalog.get(profile_id) if profile_id else None
        return self.base_policy if profile is None else self._policy(profile)

    def _policy(self, profile: DeviceProfile) -> Policy:
        policy = self._policies.get(profile.id)
        if policy is None:
            policy = replace(
                self.base_policy,
                limits={limit.metric: limit for limit in profile.limits},
                clock_unreliable=profile.quirks.clock_unreliable,
                sequence_resets=profile.quirks.sequence_resets,
            )
            if profile.quirks.clock_zone == "utc":
                policy = replace(policy, zone=UTC, zone_stated=True)
            self._policies[profile.id] = policy
        return policy

    def _profile(self, profile_id: str, transport: str, field: str) -> DeviceProfile:
        profile = self.catalog.get(profile_id)
        if profile is None:
            raise WireError(f"unknown device profile {profile_id!r}", field=field)
        if profile.transport != transport:
            raise WireError(
                f"profile {profile_id!r} is for {profile.transport}, not {transport}", field=field
            )
        return profile

    # --- decoders -----------------------------------------------------------------------

    def _canonical(self, topic: Topic, payload: bytes, receive_time: datetime) -> Decoded:
        parsed = parse_device_readings(payload, max_bytes=self.max_payload_bytes)
        clock = None
        if parsed.device_now is not None and parsed.device_now_raw is not None:
            clock = ClockReading(
                parsed.device_now, parsed.device_now_raw, receive_time, ClockMethod.DEVICE_NOW
            )
        return Decoded(
            topic.sender_id,
            parsed.measurements,
            parsed.errors,
            Source.MQTT,
            self.base_policy,
            clock=clock,
            item_raws=parsed.items_json,
        )

    def _vendor_json(self, topic: Topic, payload: bytes, _receive_time: datetime) -> Decoded:
        assert topic.profile_id is not None
        profile = self._profile(topic.profile_id, "mqtt-json", "topic")
        if len(payload) > self.max_payload_bytes:
            raise WireError(
                f"payload of {len(payload)} bytes exceeds the {self.max_payload_bytes}-byte limit"
            )
        result = decode_json(profile, payload)
        errors = [ItemError(e.index, e.error, strict_json.dumps(e.record)) for e in result.errors]
        return Decoded(
            topic.sender_id,
            [(None, m) for m in result.measurements],
            errors,
            Source.MQTT,
            self._policy(profile),
        )

    def _gateway_frames(self, topic: Topic, payload: bytes, _receive_time: datetime) -> Decoded:
        envelope = parse_gateway_frames(payload, max_bytes=self.max_payload_bytes)
        profile = self._profile(envelope.profile_id, "ble-gatt", "device.profile")
        assert profile.ble is not None
        allowed = set(profile.ble.characteristics)
        errors = list(envelope.errors)
        items: list[tuple[int | None, Measurement]] = []
        clocks: list[ClockReading | None] = []
        contexts: list[GlucoseContext] = []
        session_start: datetime | None = None
        clock: ClockReading | None = None
        utc_clock = profile.quirks.clock_zone == "utc"
        kg_resolution = profile.quirks.kg_resolution_override
        echoes = profile.quirks.duplicate_notifications
        previous: tuple[int, bytes] | None = None  # the last frame that was not an echo
        for frame in envelope.frames:
            try:
                number = uuids.normalize_uuid(frame.uuid)
                if echoes:
                    # The model notifies every value twice: a frame repeating the one just
                    # before it is that echo (never itself echoed), acknowledged but not read.
                    if (number, frame.data) == previous:
                        previous = None
                        continue
                    previous = (number, frame.data)
                if number in _CLOCK_CODECS:
                    # The device's clock as the gateway read it on connecting: it dates the
                    # frames after it (the records of that connection).
                    clock = _clock_reading(number, frame, envelope.gateway_time, utc=utc_clock)
                    continue
                if number not in allowed:
                    raise DecodeError(
                        f"characteristic {frame.uuid} is not part of profile {profile.id}",
                        field="uuid",
                    )
                codec = codec_for(number)
                value = codec.parse(frame.data)
                if isinstance(value, CgmSessionStartTime):
                    session_start = _aware_session_start(value)
                elif isinstance(value, GlucoseContext):
                    contexts.append(value)
                elif codec.is_measurement:
                    decoded = codec.measurements_of(value, session_start=session_start)
                    if kg_resolution is not None and number in _MASS_CODECS:
                        decoded = [with_kg_resolution(m, kg_resolution) for m in decoded]
                    items += [(frame.index, _dated(m, frame)) for m in decoded]
                    clocks += [clock] * len(decoded)
                # Other frames (battery, features, RACP) carry no reading.
            except DecodeError as err:
                errors.append(
                    ItemError(
                        frame.index,
                        DecodeError(
                            err.reason, field=f"frames[{frame.index}].{err.field or 'data'}"
                        ),
                        envelope.frames_json.get(frame.index),
                    )
                )
        if contexts:
            joined = join_glucose_context([m for _, m in items], contexts)
            items = [(index, m) for (index, _), m in zip(items, joined, strict=True)]
        policy = self._policy(profile)
        if not utc_clock:
            # A BLE Date Time is the device's local time: read it in the gateway's zone.
            zone, stated = _gateway_zone(envelope)
            policy = replace(policy, zone=zone, zone_stated=stated)
        seqs = tuple(frame.seq for frame in envelope.frames)
        return Decoded(
            envelope.device_id,
            items,
            errors,
            Source.GATEWAY,
            policy,
            seqs,
            clocks=tuple(clocks),
            reference_time=envelope.gateway_time,
            gateway_id=topic.sender_id,
            item_raws=envelope.frames_json,
        )


def _gateway_zone(envelope: GatewayFrames) -> tuple[tzinfo, bool]:
    """The zone the gateway states (IANA name), else its current fixed offset (assumed)."""
    if envelope.zone is not None:
        return ZoneInfo(envelope.zone), True
    return envelope.gateway_time.tzinfo or UTC, False


# The characteristics whose masses a scale may count in its own resolution (catalog quirk
# ``kg_resolution_override``).
_MASS_CODECS = frozenset((uuids.WEIGHT_MEASUREMENT, uuids.BODY_COMPOSITION_MEASUREMENT))

_CLOCK_CODECS: dict[int, tuple[ClockMethod, Callable[[bytes], datetime | None]]] = {
    uuids.CURRENT_TIME: (
        ClockMethod.CURRENT_TIME,
        lambda data: decode_current_time(data).to_datetime(),
    ),
    uuids.DATE_TIME: (ClockMethod.DATE_TIME, lambda data: decode_date_time(data).to_datetime()),
}


def _clock_reading(number: int, frame: Frame, gateway_time: datetime, *, utc: bool) -> ClockReading:
    """The device's clock from a Current Time (0x2A2B) or Date Time (0x2A08) frame: local
    wall-clock time (UTC for a device whose profile says so), read when the gateway received
    the frame (else at ``gateway_time``)."""
    method, decode = _CLOCK_CODECS[number]
    shown = decode(frame.data)
    if shown is None:
        raise DecodeError("the device's clock is not set (date unknown)", field="date_time")
    if utc:
        shown = shown.replace(tzinfo=UTC)
    return ClockReading(shown, shown.isoformat(), frame.time or gateway_time, method)


def _aware_session_start(value: CgmSessionStartTime) -> datetime | None:
    """The session start as an aware time when the device states its zone, else naive."""
    local = value.local_start
    if local is None or value.time_zone == TIME_ZONE_UNKNOWN:
        return local
    dst = DST_OFFSETS.get(value.dst_offset) or 0
    return local.replace(tzinfo=timezone(timedelta(minutes=15 * value.time_zone + dst)))


def _dated(measurement: Measurement, frame: Frame) -> Measurement:
    """A measurement without a device time gets the gateway's receive time, and says so.

    Its identity then rests on a stable device fact where there is one (a CGM record's offset
    from its session start), otherwise on the gateway's time (docs/wire.md).
    """
    if measurement.time is not None:
        return measurement
    offset = next((a for a in measurement.annotations if a.startswith("time-offset-min:")), None)
    return replace(
        measurement,
        time=frame.time,
        time_raw=offset or frame.time_raw,
        annotations=(*measurement.annotations, "time-from-gateway"),
    )
