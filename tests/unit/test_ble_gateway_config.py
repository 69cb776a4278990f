"""The BLE gateway's configuration file: typed, strict, checked against the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from device_profiles.catalog import load_catalog
from hub.services.ble_gateway.config import GatewayConfig, load_config

EXAMPLE = """
gateway_id = "gw-home-0001"
zone = "Indian/Reunion"
data_dir = "/var/lib/hub-ble-gateway"

[mqtt]
host = "mqtt.hub.example"
port = 8883
username = "gw-home-0001"
password = "s3cret"
tls_ca_file = "/etc/ssl/certs/ca-certificates.crt"

[outbox]
max_mb = 16

[[devices]]
id = "ble-gm-0001"
address = "c0:26:da:00:00:02"
profile = "generic-ble-glucose-meter"
"""


def test_the_documented_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(EXAMPLE)
    config = load_config(path)
    assert config.zone == "Indian/Reunion"
    assert config.devices[0].address == "C0:26:DA:00:00:02"  # canonical
    assert config.outbox_path == Path("/var/lib/hub-ble-gateway/outbox.sqlite3")
    assert config.outbox.synchronous == "FULL"  # survives a power cut by default
    assert config.check_profiles(load_catalog()) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"zone": "+01:00"}, "zone"),
        ({"gateway_id": "gw/1"}, "gateway_id"),
        ({"colour": "blue"}, "colour"),
        ({"devices": [{"id": "a", "address": "not-a-mac", "profile": "x"}]}, "address"),
        (
            {
                "devices": [
                    {"id": "a", "address": "C0:26:DA:00:00:01", "profile": "x"},
                    {"id": "a", "address": "C0:26:DA:00:00:02", "profile": "x"},
                ]
            },
            "listed twice",
        ),
        ({"mqtt": {"port": 0}}, "port"),
    ],
)
def test_a_wrong_option_is_refused_with_its_name(change: dict[str, object], problem: str) -> None:
    document = {"gateway_id": "gw-1", "zone": "Europe/Paris", **change}
    with pytest.raises(ValidationError, match=problem):
        GatewayConfig.model_validate(document)


def test_a_device_must_have_a_ble_profile() -> None:
    config = GatewayConfig.model_validate(
        {
            "gateway_id": "gw-1",
            "zone": "Europe/Paris",
            "devices": [
                {"id": "a", "address": "C0:26:DA:00:00:01", "profile": "acme-bp-wifi"},
                {"id": "b", "address": "C0:26:DA:00:00:02", "profile": "no-such-model"},
            ],
        }
    )
    assert config.check_profiles(load_catalog()) == [
        "a: 'acme-bp-wifi' is not a ble-gatt profile",
        "b: 'no-such-model' is not a ble-gatt profile",
    ]
