"""Carrying out a Record Access Control Point transfer over a link (the decisions are
``hub.core.racp_session``'s).

The collector writes each request to the control point (0x2A52, write with response; its
indications enabled first, or the device answers ATT 0xFD), then the device notifies the
records it selected — each one taken in by the session, which asks the
:class:`~hub.core.racp_session.RacpSession` whether it is new and stores it before the
checkpoint moves — and indicates the response code. The session hands the response's bytes
back here; this module decodes them (every byte hostile: a value that does not decode, or a
"number of records" answer to a report request, ends the transfer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from device_profiles.errors import DecodeError
from device_profiles.racp import ResponseCodeResponse, encode_racp_request, parse_racp_response
from hub.core.racp_session import Decision, Next, RacpSession


async def transfer(
    racp: RacpSession,
    write: Callable[[bytes], Awaitable[None]],
    response: Callable[[], Awaitable[bytes]],
) -> Decision:
    """Run ``racp`` to its end: ``write`` sends a request, ``response`` waits for the control
    point's indication (records arriving meanwhile are the session's business)."""
    decision = racp.start()
    while decision.next is Next.REQUEST:
        assert decision.request is not None
        await write(encode_racp_request(decision.request))
        data = await response()
        try:
            answer = parse_racp_response(data)
        except DecodeError as err:
            return Decision(Next.GIVE_UP, reason=f"unreadable response {data.hex()}: {err}")
        if not isinstance(answer, ResponseCodeResponse):
            return Decision(Next.GIVE_UP, reason=f"unexpected response {data.hex()}")
        decision = racp.on_response(answer.code)
    return decision
