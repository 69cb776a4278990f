"""Device time you can trust: clock offsets measured at upload, and named time zones.

Pure: times in, times out; nothing here reads a clock.

**The device's clock, read at upload** (:class:`ClockReading`). Whoever uploads a device's
records also reads the device's *current* clock at a moment whose true time it knows: a BLE
gateway reads Current Time (0x2A2B) or Date Time (0x2A08) on connection and states its own
(NTP) time; a PHD gateway sends a *coincident time stamp* Observation (HL7 PHD IG, "Coincident
Time Stamp", MDC_ATTR_TIME_ABS); an MQTT-native device may send ``device_now``, compared with
the hub's receive time. The difference is the clock's offset at upload.

**One offset per upload** (Tidepool's "bootstrapping to UTC"): the offset measured at upload is
applied to every record of that upload, so a back-filled history keeps its shape and order. A
clock within :attr:`TimePolicy.tolerance` of the truth is right: its records keep their own
time. Because the offset comes from the device's clock itself, a fast or slow clock is found
whatever the delay between a measurement and its upload.

**Named zones.** A device clock that states no UTC offset (BLE Date Time is local wall-clock
time) is read in an IANA zone — the device's, else its gateway's, else the hub's default — per
record, with ``zoneinfo``: a record before a daylight-saving change gets the offset in force
then. A local time that does not exist (the hour skipped in spring) is read with the offset in
force just before the change and flagged ``time-nonexistent``; a repeated local time (the hour
lived twice in autumn) is resolved by the records' order where the neighbours decide it, else
the first occurrence is taken and the reading flagged ``time-ambiguous``.

**No offset, and a time that cannot be right** — later than the reference time by more than the
tolerance, or before :attr:`TimePolicy.earliest` (clocks reset to their epoch) — the reading
keeps the time as sent, is flagged ``time-unknown`` and stays out of time-based views. It is
never stamped "now".
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo

from hub.core.model import TimeSource


class ClockMethod(enum.StrEnum):
    """How a device's current clock was read."""

    CURRENT_TIME = "current-time"  # BLE Current Time 0x2A2B, read by a gateway on connection
    DATE_TIME = "date-time"  # BLE Date Time 0x2A08, read by a gateway on connection
    DEVICE_NOW = "device-now"  # the device's own clock in its message, vs hub receive time
    PHD_COINCIDENT = "phd-coincident"  # HL7 PHD coincident time stamp (PHG time, device time)
    PROVIDER_READ = "provider-read"  # a provider's JSON push: the device clock it read, and when


@dataclass(frozen=True, slots=True)
class ClockReading:
    """A device's own clock, read when the true time was ``reference_time``.

    ``device_time`` is what the clock showed: naive = local wall-clock time with no stated
    zone; aware = the device stated its UTC offset. ``reference_time`` is always aware.
    """

    device_time: datetime
    device_time_raw: str
    reference_time: datetime
    method: ClockMethod


@dataclass(frozen=True, slots=True)
class TimePolicy:
    """How far a device clock may be from the truth before it is corrected or distrusted."""

    # A clock within this of the truth is right: its records keep their own time.
    tolerance: timedelta = timedelta(minutes=5)
    # Device times before this cannot be right (clocks reset to their epoch: 1970, 2000...).
    earliest: datetime = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class UploadClock:
    """The clock offset of one upload: measured from a :class:`ClockReading`.

    ``offset`` = true time - device clock. For a device clock that states no zone it is a
    wall-clock difference (true local wall time in the zone - what the device showed), so it
    applies to local record times before they are read in the zone; otherwise absolute.
    """

    offset: timedelta
    wall_clock: bool
    method: ClockMethod
    skewed: bool  # beyond the tolerance
    # The hub corrects this upload's records by the offset. Not for an HL7 PHD coincident time
    # stamp: the PHG has already put the measurement times on its own (NTP) timeline and
    # reports the coincident time stamp so the original times can be recovered (PHD IG,
    # "Coincident Time Stamp"); the hub records the skew and the offset, and applies nothing.
    applied: bool

    @classmethod
    def measure(cls, reading: ClockReading, zone: tzinfo, policy: TimePolicy) -> UploadClock:
        reference = reading.reference_time
        if reading.device_time.tzinfo is None:
            true_wall = reference.astimezone(zone).replace(tzinfo=None)
            offset = true_wall - reading.device_time
            wall_clock = True
        else:
            offset = reference - reading.device_time
            wall_clock = False
        skewed = abs(offset) > policy.tolerance
        applied = skewed and reading.method is not ClockMethod.PHD_COINCIDENT
        return cls(offset, wall_clock, reading.method, skewed, applied)


@dataclass(frozen=True, slots=True)
class ResolvedTime:
    """A record's effective time and how it was obtained (``hub.core.model`` provenance)."""

    effective: datetime  # aware UTC
    source: TimeSource
    flags: tuple[str, ...] = ()
    utc_offset_min: int | None = None  # the local UTC offset the device time was read at
    clock_offset_ms: int | None = None  # the correction applied (here or by the gateway)
    zone: str | None = None  # the named zone a local time was read in
    # The identity must tell apart the two occurrences of a repeated local time.
    identity_suffix: str = ""


@dataclass(frozen=True, slots=True)
class RecordTime:
    """What :func:`resolve_times` needs of one record."""

    time: datetime | None  # the device's time: naive = local wall clock; None = no time
    group: str = ""  # records compared for order: same group (e.g. the metric family)
    received: datetime | None = None  # when the gateway received it (records without a time)
    clock: UploadClock | None = None  # the device's clock as read on the record's upload


def zone_name(zone: tzinfo) -> str | None:
    """The IANA name of ``zone``, or None for a fixed offset."""
    key = getattr(zone, "key", None)
    return key if isinstance(key, str) else None


def _minutes(delta: timedelta | None) -> int | None:
    return None if delta is None else int(delta.total_seconds() // 60)


def _ms(delta: timedelta) -> int:
    return int(delta / timedelta(milliseconds=1))


@dataclass(frozen=True, slots=True)
class _Local:
    """A local wall-clock time read in a zone: one instant, none (gap: the earlier offset is
    used) or two (repeated hour)."""

    candidates: tuple[datetime, ...]  # aware UTC, ascending
    nonexistent: bool


def _read_local(wall: datetime, zone: tzinfo) -> _Local:
    """``wall`` (naive) in ``zone``, per PEP 495: fold=0 and fold=1 give the two readings of a
    repeated time; a time in a gap does not survive the round trip."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    utc_first, utc_second = first.astimezone(UTC), second.astimezone(UTC)
    round_trip = utc_first.astimezone(zone).replace(tzinfo=None)
    if round_trip != wall:
        return _Local((utc_first,), nonexistent=True)  # the offset in force before the gap
    if utc_first == utc_second:
        return _Local((utc_first,), nonexistent=False)
    return _Local(tuple(sorted((utc_first, utc_second))), nonexistent=False)


def resolve_times(
    records: Sequence[RecordTime],
    *,
    reference: datetime,
    zone: tzinfo,
    policy: TimePolicy,
    zone_stated: bool = True,
) -> list[ResolvedTime]:
    """The effective time of every record of one upload (module docstring: the rules); each
    record's ``clock`` (the clock reading of its connection) corrects it.

    ``reference`` is the true time of the upload (the gateway's time, else the hub's receive
    time): later device times cannot be right. ``zone`` reads local device times;
    ``zone_stated`` False adds ``time-zone-assumed`` (the hub's default zone was used).
    """
    resolved: list[ResolvedTime | None] = [None] * len(records)
    locals_: dict[int, tuple[_Local, datetime]] = {}
    for i, record in enumerate(records):
        time = record.time
        if time is None:
            when = record.received or reference
            resolved[i] = ResolvedTime(when.astimezone(UTC), TimeSource.RECEIVE)
        elif time.tzinfo is not None:
            resolved[i] = _absolute(time, reference, record.clock, policy)
        else:
            clock = record.clock
            wall = time + clock.offset if clock and clock.applied and clock.wall_clock else time
            locals_[i] = (_read_local(wall, zone), wall)
    for i, choice, flags in _choose_folds(records, locals_, resolved):
        local, wall = locals_[i]
        resolved[i] = _from_local(
            local.candidates[choice],
            choice,
            (*(("time-nonexistent",) if local.nonexistent else ()), *flags),
            wall,
            zone,
            reference,
            records[i].clock,
            policy,
            zone_stated,
        )
    return [r for r in resolved if r is not None]


def _absolute(
    time: datetime, reference: datetime, clock: UploadClock | None, policy: TimePolicy
) -> ResolvedTime:
    offset_min = _minutes(time.utcoffset())
    if clock is not None and clock.applied:
        shift = clock.offset  # for an aware time, a wall-clock offset is a plain difference too
        effective = (time + shift).astimezone(UTC)
        return _judged(
            ResolvedTime(
                effective,
                TimeSource.DEVICE_CORRECTED,
                ("clock-skew", "time-corrected"),
                offset_min,
                _ms(shift),
            ),
            reference,
            policy,
        )
    flags, recorded = _corrected_upstream(clock)
    return _judged(
        ResolvedTime(time.astimezone(UTC), TimeSource.DEVICE, flags, offset_min, recorded),
        reference,
        policy,
    )


def _corrected_upstream(clock: UploadClock | None) -> tuple[tuple[str, ...], int | None]:
    """A skewed clock whose records the gateway already corrected: flagged, offset recorded."""
    if clock is not None and clock.skewed and not clock.applied:
        return ("clock-skew",), _ms(clock.offset)
    return (), None


def _from_local(
    instant: datetime,
    fold: int,
    flags: tuple[str, ...],
    wall: datetime,
    zone: tzinfo,
    reference: datetime,
    clock: UploadClock | None,
    policy: TimePolicy,
    zone_stated: bool,
) -> ResolvedTime:
    offset_min = _minutes(wall.replace(tzinfo=zone, fold=fold).utcoffset())
    if clock is not None and clock.applied:
        if not clock.wall_clock:  # an absolute offset moves the instant itself
            instant = instant + clock.offset
        source = TimeSource.DEVICE_CORRECTED
        flags = (*flags, "clock-skew", "time-corrected")
        correction: int | None = _ms(clock.offset)
    else:
        source = TimeSource.DEVICE_ZONE_ASSUMED
        upstream, correction = _corrected_upstream(clock)
        flags = (*flags, *upstream)
    if not zone_stated:
        flags = ("time-zone-assumed", *flags)
    return _judged(
        ResolvedTime(
            instant,
            source,
            flags,
            offset_min,
            correction,
            zone_name(zone),
            "fold=1" if fold == 1 else "",
        ),
        reference,
        policy,
    )


def _judged(time: ResolvedTime, reference: datetime, policy: TimePolicy) -> ResolvedTime:
    """A time later than the upload or before ``policy.earliest`` cannot be right: kept as
    it is, but untrusted (``time-unknown``)."""
    effective = time.effective
    if policy.earliest <= effective <= reference + policy.tolerance:
        return time
    return replace(time, source=TimeSource.UNTRUSTED, flags=(*time.flags, "time-unknown"))


def _choose_folds(
    records: Sequence[RecordTime],
    locals_: dict[int, tuple[_Local, datetime]],
    resolved: list[ResolvedTime | None],
) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    """(record, candidate index, extra flags) for every local time.

    A repeated local time has two candidates. Within each group, records are in the order the
    device gave them (RACP transfers and notifications come in record order; a sequence
    number may wrap, the order does not). A run of records with two candidates is split into
    "first occurrence" then "second occurrence" at the one point that keeps their instants in
    order — non-decreasing, and increasing between equal local times — next to their
    neighbours. When several splits do, the one where the local time steps back is taken;
    failing that, every record takes its first occurrence and is flagged ``time-ambiguous``.
    """
    groups: dict[str, list[int]] = {}
    for i in sorted(locals_):
        groups.setdefault(records[i].group, []).append(i)
    for members in groups.values():
        run: list[int] = []
        previous: datetime | None = None
        for i in members:
            local, _ = locals_[i]
            if len(local.candidates) == 2:
                run.append(i)
                continue
            if run:
                yield from _split(run, locals_, previous, local.candidates[0])
                run = []
            previous = local.candidates[0]
        if run:
            yield from _split(run, locals_, previous, None)
    # Unambiguous local times (one candidate): the only choice.
    for i, (local, _) in locals_.items():
        if len(local.candidates) == 1:
            yield i, 0, ()


def _split(
    run: list[int],
    locals_: dict[int, tuple[_Local, datetime]],
    before: datetime | None,
    after: datetime | None,
) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    walls = [locals_[i][1] for i in run]
    feasible = []
    for split in range(len(run) + 1):
        instants = [locals_[i][0].candidates[0 if k < split else 1] for k, i in enumerate(run)]
        if _in_order(instants, walls, before, after):
            feasible.append(split)
    steps_back = [k for k in range(1, len(run)) if walls[k] < walls[k - 1]]
    flags: tuple[str, ...] = ()
    if len(feasible) == 1:
        chosen = feasible[0]
    elif len(steps_back) == 1 and steps_back[0] in feasible:
        chosen = steps_back[0]
    else:
        chosen, flags = len(run), ("time-ambiguous",)
    for k, i in enumerate(run):
        yield i, 0 if k < chosen else 1, flags


def _in_order(
    instants: list[datetime], walls: list[datetime], before: datetime | None, after: datetime | None
) -> bool:
    if before is not None and instants[0] < before:
        return False
    if after is not None and instants[-1] > after:
        return False
    for k in range(1, len(instants)):
        if instants[k] < instants[k - 1]:
            return False
        if walls[k] == walls[k - 1] and instants[k] == instants[k - 1]:
            return False
    return True
