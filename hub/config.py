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
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from hub.core.identity import ANCHORED_ID_PATTERN

DEV_SECRET = "dev-only-insecure-secret-change-me-0123456789"  # noqa: S105 - development only

# MQTT client ids and usernames: the hub's identifier syntax (hub.core.identity), the same
# as device and gateway ids since a device's account is named after it, so that no MQTT
# wildcard (+ #), level separator (/) or control character can reach a topic or an ACL.
SAFE_ID = ANCHORED_ID_PATTERN
# Secrets (passwords, tokens) outside development: at least this long, and no placeholder.
MIN_SECRET_CHARS = 16
MIN_TOKEN_SECRET_CHARS = 32  # auth.secret is an HS256 key: at least the hash size (RFC 7518 §3.2)
_PLACEHOLDERS = ("change-me", "changeme", "change_me", "example", "placeholder", "password")


def secret_weakness(value: str, minimum: int = MIN_SECRET_CHARS) -> str | None:
    """Why ``value`` is not acceptable as a secret outside development; None if it is."""
    if len(value) < minimum:
        return f"shorter than {minimum} characters"
    lowered = value.lower()
    word = next((w for w in _PLACEHOLDERS if w in lowered), None)
    return None if word is None else f"a placeholder (contains {word!r})"


class MqttSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    protocol: Literal["5", "3.1.1"] = "5"
    client_id: str = Field("hub-bridge", pattern=SAFE_ID)
    username: str | None = Field(None, pattern=SAFE_ID)
    password: str | None = None
    keepalive: int = Field(30, ge=5)
    # MQTT 5 shared-subscription group; empty = plain subscription (one bridge).
    share_group: str = ""
    session_expiry: int = Field(3600, ge=0, description="seconds the broker keeps our session")
    receive_maximum: int = Field(2000, ge=1, le=65535)
    batch_size: int = Field(500, ge=1)
    batch_window_ms: int = Field(200, ge=1)
    # Processes that decode and commit the bridge's batches beside its network loop
    # (hub.adapters.ingest_workers); 0 = a thread of the bridge process itself.
    ingest_workers: int = Field(1, ge=0, le=64)
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
    sqlite_busy_timeout_s: float = Field(
        30.0, gt=0, description="how long a write waits for SQLite's lock before 'unavailable'"
    )


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Provider pushes (POST /v1/ingest): body size, and a token bucket per principal.
    max_ingest_bytes: int = Field(1024 * 1024, ge=1024)
    ingest_rate_per_s: float = Field(10.0, gt=0)
    ingest_burst: int = Field(20, ge=1)
    pairing_code_ttl_s: int = Field(900, ge=60)
    # HTTPS: both files (PEM), or neither (plain HTTP, e.g. behind a TLS-terminating proxy).
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None

    @model_validator(mode="after")
    def _tls_files_together(self) -> ApiSettings:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("api.tls_certfile and api.tls_keyfile go together")
        return self


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


class DynsecSettings(BaseModel):
    """The broker's dynamic-security plugin: the account `hub devices` and `hub gateways`
    provision and revoke MQTT accounts with (docs/deployment.md)."""

    host: str | None = Field(None, description="default: mqtt.host")
    port: int | None = Field(None, ge=1, le=65535, description="default: mqtt.port")
    username: str = Field("hub-admin", pattern=SAFE_ID)
    password: str | None = None
    # TLS to the broker, verifying its certificate with this CA (PEM); None: plain MQTT.
    ca_file: Path | None = None
    timeout_s: float = Field(10.0, gt=0)


class BrokerSettings(BaseModel):
    """How `hub up` provides a broker: spawn Mosquitto, the embedded one, or use an external."""

    mode: Literal["auto", "mosquitto", "embedded", "external"] = "auto"
    data_dir: Path | None = Field(None, description="default: <data_dir>/broker")


class SimSettings(BaseModel):
    enabled: bool = True
    patients: int = Field(3, ge=0, le=10_000)
    speed: float = Field(1440.0, gt=0, description="simulated seconds per real second")
    seed: int = 7


class VaultSettings(BaseModel):
    """The health space's document vault (IHE MHD) and the reference vault ``hub vault``."""

    # Where the hub files documents (ITI-65) and finds and reads them (ITI-67, ITI-68).
    url: str = "http://127.0.0.1:8010"
    timeout_s: float = Field(30.0, gt=0)
    # Bearer token the hub files with (production: one issued by the identity provider);
    # None: a token minted with auth.secret for ``source_subject`` (development and tests).
    token: str | None = None
    source_subject: str = "health-device-hub"
    # ``hub vault``: where the reference vault listens and keeps its files and SQLite index.
    host: str = "127.0.0.1"
    port: int = Field(8010, ge=1, le=65535)
    data_dir: Path | None = Field(None, description="default: <data_dir>/vault")
    max_bundle_bytes: int = Field(64 * 1024 * 1024, ge=1024)


class ReportsSettings(BaseModel):
    """Periodic reports filed into the health space (docs/documents.md)."""

    # Periods of patients whose program names none (a program's own list wins).
    periods: list[Literal["week", "month"]] = ["week", "month"]
    program: str = Field("remote-monitoring", description="program of patients with none")
    # ``hub reports serve``: how often due reports are computed, and how many complete periods
    # back are recomputed (late readings replace an earlier version).
    schedule_interval_s: float = Field(3600.0, gt=0)
    recompute_periods: int = Field(2, ge=1, le=12)
    # Delivery from the outbox: capped exponential backoff with jitter, then a poll.
    delivery_backoff_s: float = Field(2.0, gt=0)
    delivery_backoff_cap_s: float = Field(600.0, gt=0)
    delivery_poll_s: float = Field(5.0, gt=0)
    # ``hub reports serve``: Prometheus metrics (the filing outbox's age) on this port; 0 = off.
    metrics_port: int = Field(9102, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    # Author of the documents: the organization operating the hub, and the hub's source OID
    # (IHE sourceId); the defaults are development values.
    organization_name: str = "Health device hub (development)"
    organization_id: str = "hub-dev-organization"
    source_oid: str = Field(
        "2.25.240997993592817394077481485834753233368", pattern=r"^[0-2](\.\d+)+$"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUB_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
        hide_input_in_errors=True,  # an error message must never print a secret
    )

    environment: Literal["development", "test", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: hub/runtime/logs.py
    data_dir: Path = Path("var")
    mqtt: MqttSettings = MqttSettings()
    dynsec: DynsecSettings = DynsecSettings()
    store: StoreSettings = StoreSettings()
    registry: RegistrySettings = RegistrySettings()
    api: ApiSettings = ApiSettings()
    auth: AuthSettings = AuthSettings()
    broker: BrokerSettings = BrokerSettings()
    sim: SimSettings = SimSettings()
    time: TimeSettings = TimeSettings()
    vault: VaultSettings = VaultSettings()
    reports: ReportsSettings = ReportsSettings()
    max_payload_bytes: int = Field(256 * 1024, ge=256)

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if self.store.sqlite_path is None:
            self.store.sqlite_path = self.data_dir / "readings.sqlite3"
        if self.registry.url is None:
            self.registry.url = f"sqlite:///{self.data_dir / 'registry.sqlite3'}"
        if self.broker.data_dir is None:
            self.broker.data_dir = self.data_dir / "broker"
        if self.vault.data_dir is None:
            self.vault.data_dir = self.data_dir / "vault"
        return self

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.environment == "production" and self.broker.mode == "embedded":
            raise ValueError("the embedded broker is for development only")
        return self

    @model_validator(mode="after")
    def _refuse_development_token_secret(self) -> Settings:
        """Outside development (tests included), tokens are verified with an issuer's JWKS or
        a secret of at least 32 characters that is not the development default."""
        if self.environment == "development" or self.auth.jwks_url is not None:
            return self
        if self.auth.secret == DEV_SECRET:
            raise ValueError(
                f"auth.secret is the development secret, refused in {self.environment}: "
                "set HUB_AUTH__SECRET or HUB_AUTH__JWKS_URL"
            )
        weakness = secret_weakness(self.auth.secret, MIN_TOKEN_SECRET_CHARS)
        if weakness is not None:
            raise ValueError(f"auth.secret is weak for {self.environment}: {weakness}")
        return self

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Settings:
        """Outside development, every secret set must be a real one (auth.secret: above)."""
        if self.environment == "development":
            return self
        secrets = {
            "mqtt.password": self.mqtt.password,
            "dynsec.password": self.dynsec.password,
            "store.influx_token": self.store.influx_token,
            "store.influx_password": self.store.influx_password,
            "vault.token": self.vault.token,
            "registry.url (its password)": urlsplit(self.registry.url or "").password,
        }
        for name, value in secrets.items():
            weakness = None if value is None else secret_weakness(value)
            if weakness is not None:
                raise ValueError(f"{name} is weak outside development: {weakness}")
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
