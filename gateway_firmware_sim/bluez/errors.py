"""The errors a simulated BlueZ answers with: D-Bus error names and texts exactly as
bluetoothd sends them (src/error.c, src/gatt-client.c ``create_gatt_dbus_error``, the LE
connection reasons of src/error.h), so clients that read them — bleak matches
``le-connection-abort-by-local`` and ``Operation failed with ATT error: 0x..`` — see the real
thing.

Rules: a GATT server refusal is an :class:`AttFailure` carrying the ATT error code (Core Vol
3 Part F §3.4.1.1); it becomes a D-Bus error only at the D-Bus edge, through the table
:data:`_ATT_TO_BLUEZ`. Every other refusal is built here by name; no module invents error
names or texts.
"""

from __future__ import annotations

import enum

from dbus_fast.errors import DBusError


class BluezError(enum.StrEnum):
    FAILED = "org.bluez.Error.Failed"
    IN_PROGRESS = "org.bluez.Error.InProgress"
    NOT_PERMITTED = "org.bluez.Error.NotPermitted"
    NOT_SUPPORTED = "org.bluez.Error.NotSupported"
    INVALID_ARGUMENTS = "org.bluez.Error.InvalidArguments"
    DOES_NOT_EXIST = "org.bluez.Error.DoesNotExist"
    ALREADY_EXISTS = "org.bluez.Error.AlreadyExists"


def bluez_error(name: BluezError, text: str) -> DBusError:
    return DBusError(name.value, text)


def failed(text: str) -> DBusError:
    return bluez_error(BluezError.FAILED, text)


def in_progress() -> DBusError:
    """``btd_error_in_progress``: a Connect, Pair or GATT operation is already pending."""
    return bluez_error(BluezError.IN_PROGRESS, "In Progress")


def busy() -> DBusError:
    """``btd_error_busy``: this client already runs a discovery."""
    return bluez_error(BluezError.IN_PROGRESS, "Operation already in progress")


def not_supported() -> DBusError:
    return bluez_error(BluezError.NOT_SUPPORTED, "Operation is not supported")


def not_permitted(text: str) -> DBusError:
    return bluez_error(BluezError.NOT_PERMITTED, text)


def invalid_arguments(text: str = "Invalid arguments in method call") -> DBusError:
    return bluez_error(BluezError.INVALID_ARGUMENTS, text)


def does_not_exist() -> DBusError:
    return bluez_error(BluezError.DOES_NOT_EXIST, "Does Not Exist")


def already_exists() -> DBusError:
    return bluez_error(BluezError.ALREADY_EXISTS, "Already Exists")


def not_connected() -> DBusError:
    """What a GATT method answers when the device has no link (``"Not connected"``)."""
    return failed("Not connected")


class AttError(enum.IntEnum):
    """The ATT Error Response codes the simulated servers send (Core Vol 3 Part F Table 3.4;
    0x80: Current Time Service "Data field ignored"; 0xFD, 0xFE: Core Specification Supplement
    Part B §1.2, common profile and service error codes)."""

    READ_NOT_PERMITTED = 0x02
    WRITE_NOT_PERMITTED = 0x03
    REQUEST_NOT_SUPPORTED = 0x06
    INVALID_OFFSET = 0x07
    INVALID_ATTRIBUTE_VALUE_LENGTH = 0x0D
    DATA_FIELD_IGNORED = 0x80
    CCCD_IMPROPERLY_CONFIGURED = 0xFD
    PROCEDURE_ALREADY_IN_PROGRESS = 0xFE


class AttFailure(Exception):
    """The simulated GATT server answered an ATT Error Response."""

    def __init__(self, code: AttError, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(
            f"ATT error {code.value:#04x} ({code.name}){': ' + reason if reason else ''}"
        )


# create_gatt_dbus_error(): the codes BlueZ names (of those we send); any other one is Failed
# with its number, which bleak turns back into a BleakGATTProtocolError.
_ATT_TO_BLUEZ: dict[AttError, tuple[BluezError, str]] = {
    AttError.READ_NOT_PERMITTED: (BluezError.NOT_PERMITTED, "Read not permitted"),
    AttError.WRITE_NOT_PERMITTED: (BluezError.NOT_PERMITTED, "Write not permitted"),
    AttError.INVALID_OFFSET: (BluezError.INVALID_ARGUMENTS, "Invalid offset"),
    AttError.INVALID_ATTRIBUTE_VALUE_LENGTH: (BluezError.INVALID_ARGUMENTS, "Invalid Length"),
    AttError.REQUEST_NOT_SUPPORTED: (BluezError.NOT_SUPPORTED, "Operation is not supported"),
}


def att_error(failure: AttFailure) -> DBusError:
    """The D-Bus error bluetoothd relays for an ATT Error Response."""
    name, text = _ATT_TO_BLUEZ.get(
        failure.code,
        (BluezError.FAILED, f"Operation failed with ATT error: {failure.code.value:#04x}"),
    )
    return bluez_error(name, text)


class LeConnectError(enum.StrEnum):
    """Why an LE Connect failed: the text of ``org.bluez.Error.Failed`` (src/error.h), chosen
    by ``btd_error_le_errno`` from the kernel's errno."""

    ABORT_BY_LOCAL = "le-connection-abort-by-local"  # ECONNABORTED
    ABORT_BY_REMOTE = "le-connection-abort-by-remote"  # ECONNRESET
    TIMEOUT = "le-connection-timeout"  # ETIMEDOUT
    REFUSED = "le-connection-refused"  # ECONNREFUSED


# A Connect cancelled by Disconnect (device_request_disconnect): BlueZ uses the BR/EDR text for
# LE too.
CONNECT_CANCELED = "br-connection-canceled"


class DisconnectReason(enum.Enum):
    """``Device1.Disconnected(reason, message)`` (src/device.c ``device_disconnected``)."""

    TIMEOUT = ("org.bluez.Reason.Timeout", "Connection timeout")
    LOCAL = ("org.bluez.Reason.Local", "Connection terminated by local host")
    REMOTE = ("org.bluez.Reason.Remote", "Connection terminated by remote user")

    @property
    def dbus_name(self) -> str:
        return self.value[0]

    @property
    def message(self) -> str:
        return self.value[1]
