"""What a collector asks a glucose meter or CGM through the Record Access Control Point, and
what it does with each answer (pure: no IO, no clock; the BLE adapter carries it out).

The Record Access Control Point (0x2A52; GATT Specification Supplement, "Record Access Control
Point"; Glucose Service and CGM Service, "Record Access Control Point procedures") reports
stored records on request, then indicates a response code. A gateway that forwards every
record exactly once keeps, per device, a *checkpoint*: the sequence number (CGM: time offset)
of the newest record durably in its outbox. A :class:`RacpSession` decides, from it:

* **which request**: "report stored records, sequence number >= checkpoint + 1" (operator 3,
  filter type 1); "all records" when there is no checkpoint yet;
* **which received records are new** (:meth:`RacpSession.is_new`): a sequence number is a
  16-bit counter that wraps (65535 -> 0), so "after" is serial-number arithmetic modulo 2^16
  (RFC 1982 style: ``0 < (seq - last) mod 2^16 < 2^15``). After a wrap, ">= 0" also returns
  the old records numbered up to 65535: they are recognised as not new and skipped;
* **what each response code means** (:data:`_ON_RESPONSE`, a table):

  ====================================  ===================================================
  success                               done — or, if the checkpoint reached 65535, ask
                                        again from 0 (the counter wrapped meanwhile)
  no records found (to "new records")   ask for the *last* record (looked at, not stored):
                                        equal to the checkpoint means nothing new; behind
                                        it means the meter's counter was reset (battery
                                        change, factory reset):
                                        forget the checkpoint and fetch all records
                                        (re-read old records keep their bytes, so the hub's
                                        reading identity makes them no-ops); ahead of it
                                        (wrap) means fetch all and keep what is new
  procedure not completed               keep what was stored; try again at the next session
  op code / operator / operand not      fall back to "all records", keeping only new ones
  supported, invalid operator/operand
  anything else, or a fallback failing  give up this session (logged by the caller)
  ====================================  ===================================================

The checkpoint only moves when the caller says a record is durably stored
(:meth:`RacpSession.stored`), so a link lost mid-transfer resumes after the last stored record:
nothing is lost, and nothing is transferred twice.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from device_profiles.racp import (
    RacpFilter,
    RacpOpCode,
    RacpOperator,
    RacpRequest,
    RacpResponseCode,
)

SEQ_MODULUS = 0x10000
_HALF = SEQ_MODULUS // 2
MAX_ROUNDS = 4  # requests in one session (a wrap, a probe, a fallback: never more)


def seq_after(seq: int, last: int) -> bool:
    """Whether 16-bit sequence number ``seq`` comes after ``last`` (modulo 2^16)."""
    return 0 < (seq - last) % SEQ_MODULUS < _HALF


class Round(enum.Enum):
    """Why a request was sent."""

    NEW = "new-records"  # >= checkpoint + 1
    ALL = "all-records"  # no checkpoint, a reset, or a wrap seen by the probe
    FALLBACK = "all-records-fallback"  # the device cannot filter: all, new ones kept
    PROBE = "last-record"  # is there anything newer, or was the counter reset?


class Next(enum.Enum):
    REQUEST = "request"  # write ``Decision.request``
    DONE = "done"
    RETRY_LATER = "retry-later"  # next session (connection or poll)
    GIVE_UP = "give-up"  # this session; the caller logs ``reason``


@dataclass(frozen=True, slots=True)
class Decision:
    next: Next
    request: RacpRequest | None = None
    reason: str = ""


def _report(operator: RacpOperator, *values: int) -> RacpRequest:
    return RacpRequest(
        RacpOpCode.REPORT_STORED_RECORDS,
        operator,
        RacpFilter.SEQUENCE_NUMBER if values else None,
        values,
    )


_UNSUPPORTED = frozenset(
    {
        RacpResponseCode.OP_CODE_NOT_SUPPORTED,
        RacpResponseCode.INVALID_OPERATOR,
        RacpResponseCode.OPERATOR_NOT_SUPPORTED,
        RacpResponseCode.INVALID_OPERAND,
        RacpResponseCode.OPERAND_NOT_SUPPORTED,
    }
)


class RacpSession:
    """The decisions of one transfer session, from the device's ``checkpoint`` (None: none)."""

    def __init__(self, checkpoint: int | None) -> None:
        if checkpoint is not None and not 0 <= checkpoint < SEQ_MODULUS:
            raise ValueError(f"checkpoint {checkpoint} is not a 16-bit sequence number")
        self.checkpoint = checkpoint
        self.round = Round.NEW if checkpoint is not None else Round.ALL
        self.rounds = 0
        self.reset_seen = False
        self._probed: int | None = None  # the sequence number the last-record probe returned
        self._probing = False
        self._from: int | None = None  # the lower bound of the last "new records" request

    # --- requests -----------------------------------------------------------------------

    def start(self) -> Decision:
        """The session's first request."""
        return self._ask(self.round)

    def _ask(self, round_: Round) -> Decision:
        self.rounds += 1
        if self.rounds > MAX_ROUNDS:
            return Decision(Next.GIVE_UP, reason=f"more than {MAX_ROUNDS} requests")
        self.round = round_
        self._probing = round_ is Round.PROBE
        self._probed = None
        if round_ is Round.NEW and self.checkpoint is not None:
            self._from = (self.checkpoint + 1) % SEQ_MODULUS
            request = _report(RacpOperator.GREATER_THAN_OR_EQUAL, self._from)
        elif round_ is Round.PROBE:
            request = _report(RacpOperator.LAST_RECORD)
        else:
            request = _report(RacpOperator.ALL_RECORDS)
        return Decision(Next.REQUEST, request, round_.value)

    # --- records ------------------------------------------------------------------------

    def is_new(self, seq: int) -> bool:
        """Whether a received record must be stored (else it is skipped as already held).
        The last record a probe returns is only looked at: what to fetch is decided on it."""
        if self._probing:
            self._probed = seq
            return False
        return self.checkpoint is None or seq_after(seq, self.checkpoint)

    def stored(self, seq: int) -> None:
        """The record ``seq`` is durably stored: the checkpoint moves to it."""
        if self.checkpoint is None or seq_after(seq, self.checkpoint):
            self.checkpoint = seq

    # --- responses ----------------------------------------------------------------------

    def on_response(self, code: RacpResponseCode) -> Decision:
        """The device's response code to the current request: what to do next."""
        return _ON_RESPONSE[self.round](self, code)

    def _after_fetch(self, code: RacpResponseCode) -> Decision:
        if code is RacpResponseCode.SUCCESS:
            if self.checkpoint == SEQ_MODULUS - 1 and self._from != 0:
                return self._ask(Round.NEW)  # the counter wrapped: ask again from 0
            return Decision(Next.DONE)
        if code is RacpResponseCode.NO_RECORDS_FOUND:
            if self.round is Round.NEW:
                return self._ask(Round.PROBE)
            return Decision(Next.DONE)
        if code is RacpResponseCode.PROCEDURE_NOT_COMPLETED:
            return Decision(Next.RETRY_LATER, reason="procedure not completed")
        if code in _UNSUPPORTED and self.round is Round.NEW:
            return self._ask(Round.FALLBACK)
        return Decision(Next.GIVE_UP, reason=f"{self.round.value}: {code.name.lower()}")

    def _after_probe(self, code: RacpResponseCode) -> Decision:
        if code in _UNSUPPORTED:
            return self._ask(Round.FALLBACK)
        if code is not RacpResponseCode.SUCCESS:
            return self._after_fetch(code)  # no records (empty), not completed, give up
        last, probed = self.checkpoint, self._probed
        if probed is None or probed == last:
            return Decision(Next.DONE)  # nothing newer than what is stored
        if last is not None and not seq_after(probed, last):
            self.reset_seen = True
            self.checkpoint = None  # its counter restarted: every record it holds is news
        return self._ask(Round.ALL)


_ON_RESPONSE: dict[Round, Callable[[RacpSession, RacpResponseCode], Decision]] = {
    Round.NEW: RacpSession._after_fetch,
    Round.ALL: RacpSession._after_fetch,
    Round.FALLBACK: RacpSession._after_fetch,
    Round.PROBE: RacpSession._after_probe,
}
