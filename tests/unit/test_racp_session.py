"""The collector's RACP decisions (``hub.core.racp_session``) against the simulator's device side
(``gateway_firmware_sim.devices.racp_server``, pure): first sync, increments, the 16-bit wrap,
a counter reset, "no records found", "procedure not completed", a device that cannot filter."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from device_profiles.racp import (
    RacpOpCode,
    RacpRequest,
    RacpResponseCode,
    ResponseCodeResponse,
    encode_racp_request,
    encode_racp_response,
    parse_racp_response,
)
from gateway_firmware_sim.devices import racp_server
from gateway_firmware_sim.devices.base import StoredRecord
from hub.core.racp_session import Next, RacpSession, Round, seq_after

Device = Callable[[bytes], tuple[list[int], bytes]]


def meter(seqs: list[int]) -> Device:
    """A meter holding records numbered ``seqs`` (oldest first): request -> (sent, response)."""
    records = [StoredRecord(float(i), (), 1, seq, seq) for i, seq in enumerate(seqs)]

    def answer(request: bytes) -> tuple[list[int], bytes]:
        outcome = racp_server.handle(request, records)
        return [r.key for r in outcome.records], outcome.response

    return answer


def sync(session: RacpSession, device: Device) -> tuple[list[int], list[Round], Next]:
    """Run a session to its end: the records stored, the rounds asked, how it ended."""
    stored: list[int] = []
    rounds: list[Round] = []
    decision = session.start()
    while decision.next is Next.REQUEST:
        assert decision.request is not None
        rounds.append(session.round)
        sent, response = device(encode_racp_request(decision.request))
        for seq in sent:
            if session.is_new(seq):
                stored.append(seq)
                session.stored(seq)
        answer = parse_racp_response(response)
        assert isinstance(answer, ResponseCodeResponse)
        decision = session.on_response(answer.code)
    return stored, rounds, decision.next


def test_the_first_sync_takes_everything_and_the_second_only_what_is_new() -> None:
    first = RacpSession(None)
    assert sync(first, meter(list(range(7, 507)))) == (list(range(7, 507)), [Round.ALL], Next.DONE)
    assert first.checkpoint == 506
    second = RacpSession(first.checkpoint)
    stored, rounds, end = sync(second, meter(list(range(7, 512))))
    assert (stored, rounds, end) == ([507, 508, 509, 510, 511], [Round.NEW], Next.DONE)


def test_nothing_new_is_confirmed_by_the_last_record() -> None:
    session = RacpSession(506)
    assert sync(session, meter(list(range(7, 507)))) == ([], [Round.NEW, Round.PROBE], Next.DONE)
    assert session.checkpoint == 506 and not session.reset_seen


def test_the_sixteen_bit_counter_wraps() -> None:
    assert seq_after(0, 65535) and seq_after(3, 65530) and not seq_after(65530, 3)
    held = [*range(65530, 65536), *range(0, 6)]
    session = RacpSession(65532)
    stored, rounds, end = sync(session, meter(held))
    # ">= 65533" stops at 65535; ">= 0" then returns everything, of which 0..5 is new
    assert (stored, rounds, end) == (
        [65533, 65534, 65535, 0, 1, 2, 3, 4, 5],
        [Round.NEW] * 2,
        Next.DONE,
    )
    assert session.checkpoint == 5
    # the next session asks ">= 6": nothing; the last record (5) says nothing is new
    assert sync(RacpSession(5), meter(held))[0] == []


def test_a_counter_that_wrapped_past_what_the_meter_keeps_fetches_it_all() -> None:
    # 60000 then, 42..541 now: it counted past 65535 and holds its last 500
    session = RacpSession(60000)
    stored, rounds, end = sync(session, meter(list(range(42, 542))))
    assert (stored, rounds, end) == (
        list(range(42, 542)),
        [Round.NEW, Round.PROBE, Round.ALL],
        Next.DONE,
    )
    assert not session.reset_seen and session.checkpoint == 541


def test_a_counter_reset_fetches_what_the_meter_holds_again() -> None:
    session = RacpSession(400)
    stored, rounds, end = sync(session, meter([1, 2, 3]))
    assert (stored, rounds, end) == ([1, 2, 3], [Round.NEW, Round.PROBE, Round.ALL], Next.DONE)
    assert session.reset_seen and session.checkpoint == 3


def test_an_empty_meter() -> None:
    assert sync(RacpSession(None), meter([])) == ([], [Round.ALL], Next.DONE)
    assert sync(RacpSession(9), meter([])) == ([], [Round.NEW, Round.PROBE], Next.DONE)


def respond(code: RacpResponseCode, sent: list[int] | None = None) -> Device:
    def answer(request: bytes) -> tuple[list[int], bytes]:
        return sent or [], encode_racp_response(ResponseCodeResponse(request[0], code))

    return answer


def test_procedure_not_completed_keeps_what_was_stored_for_the_next_session() -> None:
    session = RacpSession(10)
    stored, _, end = sync(session, respond(RacpResponseCode.PROCEDURE_NOT_COMPLETED, [11, 12]))
    assert (stored, end, session.checkpoint) == ([11, 12], Next.RETRY_LATER, 12)


@pytest.mark.parametrize(
    "code",
    [
        RacpResponseCode.OPERATOR_NOT_SUPPORTED,
        RacpResponseCode.OPERAND_NOT_SUPPORTED,
        RacpResponseCode.INVALID_OPERAND,
    ],
)
def test_a_meter_that_cannot_filter_gets_all_records_and_old_ones_are_skipped(
    code: RacpResponseCode,
) -> None:
    everything = meter([8, 9, 10, 11, 12])

    def picky(request: bytes) -> tuple[list[int], bytes]:
        if request[1] != 1:  # anything but "all records"
            return [], encode_racp_response(ResponseCodeResponse(request[0], code))
        return everything(request)

    stored, rounds, end = sync(RacpSession(10), picky)
    assert (stored, rounds, end) == ([11, 12], [Round.NEW, Round.FALLBACK], Next.DONE)


def test_a_failing_fallback_gives_up_and_a_session_is_bounded() -> None:
    _, rounds, end = sync(RacpSession(10), respond(RacpResponseCode.OPERATOR_NOT_SUPPORTED))
    assert (rounds, end) == ([Round.NEW, Round.FALLBACK], Next.GIVE_UP)
    with pytest.raises(ValueError, match="16-bit"):
        RacpSession(70000)


def test_requests_are_the_specified_ones() -> None:
    assert RacpSession(None).start().request == RacpRequest(RacpOpCode.REPORT_STORED_RECORDS)
    request = RacpSession(41).start().request
    assert request is not None and encode_racp_request(request) == bytes([1, 3, 1, 42, 0])
