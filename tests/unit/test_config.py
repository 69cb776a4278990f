"""Settings: environment, TOML file, derived paths, and refusal of insecure production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.config import Settings, load_settings
from hub.core.backoff import Backoff


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
    ok = Settings(environment="production", auth={"secret": "s" * 40})  # type: ignore[arg-type]
    assert ok.environment == "production"


def test_backoff_is_capped_exponential_with_bounded_jitter() -> None:
    backoff = Backoff(base=0.5, cap=30.0, jitter=0.2)
    assert [backoff.delay(n, 0.5) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff.delay(50, 0.5) == 30.0
    assert backoff.delay(3, 0.0) == pytest.approx(3.2)
    assert backoff.delay(3, 0.999) == pytest.approx(4.8, abs=0.01)
    assert Backoff(base=0.5, cap=3).delays(5) == [0.5, 1.0, 2.0, 3.0, 3.0]
