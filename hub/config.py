"""One typed settings object, built at the edge and passed down (pydantic-settings).

Sources, highest priority first: keyword arguments, environment variables ``HUB_*`` (nested
fields with ``__``, e.g. ``HUB_MQTT__PORT=1884``), the TOML file named by ``HUB_CONFIG``
(or passed as ``config_file``), then the defaults below. Every option is listed in the README.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEV_SECRET = "dev-only-insecure-secret-change-me-0123456789"  # noqa: S105 - refused in production


class MqttSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    protocol: Literal["5", "3.1.1"] = "5"
    client_id: str = "hub-bridge"
    username: str | None = None
    password: str | None = None
    keepalive: int = Field(30, ge=5)
    # MQTT 5 shared-subscription group; empty = plain subscription (one bridge).
    share_group: str = ""
    session_expiry: int = Field(3600, ge=0, description="seconds the broker keeps our session")
    receive_maximum: int = Field(2000, ge=1, le=65535)
    batch_size: int = Field(500, ge=1)
    batch_window_ms: int = Field(200, ge=1)
    # The bridge's Prometheus endpoint (http://host:port/metrics); port 0 = off.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(9101, ge=0, le=65535)
    # Exit (to be restarted) when the batch worker makes no progress for this long.
    watchdog_s: float = Field(120.0, gt=0)

    @model_validator(mode="after")
    def _client_id_is_the_username(self) -> MqttSettings:
        # The shipped broker makes the username the client id (use_username_as_clientid):
        # a different client_id would name a session and a presence topic nobody uses.
        if self.username is not None and self.client_id != self.username:
            raise ValueError(
                f"mqtt.client_id ({self.client_id!r}) must be the bridge's username "
                f"({self.username!r}): the broker binds client ids to usernames"
            )
        return self


class StoreSettings(BaseModel):
    backend: Literal["sqlite", "influxdb"] = "sqlite"
    sqlite_path: Path | None = Field(None, description="default: <data_dir>/readings.sqlite3")
    sqlite_busy_timeout_s: float = Field(
        30.0, gt=0, description="how long a write waits for SQLite's lock before 'unavailable'"
    )
    # InfluxDB (docs/storage.md). Writes: v1 = POST /write (InfluxDB 1.x), v2 = /api/v2/write
    # (2.x, 3.x, Cloud). Reads always use InfluxQL on /query with `influx_database`.
    influx_url: str = "http://127.0.0.1:8086"
    influx_api: Literal["v1", "v2"] = "v1"
    influx_database: str = Field(
        "hub", min_length=1, description="v1 database; the /query db (DBRP on 2.x, db on 3.x)"
    )
    influx_retention_policy: str | None = Field(None, description="v1 only; default: the db's")
    influx_bucket: str | None = Field(None, description="v2 bucket; default: influx_database")
    influx_org: str | None = Field(None, description="v2 organization")
    influx_token: str | None = Field(None, description="v2/v3 token (1.8+: 'user:password')")
    influx_username: str | None = Field(None, description="v1 basic authentication")
    influx_password: str | None = None
    influx_timeout_s: float = Field(10.0, gt=0)
    influx_batch_size: int = Field(5000, ge=1, le=100_000, description="lines per write request")
    influx_write_retries: int = Field(3, ge=0, le=20, description="then StoreUnavailable")
    influx_retry_backoff_s: float = Field(0.5, ge=0, description="first retry delay; doubles")
    influx_resend_window_s: int | None = Field(
        None, ge=0, description="how far back a receive-timed resend is looked for; None: all"
    )


class RegistrySettings(BaseModel):
    url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in data_dir")


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Provider pushes (POST /v1/ingest): body size, and a token bucket per principal.
    max_ingest_bytes: int = Field(1024 * 1024, ge=1024)
    ingest_rate_per_s: float = Field(10.0, gt=0)
    ingest_burst: int = Field(20, ge=1)
    pairing_code_ttl_s: int = Field(900, ge=60)


class AuthSettings(BaseModel):
    # HS256 shared secret for development tokens (`hub token`). Production uses an issuer's
    # JWKS (RS256/ES256); development defaults are refused outside `environment=development`.
    secret: str = DEV_SECRET
    issuer: str = "hub-dev"
    audience: str = "health-device-hub"
    algorithms: list[str] = ["HS256"]
    jwks_url: str | None = None


class TimeSettings(BaseModel):
    """Device time (docs/model.md, "Time provenance")."""

    # The zone of a local device time when neither the device nor its gateway states one,
    # and the patients' default zone (days, meal times and the AGP's time of day).
    zone: str = "Europe/Paris"
    # A device clock within this of the truth is right; beyond it the upload is corrected by
    # the measured offset (or, with no offset, a future time is untrusted).
    clock_tolerance_s: int = Field(300, ge=1)
    # Device times before this cannot be right (clocks reset to their epoch).
    earliest_device_time: AwareDatetime = datetime(2000, 1, 1, tzinfo=UTC)

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown IANA time zone {value!r}") from err
        return value


class BrokerSettings(BaseModel):
    """How `hub up` provides a broker: spawn Mosquitto, the embedded one, or use an external."""

    mode: Literal["auto", "mosquitto", "embedded", "external"] = "auto"
    data_dir: Path | None = Field(None, description="default: <data_dir>/broker")


class SimSettings(BaseModel):
    enabled: bool = True
    patients: int = Field(3, ge=0, le=10_000)
    speed: float = Field(1440.0, gt=0, description="simulated seconds per real second")
    seed: int = 7


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUB_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    environment: Literal["development", "test", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    data_dir: Path = Path("var")
    mqtt: MqttSettings = MqttSettings()
    store: StoreSettings = StoreSettings()
    registry: RegistrySettings = RegistrySettings()
    api: ApiSettings = ApiSettings()
    auth: AuthSettings = AuthSettings()
    broker: BrokerSettings = BrokerSettings()
    sim: SimSettings = SimSettings()
    time: TimeSettings = TimeSettings()
    max_payload_bytes: int = Field(256 * 1024, ge=256)

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if self.store.sqlite_path is None:
            self.store.sqlite_path = self.data_dir / "readings.sqlite3"
        if self.registry.url is None:
            self.registry.url = f"sqlite:///{self.data_dir / 'registry.sqlite3'}"
        if self.broker.data_dir is None:
            self.broker.data_dir = self.data_dir / "broker"
        return self

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.environment == "production":
            if self.auth.secret == DEV_SECRET and self.auth.jwks_url is None:
                raise ValueError(
                    "auth.secret is the development secret: set HUB_AUTH__SECRET or "
                    "HUB_AUTH__JWKS_URL for production"
                )
            if self.broker.mode == "embedded":
                raise ValueError("the embedded broker is for development only")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("HUB_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and ``HUB_CONFIG``), with explicit overrides on top."""
    return Settings(**overrides)
