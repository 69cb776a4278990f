"""A continuous glucose monitor with the CGM Service.

The sensor (``physiology.glucose.CgmSensor``) reads interstitial glucose every 5 minutes from
the end of its warm-up; a new sensor is inserted every 14 days. Each reading is a CGM
Measurement (0x2AA7) record: the glucose (SFLOAT, mg/dL), its time offset in minutes from the
session start, the trend ((mg/dL)/min over the last 15 min), warnings (below hypo, LO/HI) and
the E2E-CRC. The CGM Session Start Time (0x2AAA) gives the session start in the sensor's
local clock with its time zone, which turns offsets into times.

A connected collector gets every new reading as a notification; readings taken while no
collector listened stay in the session's memory and come back through the RACP (filter type 1:
time offset). A new session clears the memory: what was never fetched is lost. (The fleet
ends a step when a sensor expires, so one :meth:`advance` never spans two sessions; if it
does, the old session's readings of that call count as lost.)
"""

from __future__ import annotations

from decimal import Decimal

from device_profiles import uuids
from device_profiles.cgm import (
    DST_OFFSETS,
    CgmRecord,
    CgmSessionStartTime,
    CgmStatus,
    encode_cgm_measurement,
    encode_cgm_session_start_time,
)
from device_profiles.racp import RacpOpCode
from gateway_firmware_sim.devices import racp_server
from gateway_firmware_sim.devices.base import (
    LATENCY_S,
    SPACING_S,
    BleDevice,
    DeviceClock,
    Notification,
    StoredRecord,
)
from gateway_firmware_sim.physiology.glucose import CGM_RANGE, SensorSession
from gateway_firmware_sim.physiology.person import Person
from gateway_firmware_sim.timebase import MINUTE, dst_seconds, utc_offset

# Daylight-saving minutes -> the DST Offset value (GATT Specification Supplement, "DST Offset").
_DST_CODES = {minutes: code for code, minutes in DST_OFFSETS.items() if minutes is not None}


def _status(value: float) -> tuple[CgmStatus, frozenset[str]]:
    status = CgmStatus(0)
    if value <= CGM_RANGE[0]:
        status |= CgmStatus.RESULT_TOO_LOW
    elif value >= CGM_RANGE[1]:
        status |= CgmStatus.RESULT_TOO_HIGH
    if value < 55:
        status |= CgmStatus.BELOW_HYPO
    return status, (frozenset({"warning"}) if status else frozenset())


def _trend(per_minute: float) -> Decimal:
    text = f"{per_minute:.1f}"
    return Decimal("0.0") if text in ("-0.0", "0.0") else Decimal(text)


class ContinuousGlucoseMonitor(BleDevice):
    profile_id = "generic-ble-cgm"
    kind = "cgm"
    capacity = 14 * 288 + 10  # a whole session

    def __init__(
        self, device_id: str, address: str, wearer: Person, clock: DeviceClock, start: float
    ) -> None:
        super().__init__(device_id, address, wearer, clock, start)
        self.session: SensorSession | None = None
        self.session_start_time: CgmSessionStartTime | None = None

    def _start_session(self, session: SensorSession) -> None:
        for record in self.memory:
            self._forget(record)
        self.memory.clear()
        self.session = session
        start = float(int(session.start))
        # The Session Start Time states the standard offset (Time Zone) and the daylight-
        # saving part (DST Offset) apart (GATT Specification Supplement, 0x2AAA).
        dst = dst_seconds(start, self.clock.zone)
        self.session_start_time = CgmSessionStartTime(
            start=self.clock.gatt(start),
            time_zone=round((utc_offset(start, self.clock.zone) - dst) / (15 * MINUTE)),
            dst_offset=_DST_CODES[round(dst / MINUTE)],
            e2e_crc=True,
        )

    def _measure(self, t0: float, t1: float) -> list[StoredRecord]:
        person = self.wearer
        sensor = person.cgm_sensor
        trace = sensor.trace(person.glucose, t0, t1)
        if trace.times.size == 0:
            return []
        earlier = person.glucose.interstitial(trace.times - 15 * MINUTE)
        now = person.glucose.interstitial(trace.times)
        out: list[StoredRecord] = []
        for i, when in enumerate(trace.times):
            number = int(trace.sessions[i])
            if self.session is None or self.session.number != number:
                # A new sensor: what the old one measured in this step is never fetched.
                for stale in out:
                    self.stats.records += 1
                    self._forget(stale)
                out = []
                self._start_session(sensor.session(number))
            assert self.session is not None
            value = float(trace.values[i])
            status, octets = _status(value)
            offset = round((float(when) - float(int(self.session.start))) / MINUTE)
            cgm_record = CgmRecord(
                glucose=Decimal(int(value)),
                time_offset=offset,
                status=status,
                octets=octets,
                trend=_trend((now[i] - earlier[i]) / 15.0),
                e2e_crc=True,
            )
            data = encode_cgm_measurement([cgm_record])
            out.append(StoredRecord(float(when), ((uuids.CGM_MEASUREMENT, data),), 1, key=offset))
        return out

    @property
    def session_number(self) -> int | None:
        return None if self.session is None else self.session.number

    def read(self, uuid: int, now: float) -> bytes:
        if uuid == uuids.CGM_SESSION_START_TIME:
            if self.session_start_time is None:  # nothing measured yet: the coming session
                self._start_session(self.wearer.cgm_sensor.session_at(now))
            assert self.session_start_time is not None
            return encode_cgm_session_start_time(self.session_start_time)
        return super().read(uuid, now)

    def drain(self, listening_from: float | None, now: float) -> list[Notification]:
        """Live notifications: new readings measured while the collector listened."""
        if listening_from is None:
            return []
        out: list[Notification] = []
        for record in self.memory:
            if not record.transmitted and record.time >= listening_from:
                out += self._notify(record, record.time + LATENCY_S)
                self._transmitted(record)
        return out

    def last_offset(self) -> int | None:
        return self.memory[-1].key if self.memory else None

    def write(self, uuid: int, data: bytes, now: float) -> list[Notification]:
        if uuid != uuids.RECORD_ACCESS_CONTROL_POINT:
            return super().write(uuid, data, now)
        outcome = racp_server.handle(data, list(self.memory))
        out: list[Notification] = []
        when = now
        if outcome.opcode is RacpOpCode.DELETE_STORED_RECORDS:
            chosen = {id(r) for r in outcome.records}
            self.memory = type(self.memory)(r for r in self.memory if id(r) not in chosen)
        else:
            for record in outcome.records:
                out += self._notify(record, when)
                when += SPACING_S
                self._transmitted(record)
        out.append(Notification(uuids.RECORD_ACCESS_CONTROL_POINT, outcome.response, when))
        return out
