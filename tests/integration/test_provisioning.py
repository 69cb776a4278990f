"""Accounts made by ``hub devices`` / ``hub gateways`` against the attacks they must stop.

A real Mosquitto runs the shipped dynamic-security configuration (tests/integration/
dynsec_broker.py); the plugin's first file comes from deploy/mosquitto/dynsec/bootstrap.py
with the admin and two bridge accounts (``bridge-t`` runs ``hub bridge``; ``observer``, with
the same role, watches what reaches the hub). Every device and gateway account is made by the
CLI, run as a subprocess as an operator would.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.adapters.dynsec import ClientInfo, DynsecAdmin, device_account
from hub.adapters.registry import Registry
from hub.runtime.cli import main
from tests.conftest import free_port
from tests.integration.conftest import wait_until
from tests.integration.dynsec_broker import (
    ADMIN,
    DYNSEC,
    DynsecBroker,
    Session,
    refused_reason,
    start_dynsec_broker,
)

pytestmark = pytest.mark.integration

BP_PROFILE = "generic-ble-blood-pressure"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DynsecBroker]:
    broker = start_dynsec_broker(tmp_path, ("bridge-t", "observer"))
    yield broker
    broker.stop()


def provision(broker: DynsecBroker, kind: str, name: str, *options: str) -> dict[str, str]:
    done = broker.hub(kind, "provision", name, "--json", *options)
    assert done.returncode == 0, done.stderr
    credentials: dict[str, str] = json.loads(done.stdout)
    return credentials


def session(broker: DynsecBroker, credentials: dict[str, str]) -> Session:
    return Session(broker.port, credentials["username"], credentials["password"]).open()


def observer(broker: DynsecBroker) -> Session:
    watcher = Session(broker.port, "observer", broker.passwords["observer"]).open()
    assert watcher.subscribe("hs/v1/#") == [True]
    return watcher


def reached_the_hub(broker: DynsecBroker, credentials: dict[str, str], topic: str) -> bool:
    """Whether what the account publishes to ``topic`` reaches a bridge-role subscriber."""
    name = credentials["username"]
    watcher = observer(broker)
    try:
        marker = f"marker {name} {topic}".encode()
        sender = session(broker, credentials)
        sender.publish(topic, marker)  # QoS 1: answered (PUBACK) once routed, or refused
        sender.close()
        # A new connection: Mosquitto 2.0.11 with max_queued_messages 0 also closes the
        # connection of a client whose QoS 1 publish it refused (docs/deployment.md).
        closer = session(broker, credentials)
        closer.publish(f"hs/v1/devices/{name}/readings", b"end")  # a device's own topic
        closer.close()
        wait_until(lambda: any(p == b"end" for _, p in watcher.received), "the end marker", 10)
        return any(payload == marker for _, payload in watcher.received)
    finally:
        watcher.close()


def test_provisioning_creates_a_bound_account_with_a_role_of_its_own(broker: DynsecBroker) -> None:
    credentials = provision(broker, "devices", "dev-a")
    assert credentials["username"] == credentials["client_id"] == "dev-a"
    assert len(credentials["password"]) >= 40
    with DynsecAdmin("127.0.0.1", broker.port, ADMIN, broker.passwords[ADMIN]) as admin:
        assert admin.client("dev-a") == ClientInfo("dev-a", "dev-a", ("device:dev-a",))
    # Provisioning twice would leave the first password valid: refused.
    again = broker.hub("devices", "provision", "dev-a")
    assert again.returncode == 1
    assert "has an MQTT account already" in again.stderr
    assert credentials["password"] not in again.stdout + again.stderr


def test_a_device_publishes_only_to_its_own_topics(broker: DynsecBroker) -> None:
    dev_a = provision(broker, "devices", "dev-a")
    provision(broker, "devices", "dev-b")
    assert reached_the_hub(broker, dev_a, "hs/v1/devices/dev-a/readings")
    assert reached_the_hub(broker, dev_a, "hs/v1/devices/dev-a/json/acme-bp-wifi")
    for forbidden in (
        "hs/v1/devices/dev-b/readings",  # another device's record
        "hs/v1/devices/dev-b/json/acme-bp-wifi",
        "hs/v1/gateways/dev-a/frames",  # a device is never a gateway
        "hs/v1/gateways/gw-1/frames",
        "hs/v1/gateways/gw-1/acks",
        "hs/v1/hub/bridges/bridge-t/status",  # nor the hub
    ):
        assert not reached_the_hub(broker, dev_a, forbidden), forbidden


def test_a_device_subscribes_to_nothing_of_anyone(broker: DynsecBroker) -> None:
    dev_a = session(broker, provision(broker, "devices", "dev-a"))
    dev_b = session(broker, provision(broker, "devices", "dev-b"))
    watcher = observer(broker)
    try:
        granted = dev_a.subscribe(
            "hs/v1/devices/dev-b/readings", "hs/v1/#", "#", "$SYS/#", "$share/g/hs/v1/#"
        )
        assert granted == [False] * 5
        dev_b.publish("hs/v1/devices/dev-b/readings", b"dev-b's reading")
        wait_until(lambda: bool(watcher.received), "the reading at the hub", timeout=10)
        assert dev_a.received == []
    finally:
        for s in (dev_a, dev_b, watcher):
            s.close()


def test_client_ids_are_bound_to_usernames(broker: DynsecBroker) -> None:
    credentials = provision(broker, "devices", "dev-a")
    password = credentials["password"]
    assert refused_reason(broker.port, "dev-a", password) == ""
    for client_id in ("dev-b", "bridge-t", "dev-a/x", "dev-a+", "dev-a#"):
        assert refused_reason(broker.port, "dev-a", password, client_id) == "Not authorized"
    # Control characters are malformed MQTT strings: the broker closes without a CONNACK.
    assert refused_reason(broker.port, "dev-a", password, "dev-a\x01") == "closed"
    assert refused_reason(broker.port, "dev-a\x01", password, "dev-a") == "closed"
    # Usernames the CLI refuses to create cannot exist.
    for username in ("dev-a/x", "dev-a+", "#"):
        assert refused_reason(broker.port, username, password, username) == "Not authorized"


@pytest.mark.parametrize(
    "name",
    [
        "dev+1",
        "dev#",
        "dev/1",
        "+",
        "#",
        "dev\x00",
        "dev\n1",
        "dev\x1b[2J",
        "dev\x7f",
        "",
        "d" * 129,
    ],
)
def test_unsafe_names_are_refused_by_the_cli(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["devices", "provision", name],
        ["devices", "revoke", name],
        ["gateways", "provision", name],
        ["gateways", "provision", "gw-1", "--pair", name],
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        assert "cannot name an MQTT account" in capsys.readouterr().err
    with pytest.raises(ValueError, match="cannot name an MQTT account"):
        device_account(name)


def test_a_revoked_device_is_cut_off_at_once_without_a_broker_restart(
    broker: DynsecBroker,
) -> None:
    credentials = provision(broker, "devices", "dev-a")
    connected = session(broker, credentials)
    assert broker.process is not None
    pid = broker.process.pid
    revoked = broker.hub("devices", "revoke", "dev-a")
    assert revoked.returncode == 0, revoked.stderr
    assert connected.disconnected.wait(10), "the live connection was not closed"
    assert str(connected.disconnect_reason) == "Administrative action"
    connected.close()
    assert refused_reason(broker.port, "dev-a", credentials["password"]) == "Not authorized"
    assert broker.process.poll() is None and broker.process.pid == pid
    assert broker.hub("devices", "revoke", "dev-a").returncode == 1  # nothing left to revoke


@contextlib.contextmanager
def running_bridge(broker: DynsecBroker) -> Iterator[None]:
    """``hub bridge`` under the bootstrapped account ``bridge-t``, online, stopped at the end."""
    env = broker.hub_env()
    env.update(
        {
            "HUB_MQTT__USERNAME": "bridge-t",
            "HUB_MQTT__CLIENT_ID": "bridge-t",
            "HUB_MQTT__PASSWORD": broker.passwords["bridge-t"],
            "HUB_MQTT__BATCH_WINDOW_MS": "50",
            "HUB_MQTT__METRICS_PORT": str(free_port()),
        }
    )
    log = (broker.root / "bridge.log").open("ab")
    bridge = subprocess.Popen(
        [sys.executable, "-m", "hub", "bridge"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        watcher = Session(broker.port, "observer", broker.passwords["observer"]).open()
        try:
            assert watcher.subscribe("hs/v1/hub/bridges/bridge-t/status") == [True]
            online = (
                "hs/v1/hub/bridges/bridge-t/status",
                json.dumps({"status": "online"}).encode(),
            )
            wait_until(
                lambda: online in watcher.received or bridge.poll() is not None, "the bridge online"
            )
        finally:
            watcher.close()
        assert bridge.poll() is None, (broker.root / "bridge.log").read_text()
        yield
    finally:
        bridge.terminate()
        try:
            bridge.wait(timeout=30)
        except subprocess.TimeoutExpired:
            bridge.kill()
            bridge.wait(timeout=10)
        log.close()


def frames(device_id: str, seq: int) -> bytes:
    return json.dumps(
        {
            "gateway_time": "2026-11-28T10:00:05+01:00",
            "zone": "Europe/Paris",
            "device": {"id": device_id, "profile": BP_PROFILE},
            "frames": [
                {"seq": seq, "uuid": "2A35", "data": "1e7b0051006500ea070b1c0a00004000010400"}
            ],
        }
    ).encode()


def test_a_gateways_frames_for_a_device_not_paired_with_it_are_refused_by_the_hub(
    broker: DynsecBroker,
) -> None:
    for device in ("dev-a", "dev-b"):
        provision(broker, "devices", device, "--profile", BP_PROFILE, "--maker", "maker-1")
    gw = provision(
        broker,
        "gateways",
        "gw-1",
        "--owner",
        "maker-1",
        "--zone",
        "Europe/Paris",
        "--pair",
        "dev-a",
    )
    with running_bridge(broker):
        gateway = session(broker, gw)
        try:
            granted = gateway.subscribe("hs/v1/gateways/gw-1/acks", "hs/v1/gateways/gw-2/acks")
            assert granted == [True, False]
            gateway.publish("hs/v1/gateways/gw-1/frames", frames("dev-b", 1))  # not paired
            gateway.publish("hs/v1/gateways/gw-1/frames", frames("dev-a", 2))  # paired

            def acked() -> set[tuple[str, int]]:
                return {
                    (a["device_id"], seq)
                    for _, payload in gateway.received
                    for a in json.loads(payload)["acks"]
                    for seq in a["seqs"]
                }

            wait_until(lambda: acked() >= {("dev-a", 2), ("dev-b", 1)}, "both acks")
        finally:
            gateway.close()
    registry = Registry(f"sqlite:///{broker.root / 'var' / 'registry.sqlite3'}")
    try:
        refused = [
            d for d in registry.rejects.dead_letters() if d.topic == "hs/v1/gateways/gw-1/frames"
        ]
        assert [d.kind for d in refused] == ["not-paired"]
        assert "dev-b" in refused[0].reason
        assert registry.rejects.quarantined("dev-a") != []  # paired: through (no enrollment yet)
        assert registry.rejects.quarantined("dev-b") == []
    finally:
        registry.close()


def test_a_revoked_gateway_is_cut_off_in_the_broker_and_in_the_hub(broker: DynsecBroker) -> None:
    gw = provision(broker, "gateways", "gw-1", "--owner", "maker-1")
    connected = session(broker, gw)
    revoked = broker.hub("gateways", "revoke", "gw-1")
    assert revoked.returncode == 0, revoked.stderr
    assert "MQTT account deleted, revoked in the hub" in revoked.stdout
    assert connected.disconnected.wait(10)
    connected.close()
    assert refused_reason(broker.port, "gw-1", gw["password"]) == "Not authorized"
    again = broker.hub("gateways", "provision", "gw-1")  # a revoked gateway stays revoked
    assert again.returncode == 1
    assert "revoked in the hub" in again.stderr


def test_a_gateway_must_be_registered_and_its_devices_known_before_it_gets_an_account(
    broker: DynsecBroker,
) -> None:
    unknown = broker.hub("gateways", "provision", "gw-9")
    assert unknown.returncode == 1
    assert "not registered in the hub" in unknown.stderr
    unpaired = broker.hub("gateways", "provision", "gw-9", "--owner", "m", "--pair", "nobody")
    assert unpaired.returncode == 1
    assert "not registered in the hub: nobody" in unpaired.stderr
    with DynsecAdmin("127.0.0.1", broker.port, ADMIN, broker.passwords[ADMIN]) as admin:
        assert admin.client("gw-9") is None


def bootstrap(out: Path, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DYNSEC / "bootstrap.py"), "--out", str(out), "--admin", "a=PW"],
        env={"PW": password},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_bootstrap_wants_real_passwords_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "dynamic-security.json"
    weak = bootstrap(out, "short")
    assert weak.returncode == 2
    assert "at least 16 characters" in weak.stderr
    assert not out.exists()
    password = "a-long-enough-admin-pass"
    assert bootstrap(out, password).returncode == 0
    written = out.read_bytes()
    assert out.stat().st_mode & 0o777 == 0o600
    assert password.encode() not in written  # a PBKDF2 hash only
    again = bootstrap(out, "another-long-admin-pass")
    assert again.returncode == 0
    assert "left as it is" in again.stdout
    assert out.read_bytes() == written


def test_without_the_admin_password_nothing_is_changed(broker: DynsecBroker) -> None:
    env = broker.hub_env()
    del env["HUB_DYNSEC__PASSWORD"]
    done = subprocess.run(
        [sys.executable, "-m", "hub", "gateways", "provision", "gw-1", "--owner", "maker-1"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "set HUB_DYNSEC__PASSWORD" in done.stderr
    assert not (broker.root / "var" / "registry.sqlite3").exists()  # the hub was not touched
