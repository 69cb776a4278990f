"""Methods whose answer depends on who calls: bluetoothd keeps discovery sessions and
notification sessions per D-Bus client (unique name) and ends them when the client leaves the
bus. dbus-fast does not tell a ``ServiceInterface`` method its caller, so these methods —
Adapter1.StartDiscovery, StopDiscovery, SetDiscoveryFilter and GattCharacteristic1.StartNotify,
StopNotify, AcquireNotify — are routed here from the raw messages, with the sender.

Rules: a routed call is answered exactly once, by its handler's :class:`Reply` or the
``DBusError`` it raises (a wrong signature is ``org.freedesktop.DBus.Error.InvalidArgs``; any
other exception is logged and answered ``org.freedesktop.DBus.Error.Failed``).
File descriptors a reply passes (AcquireNotify's socket) are closed once the reply is written.
``NameOwnerChanged`` for a unique name that lost its owner calls ``client_left``. Routed
methods do not appear in the objects' introspection data.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dbus_fast.aio import MessageBus
from dbus_fast.constants import ErrorType, MessageType
from dbus_fast.errors import DBusError
from dbus_fast.message import Message

log = logging.getLogger(__name__)

_NAME_OWNER_CHANGED = (
    "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
    "member='NameOwnerChanged'"
)


@dataclass(slots=True)
class Reply:
    signature: str = ""
    body: list[Any] = field(default_factory=list)
    passed: list[socket.socket] = field(default_factory=list)  # unix fds, in body order


Handler = Callable[[Message], Awaitable[Reply]]


class ClientMethods:
    def __init__(self, bus: MessageBus, client_left: Callable[[str], None]) -> None:
        self._bus = bus
        self._client_left = client_left
        self._routes: dict[tuple[str, str], tuple[str, Handler]] = {}
        self._answering: set[asyncio.Task[None]] = set()

    def route(self, interface: str, member: str, signature: str, handler: Handler) -> None:
        self._routes[(interface, member)] = (signature, handler)

    async def start(self) -> None:
        self._bus.add_message_handler(self._on_message)
        reply = await self._bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="AddMatch",
                signature="s",
                body=[_NAME_OWNER_CHANGED],
            )
        )
        if reply is None or reply.message_type is not MessageType.METHOD_RETURN:
            raise RuntimeError(f"AddMatch NameOwnerChanged failed: {reply and reply.body}")

    async def stop(self) -> None:
        self._bus.remove_message_handler(self._on_message)
        for task in list(self._answering):
            task.cancel()
        await asyncio.gather(*self._answering, return_exceptions=True)

    def _on_message(self, msg: Message) -> bool:
        if msg.message_type is MessageType.SIGNAL:
            self._maybe_client_left(msg)
            return False
        if msg.message_type is not MessageType.METHOD_CALL or msg.interface is None:
            return False
        route = self._routes.get((msg.interface, msg.member or ""))
        if route is None:
            return False
        task = asyncio.create_task(self._answer(msg, *route))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)
        return True

    def _maybe_client_left(self, msg: Message) -> None:
        if (
            msg.member == "NameOwnerChanged"
            and msg.sender == "org.freedesktop.DBus"
            and msg.signature == "sss"
        ):
            name, _, new_owner = msg.body
            if name.startswith(":") and not new_owner:
                self._client_left(name)

    async def _answer(self, msg: Message, signature: str, handler: Handler) -> None:
        reply = Reply()
        try:
            if msg.signature != signature:
                raise DBusError(
                    ErrorType.INVALID_ARGS,
                    f"{msg.member} takes ({signature}), not ({msg.signature})",
                )
            reply = await handler(msg)
            fds = [sock.fileno() for sock in reply.passed]
            answer = Message.new_method_return(msg, reply.signature, reply.body, fds)
        except DBusError as err:
            answer = Message.new_error(msg, err.type, err.text)
        except Exception:  # a bug of ours: the caller still gets an answer
            log.exception("%s.%s failed", msg.interface, msg.member)
            answer = Message.new_error(msg, ErrorType.FAILED, f"{msg.member} failed")
        try:
            await self._bus.send(answer)
        except Exception:  # the caller or the bus is gone: nobody to answer
            log.debug("could not answer %s.%s", msg.interface, msg.member, exc_info=True)
        finally:
            for sock in reply.passed:
                sock.close()
