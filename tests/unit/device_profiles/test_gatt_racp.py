"""Record Access Control Point 0x2A52 (GATT Specification Supplement, "Record Access Control
Point"; org.bluetooth.characteristic.record_access_control_point: op code, operator, operand).
Response byte arrays are those of Nordic Semiconductor's Android-BLE-Common-Library
RecordAccessControlPointDataCallbackTest."""

from __future__ import annotations

import pytest

from device_profiles.errors import DecodeError, EncodeError
from device_profiles.gatt_time import GattDateTime
from device_profiles.racp import (
    NumberOfRecordsResponse,
    RacpFilter,
    RacpOpCode,
    RacpOperator,
    RacpRequest,
    RacpResponseCode,
    ResponseCodeResponse,
    encode_racp_request,
    encode_racp_response,
    parse_racp_request,
    parse_racp_response,
)

REPORT = RacpOpCode.REPORT_STORED_RECORDS


@pytest.mark.parametrize(
    ("request_", "data"),
    [
        (RacpRequest(REPORT), "0101"),
        (RacpRequest(REPORT, RacpOperator.LAST_RECORD), "0106"),
        (RacpRequest(RacpOpCode.REPORT_NUMBER_OF_RECORDS), "0401"),
        (RacpRequest(RacpOpCode.ABORT_OPERATION, RacpOperator.NULL), "0300"),
        (
            RacpRequest(
                REPORT, RacpOperator.GREATER_THAN_OR_EQUAL, RacpFilter.SEQUENCE_NUMBER, (10,)
            ),
            "0103010A00",
        ),
        (
            RacpRequest(
                RacpOpCode.DELETE_STORED_RECORDS,
                RacpOperator.WITHIN_RANGE,
                RacpFilter.SEQUENCE_NUMBER,
                (1, 0x0102),
            ),
            "02040101000201",
        ),
        (
            RacpRequest(
                REPORT,
                RacpOperator.LESS_THAN_OR_EQUAL,
                RacpFilter.USER_FACING_TIME,
                (GattDateTime(2024, 3, 1, 8, 30, 0),),
            ),
            "010202E8070301081E00",
        ),
    ],
)
def test_requests(request_: RacpRequest, data: str) -> None:
    assert encode_racp_request(request_) == bytes.fromhex(data)
    assert parse_racp_request(bytes.fromhex(data)) == request_


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (RacpRequest(REPORT, RacpOperator.NULL), "invalid for a request"),
        (RacpRequest(RacpOpCode.ABORT_OPERATION), "null operator"),
        (RacpRequest(RacpOpCode.RESPONSE_CODE), "not a request"),
        (RacpRequest(REPORT, RacpOperator.WITHIN_RANGE, RacpFilter.SEQUENCE_NUMBER, (1,)), "2"),
        (RacpRequest(REPORT, RacpOperator.ALL_RECORDS, RacpFilter.SEQUENCE_NUMBER), "no operand"),
        (
            RacpRequest(REPORT, RacpOperator.LESS_THAN_OR_EQUAL, RacpFilter.USER_FACING_TIME, (5,)),
            "GattDateTime",
        ),
        (
            RacpRequest(
                REPORT, RacpOperator.LESS_THAN_OR_EQUAL, RacpFilter.SEQUENCE_NUMBER, (70000,)
            ),
            "does not fit",
        ),
    ],
)
def test_invalid_requests_are_encode_errors(request_: RacpRequest, message: str) -> None:
    with pytest.raises(EncodeError, match=message):
        encode_racp_request(request_)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("0100", "invalid for a request"),
        ("0301", "null operator"),
        ("0107", "operator: reserved value 7"),
        ("0700", "op_code: reserved value 7"),
        ("010303", "filter_type: reserved value 3"),
        ("01030105", "truncated: operand\\[0\\] needs 2 bytes, 1 left"),
        ("010101", "oversized"),
        ("0600", "not a request"),
    ],
)
def test_malformed_requests_are_decode_errors(data: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_racp_request(bytes.fromhex(data))


@pytest.mark.parametrize(
    ("data", "response"),
    [
        ([6, 0, 1, 1], ResponseCodeResponse(1, RacpResponseCode.SUCCESS)),
        ([6, 0, 12, 2], ResponseCodeResponse(12, RacpResponseCode.OP_CODE_NOT_SUPPORTED)),
        ([6, 0, 1, 3], ResponseCodeResponse(1, RacpResponseCode.INVALID_OPERATOR)),
        ([6, 0, 2, 4], ResponseCodeResponse(2, RacpResponseCode.OPERATOR_NOT_SUPPORTED)),
        ([6, 0, 1, 5], ResponseCodeResponse(1, RacpResponseCode.INVALID_OPERAND)),
        ([6, 0, 1, 6], ResponseCodeResponse(1, RacpResponseCode.NO_RECORDS_FOUND)),
        ([6, 0, 3, 7], ResponseCodeResponse(3, RacpResponseCode.ABORT_UNSUCCESSFUL)),
        ([6, 0, 2, 8], ResponseCodeResponse(2, RacpResponseCode.PROCEDURE_NOT_COMPLETED)),
        ([6, 0, 2, 9], ResponseCodeResponse(2, RacpResponseCode.OPERAND_NOT_SUPPORTED)),
        ([5, 0, 2, 1], NumberOfRecordsResponse(258)),
        ([5, 0, 4, 3, 2, 1], NumberOfRecordsResponse(16909060, wide=True)),
    ],
)
def test_captured_responses(data: list[int], response: object) -> None:
    assert parse_racp_response(bytes(data)) == response
    assert encode_racp_response(parse_racp_response(bytes(data))) == bytes(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([6, 0, 1, 10], "response_code: reserved value 10"),  # Nordic passes it through
        ([5, 0, 1], "truncated: number_of_records needs 2 bytes, 1 left"),
        ([5, 0, 3, 2, 1], "oversized"),
        ([6, 1, 1], "null operator"),
        ([1, 1], "null operator"),
        ([1, 0], "is a request"),
    ],
)
def test_malformed_responses_are_decode_errors(data: list[int], message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_racp_response(bytes(data))
