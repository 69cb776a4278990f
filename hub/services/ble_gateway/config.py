"""The gateway's configuration: one TOML file (``hub ble-gateway --config FILE``), typed.

Unknown keys are refused, every value is checked, and the allow-list is checked against the
device catalog: a device's profile must be a ``ble-gatt`` profile. docs/ble-gateway.md lists
every option with an example::

    gateway_id = "gw-home-0001"
    zone = "Europe/Paris"
    data_dir = "/var/lib/hub-ble-gateway"

    [mqtt]
    host = "mqtt.hub.example"
    port = 8883
    username = "gw-home-0001"
    password = "..."
    tls_ca_file = "/etc/ssl/certs/ca-certificates.crt"

    [[devices]]
    id = "ble-gm-0001"
    address = "C0:26:DA:00:00:02"
    profile = "generic-ble-glucose-meter"
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from device_profiles.catalog import Catalog
from hub.core.identity import ANCHORED_ID_PATTERN
from hub.core.wire import WireError, check_zone

_ID = ANCHORED_ID_PATTERN
_ADDRESS = r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password: str | None = None
    tls_ca_file: Path | None = None
    keepalive: int = Field(30, ge=5, le=3600)
    # How long the broker keeps the gateway's session (and the acks for it) while it is away.
    session_expiry_s: int = Field(7 * 86400, ge=60)


class OutboxConfig(_Strict):
    max_mb: float = Field(64.0, gt=0, description="bound on what the outbox holds (MB)")
    max_items: int = Field(500_000, ge=100)
    synchronous: Literal["NORMAL", "FULL"] = "FULL"  # FULL also survives a power cut


class BleConfig(_Strict):
    max_connections: int = Field(5, ge=1, le=32, description="links at once on the adapter")
    connect_attempts: int = Field(3, ge=1, le=10)
    gatt_timeout_s: float = Field(10.0, gt=0)
    scan_wait_s: float = Field(30.0, gt=0)
    settle_s: float = Field(1.0, gt=0)
    linger_s: float = Field(30.0, ge=0)
    revisit_s: float = Field(300.0, gt=0)
    racp_silence_s: float = Field(30.0, gt=0)
    set_clocks: bool = True
    backoff_scale: float = Field(1.0, gt=0, le=10)


class UplinkConfig(_Strict):
    ack_timeout_s: float = Field(60.0, gt=0)
    status_interval_s: float = Field(60.0, gt=0)
    max_frames_per_message: int = Field(200, ge=1, le=500)
    max_messages_in_flight: int = Field(20, ge=1, le=1000)


class DeviceConfig(_Strict):
    id: str = Field(pattern=_ID, description="the hub's device id")
    address: str = Field(pattern=_ADDRESS, description="BLE address")
    profile: str = Field(description="a ble-gatt catalog profile")

    @field_validator("address")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class GatewayConfig(_Strict):
    gateway_id: str = Field(pattern=_ID)
    zone: str = Field(description="the home's IANA time zone")
    data_dir: Path = Path("var/ble-gateway")
    mqtt: MqttConfig = MqttConfig()
    outbox: OutboxConfig = OutboxConfig()
    ble: BleConfig = BleConfig()
    uplink: UplinkConfig = UplinkConfig()
    devices: list[DeviceConfig] = Field(default_factory=list, max_length=64)

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            check_zone(value)
        except WireError as err:
            raise ValueError(err.reason) from err
        return value

    @model_validator(mode="after")
    def _unique(self) -> GatewayConfig:
        for name in ("id", "address"):
            values = [getattr(device, name) for device in self.devices]
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"devices: {name} {', '.join(repeated)} listed twice")
        return self

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / "outbox.sqlite3"

    def check_profiles(self, catalog: Catalog) -> list[str]:
        """Problems of the allow-list against the catalog (empty: none)."""
        problems = []
        for device in self.devices:
            profile = catalog.get(device.profile)
            if profile is None or profile.ble is None:
                problems.append(f"{device.id}: {device.profile!r} is not a ble-gatt profile")
        return problems


def load_config(path: Path) -> GatewayConfig:
    """The configuration in ``path``; :class:`ValueError` (pydantic's) when it is invalid."""
    with path.open("rb") as file:
        return GatewayConfig.model_validate(tomllib.load(file))
