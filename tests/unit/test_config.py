"""Settings: environment, TOML file, derived paths, and refusal of insecure production."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hub.config import DEV_SECRET, Settings, load_settings, secret_weakness
from hub.core.backoff import Backoff

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"


def test_environment_and_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('data_dir = "/srv/hub"\n[mqtt]\nport = 1999\nshare_group = "g"\n')
    monkeypatch.setenv("HUB_CONFIG", str(config))
    monkeypatch.setenv("HUB_MQTT__PORT", "2000")  # the environment wins over the file
    settings = load_settings()
    assert settings.mqtt.port == 2000
    assert settings.mqtt.share_group == "g"
    assert settings.store.sqlite_path == Path("/srv/hub/readings.sqlite3")
    assert settings.registry.url == "sqlite:////srv/hub/registry.sqlite3"


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ValidationError, match="mqtt_port"):
        Settings(mqtt_port=1)  # type: ignore[call-arg]


def test_production_refuses_development_defaults() -> None:
    with pytest.raises(ValidationError, match="development secret"):
        Settings(environment="production")
    ok = Settings(environment="production", auth={"secret": "s" * 40})
    assert ok.environment == "production"


def test_backoff_is_capped_exponential_with_bounded_jitter() -> None:
    backoff = Backoff(base=0.5, cap=30.0, jitter=0.2)
    assert [backoff.delay(n, 0.5) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff.delay(50, 0.5) == 30.0
    assert backoff.delay(3, 0.0) == pytest.approx(3.2)
    assert backoff.delay(3, 0.999) == pytest.approx(4.8, abs=0.01)
    assert Backoff(base=0.5, cap=3).delays(5) == [0.5, 1.0, 2.0, 3.0, 3.0]


# --- deployment: secrets, identifiers, TLS, logs -------------------------------------------

PRODUCTION_SECRET = "Zq8vN2kR7xW4mT9pL3sD6fH1jB5cG0aE"  # 32 characters, no placeholder


def test_production_refuses_a_weak_token_secret_unless_an_issuer_signs_tokens() -> None:
    with pytest.raises(ValidationError, match=r"auth\.secret is weak for production") as refused:
        Settings(environment="production", auth={"secret": "short-secret"})
    assert "short-secret" not in str(refused.value)
    jwks = Settings(
        environment="production",
        auth={"secret": "short-secret", "jwks_url": "https://idp.invalid/jwks"},
    )
    assert jwks.auth.jwks_url is not None


@pytest.mark.parametrize("environment", ["test", "production"])
def test_only_development_accepts_the_development_token_secret(environment: str) -> None:
    with pytest.raises(ValidationError, match=f"development secret, refused in {environment}"):
        Settings(environment=environment)
    with pytest.raises(ValidationError, match=f"weak for {environment}"):
        Settings(environment=environment, auth={"secret": "x" * 31})
    assert Settings(environment="development").auth.secret == DEV_SECRET


@pytest.mark.parametrize("environment", ["test", "production"])
@pytest.mark.parametrize(
    ("section", "values", "named"),
    [
        ("mqtt", {"username": "hub-bridge", "password": "pw-hub"}, "mqtt.password"),
        ("dynsec", {"password": "please-change-me-now-2026"}, "dynsec.password"),
        ("store", {"influx_token": "my-token"}, "store.influx_token"),
        ("store", {"influx_password": "example-example-example"}, "store.influx_password"),
        ("registry", {"url": "postgresql+psycopg://hub:hub@db:5432/hub"}, "registry.url"),
        ("vault", {"token": "changeme"}, "vault.token"),
    ],
)
def test_weak_or_placeholder_secrets_are_refused_outside_development(
    environment: str, section: str, values: dict[str, str], named: str
) -> None:
    options: dict[str, Any] = {
        "environment": environment,
        "auth": {"secret": PRODUCTION_SECRET},
        section: values,
    }
    with pytest.raises(ValidationError, match=f"{re.escape(named)}.* is weak") as refused:
        Settings(**options)
    for secret in values.values():  # the message never quotes the secret
        assert secret not in str(refused.value)
    assert Settings(**{**options, "environment": "development"})


def test_strong_secrets_pass_in_production() -> None:
    strong = "vR3nX8qL2wK9tY6bM4zH7cJ1"
    settings = Settings(
        environment="production",
        auth={"secret": PRODUCTION_SECRET},
        mqtt={"username": "hub-bridge-1", "client_id": "hub-bridge-1", "password": strong},
        registry={"url": f"postgresql+psycopg://hub:{strong}@postgres:5432/hub"},
    )
    assert secret_weakness(strong) is None
    assert settings.mqtt.password == strong


@pytest.mark.parametrize(
    "name", ["hub/bridge", "hub+", "#", "hub\x00", "hub\nbridge", "", "h" * 129]
)
def test_mqtt_client_ids_and_usernames_are_restricted_to_a_safe_alphabet(name: str) -> None:
    with pytest.raises(ValidationError, match="client_id"):
        Settings(mqtt={"client_id": name})
    with pytest.raises(ValidationError, match="username"):
        Settings(mqtt={"client_id": name, "username": name})
    with pytest.raises(ValidationError, match=r"dynsec\.username"):
        Settings(dynsec={"username": name})


def test_api_tls_needs_both_the_certificate_and_its_key() -> None:
    with pytest.raises(ValidationError, match="go together"):
        Settings(api={"tls_certfile": "/certs/server.crt"})
    both = {"tls_certfile": "/certs/server.crt", "tls_keyfile": "/certs/server.key"}
    assert Settings(api=both).api.tls_keyfile == Path("/certs/server.key")


def test_log_format_is_text_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_LOG_FORMAT", "json")
    assert load_settings().log_format == "json"
    monkeypatch.setenv("HUB_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError, match="log_format"):
        load_settings()


def _directives(path: Path) -> dict[str, str]:
    lines = (line.split(None, 1) for line in path.read_text().splitlines())
    return {words[0]: words[1] for words in lines if len(words) == 2 and words[0][0] != "#"}


def test_the_dynamic_security_broker_keeps_the_static_ones_queues_and_sessions() -> None:
    static = _directives(DEPLOY / "mosquitto.conf")
    dynamic = _directives(DEPLOY / "dynsec" / "mosquitto.conf")
    shared = [
        "per_listener_settings",
        "allow_anonymous",
        "persistence",
        "persistence_location",
        "autosave_interval",
        "autosave_on_changes",
        "max_queued_messages",
        "max_queued_bytes",
        "max_inflight_messages",
        "max_inflight_bytes",
        "message_size_limit",
        "persistent_client_expiration",
        "sys_interval",
    ]
    assert {k: dynamic.get(k) for k in shared} == {k: static[k] for k in shared}
