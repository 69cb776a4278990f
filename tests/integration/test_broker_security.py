"""The shipped Mosquitto configuration (deploy/mosquitto/) against the attacks it must stop.

A real Mosquitto runs the production configuration file and ACL as shipped — only the
listener, the data directory and the password file are the test's — with accounts made by
``mosquitto_passwd``: a device, another device, a gateway and the hub's bridge.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.runtime.broker import mosquitto_binary
from hub.runtime.up import port_open
from tests.conftest import free_port
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
ACCOUNTS = {"dev-1": "pw-dev-1", "dev-2": "pw-dev-2", "gw-1": "pw-gw-1", "hub-bridge": "pw-hub"}
GATEWAY_BLOCK = """
user gw-1
topic write hs/v1/gateways/gw-1/frames
topic write hs/v1/gateways/gw-1/status
topic read  hs/v1/gateways/gw-1/acks
"""


def shipped_config(port: int, root: Path) -> str:
    """deploy/mosquitto/mosquitto.conf with the test's listener, paths and user."""
    text = (DEPLOY / "mosquitto.conf").read_text()
    text = re.sub(r"(?m)^listener 1883$", f"listener {port} 127.0.0.1", text)
    text = text.replace("/mosquitto/config/passwd", str(root / "passwd"))
    text = text.replace("/mosquitto/config/acl", str(root / "acl"))
    text = text.replace("/mosquitto/data/", f"{root / 'data'}/")
    return text + "\nuser root\n"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[int]:
    binary = mosquitto_binary()
    if binary is None or shutil.which("mosquitto_passwd") is None:
        pytest.fail("mosquitto is not installed: apt-get install mosquitto")
    (tmp_path / "data").mkdir()
    passwd = tmp_path / "passwd"
    passwd.touch()
    for user, password in ACCOUNTS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)
    (tmp_path / "acl").write_text((DEPLOY / "acl").read_text() + GATEWAY_BLOCK)
    port = free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(shipped_config(port, tmp_path))
    process = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: port_open("127.0.0.1", port), "mosquitto")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


class Session:
    """One MQTT 5 connection under an account, recording what it receives."""

    def __init__(self, port: int, user: str, client_id: str | None = None) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.disconnected = threading.Event()
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or user, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(user, ACCOUNTS[user])
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, m.payload))
        self.client.on_connect = lambda *_: self.connected.set()
        self.acks: dict[int, str] = {}  # mid -> the broker's PUBACK reason
        self.client.on_publish = lambda _c, _u, mid, reason, _p: self.acks.__setitem__(
            mid, str(reason)
        )
        self.client.on_disconnect = lambda *_: self.disconnected.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.connected.wait(10), f"{user} could not connect"

    def publish(self, topic: str, payload: bytes = b"{}") -> str:
        """Publish at QoS 1 and return the broker's PUBACK reason ("Success", "Not
        authorized"...)."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=10)
        wait_until(lambda: info.mid in self.acks, "the PUBACK", timeout=10)
        return self.acks[info.mid]

    def close(self) -> None:
        # Disconnect while the network loop still runs, and wait for it: the next session
        # under the same username (= client id) must not find this one still connected.
        self.client.disconnect()
        self.disconnected.wait(10)
        self.client.loop_stop()


def delivered(port: int, publisher: str, topic: str) -> bool:
    """Whether a QoS 1 message ``publisher`` sends to ``topic`` reaches the hub's bridge.

    A refusal must be the broker's: its PUBACK says "Not authorized" and nothing arrives.
    """
    bridge = Session(port, "hub-bridge")
    bridge.client.subscribe("hs/v1/#", qos=1)
    sender = Session(port, publisher)
    try:
        marker = f"marker-{publisher}-{topic}".encode()
        reason = sender.publish(topic, marker)
        closing = Session(port, publisher)  # a fresh session, whatever became of the first
        assert closing.publish(f"hs/v1/devices/{publisher}/readings", b"end") == "Success"
        closing.close()
        wait_until(
            lambda: any(p == b"end" for _, p in bridge.received), "the end marker", timeout=10
        )
        arrived = any(p == marker for _, p in bridge.received)
        assert arrived == (reason == "Success"), (topic, reason)
        return arrived
    finally:
        sender.close()
        bridge.close()


def test_a_device_publishes_its_own_readings_and_vendor_json(broker: int) -> None:
    assert delivered(broker, "dev-1", "hs/v1/devices/dev-1/readings")
    assert delivered(broker, "dev-1", "hs/v1/devices/dev-1/json/acme-bp-wifi")


def test_a_device_account_cannot_write_another_devices_readings(broker: int) -> None:
    assert not delivered(broker, "dev-1", "hs/v1/devices/dev-2/readings")
    assert not delivered(broker, "dev-1", "hs/v1/devices/dev-2/json/acme-bp-wifi")


def test_a_device_account_is_never_a_gateway(broker: int) -> None:
    # The attack: any device password forged frames for any device by posing as a gateway.
    assert not delivered(broker, "dev-1", "hs/v1/gateways/dev-1/frames")
    assert not delivered(broker, "dev-1", "hs/v1/gateways/gw-1/frames")


def test_a_gateway_publishes_only_its_own_frames(broker: int) -> None:
    assert delivered(broker, "gw-1", "hs/v1/gateways/gw-1/frames")
    assert not delivered(broker, "gw-1", "hs/v1/gateways/gw-2/frames")


def test_a_device_cannot_take_the_bridges_client_id(broker: int) -> None:
    bridge = Session(broker, "hub-bridge")
    bridge.client.subscribe("hs/v1/#", qos=1)
    thief = Session(broker, "dev-1", client_id="hub-bridge")
    try:
        thief.publish("hs/v1/devices/dev-1/readings", b"from-the-thief")
        wait_until(lambda: bool(bridge.received), "the bridge still receiving", timeout=10)
        # The broker gave the thief its own username as client id: the bridge was not kicked.
        assert not bridge.disconnected.is_set()
        assert bridge.received == [("hs/v1/devices/dev-1/readings", b"from-the-thief")]
    finally:
        thief.close()
        bridge.close()
