"""The device side of the Record Access Control Point (0x2A52): which stored records a
request selects, and the response the device indicates (pure).

Supported, as the Glucose and CGM services require: report stored records, report number of
stored records, delete stored records, abort; operators all / <= / >= / within range / first /
last; filter type 1 (the record's sequence number, or the CGM time offset) and, for glucose
meters, type 2 (user facing time). Anything else gets the matching response code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from device_profiles.errors import DecodeError
from device_profiles.gatt_time import GattDateTime
from device_profiles.racp import (
    NumberOfRecordsResponse,
    RacpFilter,
    RacpOpCode,
    RacpOperator,
    RacpRequest,
    RacpResponse,
    RacpResponseCode,
    ResponseCodeResponse,
    encode_racp_response,
    parse_racp_request,
)
from gateway_firmware_sim.devices.base import StoredRecord


@dataclass(frozen=True, slots=True)
class RacpOutcome:
    """What the device does: send ``records`` (report), drop them (delete), then indicate."""

    opcode: RacpOpCode | None
    records: tuple[StoredRecord, ...]
    response: bytes


def _code(opcode: int, code: RacpResponseCode) -> bytes:
    return encode_racp_response(ResponseCodeResponse(opcode, code))


def _key(value: int | GattDateTime) -> tuple[int, ...]:
    if isinstance(value, GattDateTime):
        return (value.year, value.month, value.day, value.hours, value.minutes, value.seconds)
    return (value,)


def select(
    records: Sequence[StoredRecord],
    request: RacpRequest,
    *,
    user_facing_times: dict[int, GattDateTime] | None = None,
) -> list[StoredRecord] | RacpResponseCode:
    """The records ``request`` selects, or the response code that refuses it.

    Filter type 1 compares each record's ``key`` (sequence number, CGM time offset); filter
    type 2 the record's user facing time, looked up in ``user_facing_times`` by ``id()``.
    """
    operator = request.operator
    if operator is RacpOperator.ALL_RECORDS:
        return list(records)
    if operator is RacpOperator.FIRST_RECORD:
        return list(records[:1])
    if operator is RacpOperator.LAST_RECORD:
        return list(records[-1:])
    by_time = request.filter_type is RacpFilter.USER_FACING_TIME
    if by_time and user_facing_times is None:
        return RacpResponseCode.OPERAND_NOT_SUPPORTED
    times = user_facing_times or {}
    bounds = [_key(v) for v in request.values]
    if any(isinstance(v, GattDateTime) != by_time for v in request.values):
        return RacpResponseCode.INVALID_OPERAND
    chosen = []
    for record in records:
        key = _key(times[id(record)]) if by_time else (record.key,)
        if operator is RacpOperator.GREATER_THAN_OR_EQUAL:
            keep = key >= bounds[0]
        elif operator is RacpOperator.LESS_THAN_OR_EQUAL:
            keep = key <= bounds[0]
        else:  # within range, inclusive
            keep = bounds[0] <= key <= bounds[1]
        if keep:
            chosen.append(record)
    return chosen


def handle(
    data: bytes,
    records: Sequence[StoredRecord],
    *,
    user_facing_times: dict[int, GattDateTime] | None = None,
) -> RacpOutcome:
    """Decode a request written to the control point and decide the device's answer."""
    try:
        request = parse_racp_request(data)
    except DecodeError as err:
        opcode = data[0] if data else 0
        code = (
            RacpResponseCode.OP_CODE_NOT_SUPPORTED
            if err.field == "op_code"
            else RacpResponseCode.INVALID_OPERATOR
            if err.field == "operator"
            else RacpResponseCode.INVALID_OPERAND
        )
        return RacpOutcome(None, (), _code(opcode, code))
    if request.opcode is RacpOpCode.ABORT_OPERATION:
        return RacpOutcome(request.opcode, (), _code(request.opcode, RacpResponseCode.SUCCESS))
    chosen = select(records, request, user_facing_times=user_facing_times)
    if isinstance(chosen, RacpResponseCode):
        return RacpOutcome(request.opcode, (), _code(request.opcode, chosen))
    response: RacpResponse
    if request.opcode is RacpOpCode.REPORT_NUMBER_OF_RECORDS:
        response = NumberOfRecordsResponse(len(chosen))
        return RacpOutcome(request.opcode, (), encode_racp_response(response))
    if not chosen:
        return RacpOutcome(
            request.opcode, (), _code(request.opcode, RacpResponseCode.NO_RECORDS_FOUND)
        )
    return RacpOutcome(
        request.opcode, tuple(chosen), _code(request.opcode, RacpResponseCode.SUCCESS)
    )
