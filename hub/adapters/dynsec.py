"""Mosquitto's dynamic-security plugin, driven over MQTT: broker accounts changed at run time.

The plugin (Mosquitto 2.x, ``mosquitto_dynamic_security.so``) keeps the broker's accounts and
their ACLs, and takes JSON commands on ``$CONTROL/dynamic-security/v1`` from an account whose
role allows it (``hub-admin``, made by ``deploy/mosquitto/dynsec/bootstrap.py``). A change
applies at once: a deleted account is disconnected immediately and refused at its next
CONNECT — no broker restart, no file to reload.

Every device and gateway gets an account of its own: username = its id, client id bound to
the username (the broker refuses a CONNECT with any other client id), and a role of its own
whose ACLs name its own topics (docs/wire.md) and nothing else:

    device   publish    hs/v1/devices/{id}/readings, hs/v1/devices/{id}/json/+
    gateway  publish    hs/v1/gateways/{id}/frames, hs/v1/gateways/{id}/status
             subscribe  hs/v1/gateways/{id}/acks

Everything else is refused by the default ACL access the bootstrap sets (no publish, no
subscribe). paho stays in here: callers see :class:`Account`, :class:`Credentials`,
:class:`ClientInfo` and :class:`DynsecError`.
"""

from __future__ import annotations

import enum
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from hub.config import SAFE_ID, Settings
from hub.core.wire import (
    device_readings_topic,
    gateway_acks_topic,
    gateway_frames_topic,
    gateway_status_topic,
)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
PASSWORD_BYTES = 32  # token_urlsafe: 43 characters, 256 bits
_T = TypeVar("_T")


class DynsecError(Exception):
    """A command the plugin refused, or a broker that could not be asked."""


class AlreadyExists(DynsecError):
    pass


class NotFound(DynsecError):
    pass


class BrokerUnavailable(DynsecError):
    """No connection, no answer, or an account that may not use the plugin."""


class AclType(enum.StrEnum):
    PUBLISH = "publishClientSend"
    SUBSCRIBE_LITERAL = "subscribeLiteral"


@dataclass(frozen=True, slots=True)
class Acl:
    kind: AclType
    topic: str
    allow: bool = True


def check_account_name(name: str) -> str:
    """``name`` if it may be a username and client id; ValueError otherwise."""
    if not re.fullmatch(SAFE_ID, name):
        raise ValueError(
            f"{name!r} cannot name an MQTT account: 1-128 of A-Z a-z 0-9 . _ : - "
            "(no +, #, / or control character)"
        )
    return name


@dataclass(frozen=True, slots=True)
class Account:
    """An account to provision: its username (= client id), its own role and that role's ACLs."""

    username: str
    role: str
    acls: tuple[Acl, ...]
    description: str

    def __post_init__(self) -> None:
        check_account_name(self.username)


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    client_id: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ClientInfo:
    username: str
    client_id: str | None
    roles: tuple[str, ...]


def device_account(device_id: str) -> Account:
    readings = device_readings_topic(check_account_name(device_id))
    vendor_json = readings.removesuffix("/readings") + "/json/+"
    acls = (Acl(AclType.PUBLISH, readings), Acl(AclType.PUBLISH, vendor_json))
    return Account(device_id, f"device:{device_id}", acls, f"device {device_id}")


def gateway_account(gateway_id: str) -> Account:
    acls = (
        Acl(AclType.PUBLISH, gateway_frames_topic(check_account_name(gateway_id))),
        Acl(AclType.PUBLISH, gateway_status_topic(gateway_id)),
        Acl(AclType.SUBSCRIBE_LITERAL, gateway_acks_topic(gateway_id)),
    )
    return Account(gateway_id, f"gateway:{gateway_id}", acls, f"gateway {gateway_id}")


@dataclass(frozen=True, slots=True)
class _Reply:
    command: str
    error: str | None
    data: dict[str, Any]


def _not_found(reply: _Reply) -> bool:
    return reply.error is not None and "not found" in reply.error.lower()


def _raise_for(reply: _Reply) -> None:
    if reply.error is None:
        return
    message = f"{reply.command}: {reply.error}"
    lowered = reply.error.lower()
    if "already exists" in lowered:
        raise AlreadyExists(message)
    if "not found" in lowered:
        raise NotFound(message)
    raise DynsecError(message)


class DynsecAdmin:
    """One admin connection to the plugin; use as a context manager."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str | None,
        *,
        ca_file: Path | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._address = (host, port)
        self._timeout = timeout_s
        self._lock = threading.Condition()
        self._replies: dict[str, _Reply] = {}
        self._connack: ReasonCode | None = None
        self._suback: list[ReasonCode] | None = None
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{username}-{secrets.token_hex(4)}",
            protocol=mqtt.MQTTv5,
        )
        self._client.username_pw_set(username, password)
        if ca_file is not None:
            self._client.tls_set(ca_certs=str(ca_file))
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    @classmethod
    def from_settings(cls, settings: Settings) -> DynsecAdmin:
        dynsec = settings.dynsec
        if dynsec.password is None:
            raise DynsecError("set HUB_DYNSEC__PASSWORD: the broker's dynamic-security admin")
        return cls(
            dynsec.host or settings.mqtt.host,
            dynsec.port or settings.mqtt.port,
            dynsec.username,
            dynsec.password,
            ca_file=dynsec.ca_file,
            timeout_s=dynsec.timeout_s,
        )

    # --- connection -------------------------------------------------------------------

    def __enter__(self) -> DynsecAdmin:
        host, port = self._address
        try:
            self._client.connect(host, port)
        except (OSError, ValueError) as err:
            raise BrokerUnavailable(f"cannot reach the broker at {host}:{port}: {err}") from err
        self._client.loop_start()
        try:
            connack = self._wait(lambda: self._connack, "the broker's CONNACK")
            if connack.is_failure:
                raise BrokerUnavailable(f"the broker refused the admin account: {connack}")
            self._client.subscribe(RESPONSE_TOPIC, qos=1)
            suback = self._wait(lambda: self._suback, "the broker's SUBACK")
            if any(code.is_failure for code in suback):
                raise BrokerUnavailable(
                    "this account may not use the dynamic-security plugin (its responses "
                    "were refused)"
                )
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    # --- accounts ---------------------------------------------------------------------

    def client(self, username: str) -> ClientInfo | None:
        (reply,) = self._execute([{"command": "getClient", "username": username}])
        if _not_found(reply):
            return None
        _raise_for(reply)
        data = reply.data.get("client", {})
        return ClientInfo(
            username=str(data.get("username", username)),
            client_id=data.get("clientid"),
            roles=tuple(str(r["rolename"]) for r in data.get("roles", [])),
        )

    def provision(self, account: Account) -> Credentials:
        """Create the account's role and client, with a new random password.

        :class:`AlreadyExists` if the account exists: revoke it first (issuing a second
        password to a live account would leave the first one valid).
        """
        if self.client(account.username) is not None:
            raise AlreadyExists(f"{account.username!r} has an MQTT account already")
        # A role left behind by an interrupted provisioning is replaced, not trusted.
        (leftover,) = self._execute([{"command": "deleteRole", "rolename": account.role}])
        if not _not_found(leftover):
            _raise_for(leftover)
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        role, client = self._execute(
            [
                {
                    "command": "createRole",
                    "rolename": account.role,
                    "textname": account.description,
                    "acls": [
                        {"acltype": a.kind.value, "topic": a.topic, "allow": a.allow}
                        for a in account.acls
                    ],
                },
                {
                    "command": "createClient",
                    "username": account.username,
                    "clientid": account.username,
                    "password": password,
                    "textname": account.description,
                    "roles": [{"rolename": account.role}],
                },
            ]
        )
        _raise_for(role)
        _raise_for(client)
        return Credentials(account.username, account.username, password)

    def revoke(self, account: Account) -> bool:
        """Delete the account (its live connection is closed now) and its role; False if
        there was no such account."""
        client, role = self._execute(
            [
                {"command": "deleteClient", "username": account.username},
                {"command": "deleteRole", "rolename": account.role},
            ]
        )
        for reply in (client, role):
            if not _not_found(reply):
                _raise_for(reply)
        return not _not_found(client)

    # --- the control channel ----------------------------------------------------------

    def _execute(self, commands: Sequence[dict[str, Any]]) -> list[_Reply]:
        tagged = [{**c, "correlationData": uuid.uuid4().hex} for c in commands]
        info = self._client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise BrokerUnavailable(f"cannot send to the plugin: {mqtt.error_string(info.rc)}")
        ids = [c["correlationData"] for c in tagged]

        def answered() -> list[_Reply] | None:
            if all(i in self._replies for i in ids):
                return [self._replies.pop(i) for i in ids]
            return None

        return self._wait(answered, "the dynamic-security plugin's answer")

    def _wait(self, ready: Callable[[], _T | None], what: str) -> _T:
        deadline = time.monotonic() + self._timeout
        with self._lock:
            while (result := ready()) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BrokerUnavailable(
                        f"no {what} within {self._timeout:g} s (is the plugin loaded, and "
                        "may this account use it?)"
                    )
                self._lock.wait(remaining)
            return result

    def _on_connect(
        self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        with self._lock:
            self._connack = reason
            self._lock.notify_all()

    def _on_subscribe(
        self, _c: mqtt.Client, _u: object, _mid: int, reasons: list[ReasonCode], _p: object
    ) -> None:
        with self._lock:
            self._suback = reasons
            self._lock.notify_all()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(message.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            return  # not an answer we can read: the wait times out with a clear message
        with self._lock:
            for response in responses:
                if isinstance(response, dict) and "correlationData" in response:
                    self._replies[str(response["correlationData"])] = _Reply(
                        str(response.get("command", "?")),
                        response.get("error"),
                        response.get("data") or {},
                    )
            self._lock.notify_all()
