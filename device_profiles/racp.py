"""Record Access Control Point (0x2A52): the stored-records protocol of glucose and CGM meters.

GATT Specification Supplement, characteristic "Record Access Control Point"
(``org.bluetooth.characteristic.record_access_control_point``)::

    op code u8    1 report stored records, 2 delete stored records, 3 abort operation,
                  4 report number of stored records, 5 number of stored records response,
                  6 response code; 0 and 7-255 reserved
    operator u8   0 null, 1 all records, 2 less than or equal to, 3 greater than or equal to,
                  4 within range of (inclusive), 5 first record, 6 last record; 7-255 reserved
    operand       per op code and operator:
                  requests 1, 2, 4 with operator 2 or 3: filter type u8 + one value;
                  with operator 4: filter type u8 + minimum + maximum; otherwise none.
                  Filter type 1 is the sequence number (u16; the CGM service uses 1 for its
                  u16 time offset), 2 the user facing time (Date Time, 7 bytes).
                  Abort: operator null, no operand.
                  Response 5: operator null, number of records (u16; u32 accepted).
                  Response 6: operator null, request op code u8, response code value u8:
                  1 success, 2 op code not supported, 3 invalid operator, 4 operator not
                  supported, 5 invalid operand, 6 no records found, 7 abort unsuccessful,
                  8 procedure not completed, 9 operand not supported; 0 and 10-255 reserved.

The collector (this hub) encodes requests and decodes responses; the device side (the
simulator) decodes requests and encodes responses. All four directions are here, each the
exact inverse of its partner.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeAlias

from device_profiles._bytes import Reader, Writer, enum_value
from device_profiles.errors import DecodeError, EncodeError
from device_profiles.gatt_time import GattDateTime


class RacpOpCode(enum.IntEnum):
    REPORT_STORED_RECORDS = 1
    DELETE_STORED_RECORDS = 2
    ABORT_OPERATION = 3
    REPORT_NUMBER_OF_RECORDS = 4
    NUMBER_OF_RECORDS_RESPONSE = 5
    RESPONSE_CODE = 6


class RacpOperator(enum.IntEnum):
    NULL = 0
    ALL_RECORDS = 1
    LESS_THAN_OR_EQUAL = 2
    GREATER_THAN_OR_EQUAL = 3
    WITHIN_RANGE = 4
    FIRST_RECORD = 5
    LAST_RECORD = 6


class RacpFilter(enum.IntEnum):
    SEQUENCE_NUMBER = 1  # the CGM service's time offset uses the same value and u16 format
    USER_FACING_TIME = 2


class RacpResponseCode(enum.IntEnum):
    SUCCESS = 1
    OP_CODE_NOT_SUPPORTED = 2
    INVALID_OPERATOR = 3
    OPERATOR_NOT_SUPPORTED = 4
    INVALID_OPERAND = 5
    NO_RECORDS_FOUND = 6
    ABORT_UNSUCCESSFUL = 7
    PROCEDURE_NOT_COMPLETED = 8
    OPERAND_NOT_SUPPORTED = 9


FilterValue: TypeAlias = int | GattDateTime

_RECORD_OPS = frozenset(
    {
        RacpOpCode.REPORT_STORED_RECORDS,
        RacpOpCode.DELETE_STORED_RECORDS,
        RacpOpCode.REPORT_NUMBER_OF_RECORDS,
    }
)
# operator -> number of filter values that follow the filter type (None: no filter type)
_OPERAND_VALUES: dict[RacpOperator, int | None] = {
    RacpOperator.ALL_RECORDS: None,
    RacpOperator.FIRST_RECORD: None,
    RacpOperator.LAST_RECORD: None,
    RacpOperator.LESS_THAN_OR_EQUAL: 1,
    RacpOperator.GREATER_THAN_OR_EQUAL: 1,
    RacpOperator.WITHIN_RANGE: 2,
}


@dataclass(frozen=True, slots=True)
class RacpRequest:
    """A request written to the control point.

    ``values`` holds the filter operand: one value for <= and >=, ``(minimum, maximum)`` for
    within-range, nothing otherwise; ints for the sequence number (or CGM time offset),
    :class:`GattDateTime` for the user facing time.
    """

    opcode: RacpOpCode
    operator: RacpOperator = RacpOperator.ALL_RECORDS
    filter_type: RacpFilter | None = None
    values: tuple[FilterValue, ...] = ()


@dataclass(frozen=True, slots=True)
class NumberOfRecordsResponse:
    """Op code 5: how many records match. ``wide`` marks a 4-byte count on the wire."""

    count: int
    wide: bool = False


@dataclass(frozen=True, slots=True)
class ResponseCodeResponse:
    """Op code 6: the outcome of a request. ``request_opcode`` is echoed raw (it may be one
    the device did not support)."""

    request_opcode: int
    code: RacpResponseCode


RacpResponse: TypeAlias = NumberOfRecordsResponse | ResponseCodeResponse


def _shape(request: RacpRequest) -> int | None:
    """The number of filter values ``request`` must carry; :class:`ValueError` if invalid."""
    if request.opcode is RacpOpCode.ABORT_OPERATION:
        if request.operator is not RacpOperator.NULL:
            raise ValueError("abort takes the null operator")
        return None
    if request.opcode not in _RECORD_OPS:
        raise ValueError(f"op code {request.opcode.name} is not a request")
    if request.operator not in _OPERAND_VALUES:
        raise ValueError(f"operator {request.operator.name} is invalid for a request")
    return _OPERAND_VALUES[request.operator]


def parse_racp_request(data: bytes) -> RacpRequest:
    """Decode a request written to the control point (what a device receives)."""
    reader = Reader(data)
    opcode = enum_value(RacpOpCode, reader.u8("op_code"), "op_code")
    operator = enum_value(RacpOperator, reader.u8("operator"), "operator")
    try:
        count = _shape(RacpRequest(opcode, operator))
    except ValueError as err:
        raise DecodeError(str(err), field="operator") from err
    filter_type = None
    values: list[FilterValue] = []
    if count is not None:
        filter_type = enum_value(RacpFilter, reader.u8("filter_type"), "filter_type")
        for index in range(count):
            name = f"operand[{index}]"
            if filter_type is RacpFilter.USER_FACING_TIME:
                values.append(reader.date_time(name))
            else:
                values.append(reader.u16(name))
    reader.finish()
    return RacpRequest(opcode, operator, filter_type, tuple(values))


def encode_racp_request(request: RacpRequest) -> bytes:
    """The bytes a collector writes for ``request`` (the inverse of :func:`parse_racp_request`)."""
    try:
        count = _shape(request)
    except ValueError as err:
        raise EncodeError(str(err), field="operator") from err
    out = Writer().u8(request.opcode, "op_code").u8(request.operator, "operator")
    if count is None:
        if request.filter_type is not None or request.values:
            raise EncodeError("this operator takes no operand", field="operand")
        return out.getvalue()
    if request.filter_type is None or len(request.values) != count:
        raise EncodeError(f"operator needs a filter type and {count} value(s)", field="operand")
    out.u8(request.filter_type, "filter_type")
    for value in request.values:
        if request.filter_type is RacpFilter.USER_FACING_TIME:
            if not isinstance(value, GattDateTime):
                raise EncodeError("user facing time needs a GattDateTime", field="operand")
            out.date_time(value)
        else:
            if not isinstance(value, int):
                raise EncodeError("this filter needs an integer", field="operand")
            out.u16(value, "operand")
    return out.getvalue()


def parse_racp_response(data: bytes) -> RacpResponse:
    """Decode an indication from the control point (what a collector receives)."""
    reader = Reader(data)
    opcode = enum_value(RacpOpCode, reader.u8("op_code"), "op_code")
    operator = reader.u8("operator")
    if operator != RacpOperator.NULL:
        raise DecodeError(f"responses take the null operator, got {operator}", field="operator")
    response: RacpResponse
    if opcode is RacpOpCode.NUMBER_OF_RECORDS_RESPONSE:
        wide = reader.remaining() == 4
        count = reader.u32("number_of_records") if wide else reader.u16("number_of_records")
        response = NumberOfRecordsResponse(count, wide)
    elif opcode is RacpOpCode.RESPONSE_CODE:
        request_opcode = reader.u8("request_op_code")
        code = enum_value(RacpResponseCode, reader.u8("response_code"), "response_code")
        response = ResponseCodeResponse(request_opcode, code)
    else:
        raise DecodeError(f"op code {opcode.name} is a request, not a response", field="op_code")
    reader.finish()
    return response


def encode_racp_response(response: RacpResponse) -> bytes:
    """The bytes a device indicates (the inverse of :func:`parse_racp_response`)."""
    out = Writer()
    if isinstance(response, NumberOfRecordsResponse):
        out.u8(RacpOpCode.NUMBER_OF_RECORDS_RESPONSE, "op_code").u8(RacpOperator.NULL, "operator")
        if response.wide:
            out.u32(response.count, "number_of_records")
        else:
            out.u16(response.count, "number_of_records")
    else:
        out.u8(RacpOpCode.RESPONSE_CODE, "op_code").u8(RacpOperator.NULL, "operator")
        out.u8(response.request_opcode, "request_op_code").u8(response.code, "response_code")
    return out.getvalue()
