"""A real Mosquitto running the shipped dynamic-security configuration, and MQTT clients.

``deploy/mosquitto/dynsec/mosquitto.conf`` runs as shipped — only the listeners' ports and
addresses and the file paths are the test's — with the plugin's file written by
``deploy/mosquitto/dynsec/bootstrap.py``, and server certificates from a test CA made here
with ``cryptography`` (keys stay in the test's temporary directory).
"""

from __future__ import annotations

import getpass
import glob
import ipaddress
import os
import re
import secrets
import ssl
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from hub.runtime.broker import mosquitto_binary
from hub.runtime.up import port_open
from tests.conftest import free_port, hub_environment
from tests.integration.conftest import wait_until

DYNSEC = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "dynsec"
ADMIN = "hub-admin"

# --- a test PKI -----------------------------------------------------------------------------


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class Authority:
    """A CA: its certificate on disk, its key in memory only."""

    name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    path: Path

    @classmethod
    def create(cls, name: str, path: Path) -> Authority:
        key = _key()
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(name, key, cert, path)

    def issue(self, common_name: str, directory: Path, *, server: bool) -> tuple[Path, Path]:
        """A leaf certificate and its key, as ``<common_name>.crt`` / ``.key`` files."""
        key = _key()
        now = datetime.now(UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        cert = builder.sign(self.key, hashes.SHA256())
        cert_path, key_path = directory / f"{common_name}.crt", directory / f"{common_name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        return cert_path, key_path


@dataclass
class Pki:
    """The files the shipped configuration names under /mosquitto/certs/: ca.crt (the server's
    CA), server.crt and server.key (CN and SAN localhost / 127.0.0.1), device-ca.crt."""

    directory: Path
    server_ca: Authority
    device_ca: Authority

    @classmethod
    def create(cls, directory: Path) -> Pki:
        directory.mkdir(parents=True, exist_ok=True)
        server_ca = Authority.create("hub test server CA", directory / "ca.crt")
        server_ca.issue("server", directory, server=True)
        device_ca = Authority.create("hub test device CA", directory / "device-ca.crt")
        return cls(directory, server_ca, device_ca)


# --- the broker -----------------------------------------------------------------------------


def dynsec_plugin() -> str:
    found = glob.glob("/usr/lib/*/mosquitto_dynamic_security.so") + glob.glob(
        "/usr/lib/mosquitto_dynamic_security.so"
    )
    if not found:
        pytest.fail("Mosquitto's dynamic-security plugin is missing: apt-get install mosquitto")
    return found[0]


def shipped_config(root: Path, port: int, tls_port: int) -> str:
    """deploy/mosquitto/dynsec/mosquitto.conf with the test's listeners and paths."""
    text = (DYNSEC / "mosquitto.conf").read_text()
    text = re.sub(r"(?m)^listener 1883$", f"listener {port} 127.0.0.1", text)
    text = re.sub(r"(?m)^listener 8883$", f"listener {tls_port} 127.0.0.1", text)
    text = text.replace("/usr/lib/mosquitto_dynamic_security.so", dynsec_plugin())
    text = text.replace("/mosquitto/certs/", f"{root / 'certs'}/")
    text = text.replace("/mosquitto/data/", f"{root / 'data'}/")
    text = text.replace("/mosquitto/config/conf.d", str(root / "conf.d"))
    return text + f"\nuser {getpass.getuser()}\n"


def enable_mtls(root: Path, port: int) -> None:
    """conf.d/mtls.conf.example enabled as the operator would (copied to mtls.conf)."""
    text = (DYNSEC / "conf.d" / "mtls.conf.example").read_text()
    text = re.sub(r"(?m)^listener 8884$", f"listener {port} 127.0.0.1", text)
    (root / "conf.d" / "mtls.conf").write_text(
        text.replace("/mosquitto/certs/", f"{root / 'certs'}/")
    )


@dataclass
class DynsecBroker:
    root: Path
    port: int
    tls_port: int
    passwords: dict[str, str]
    pki: Pki
    process: subprocess.Popen[bytes] | None = None
    mtls_port: int | None = None

    def start(self) -> None:
        config = self.root / "mosquitto.conf"
        config.write_text(shipped_config(self.root, self.port, self.tls_port))
        log = (self.root / "mosquitto.log").open("ab")
        binary = mosquitto_binary()
        assert binary is not None
        self.process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=log)
        ports = [self.port, self.tls_port] + ([self.mtls_port] if self.mtls_port else [])
        try:
            wait_until(lambda: all(port_open("127.0.0.1", p) for p in ports), "mosquitto", 15)
        except AssertionError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def hub_env(self) -> dict[str, str]:
        """The environment of ``hub`` subprocesses: this broker, its admin, a data dir."""
        return hub_environment(
            {
                "HUB_DATA_DIR": str(self.root / "var"),
                "HUB_MQTT__HOST": "127.0.0.1",
                "HUB_MQTT__PORT": str(self.port),
                "HUB_DYNSEC__PASSWORD": self.passwords[ADMIN],
            }
        )

    def hub(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``hub ARGS...`` (the CLI, as an operator would) against this broker."""
        return subprocess.run(
            [sys.executable, "-m", "hub", *args],
            env=self.hub_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def start_dynsec_broker(
    root: Path, bridges: tuple[str, ...], *, mtls: bool = False
) -> DynsecBroker:
    """Bootstrap the plugin's file (admin + ``bridges``), then start the broker."""
    if mosquitto_binary() is None:
        pytest.fail("mosquitto is not installed: apt-get install mosquitto")
    (root / "data").mkdir(parents=True)
    (root / "conf.d").mkdir()
    passwords = {name: secrets.token_urlsafe(24) for name in (ADMIN, *bridges)}
    env = {**os.environ, **{f"PW_{i}": pw for i, pw in enumerate(passwords.values())}}
    specs = [f"{name}=PW_{i}" for i, name in enumerate(passwords)]
    bridge_args = [arg for spec in specs[1:] for arg in ("--bridge", spec)]
    subprocess.run(
        [
            sys.executable,
            str(DYNSEC / "bootstrap.py"),
            "--out",
            str(root / "data" / "dynamic-security.json"),
            "--admin",
            specs[0],
            *bridge_args,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    broker = DynsecBroker(root, free_port(), free_port(), passwords, Pki.create(root / "certs"))
    if mtls:
        broker.mtls_port = free_port()
        enable_mtls(root, broker.mtls_port)
    broker.start()
    return broker


# --- MQTT clients ---------------------------------------------------------------------------


@dataclass
class Session:
    """One MQTT 5 connection, recording its CONNACK, what it receives and its disconnection."""

    port: int
    username: str
    password: str
    client_id: str | None = None
    tls: ssl.SSLContext | None = None
    received: list[tuple[str, bytes]] = field(default_factory=list)
    connack: ReasonCode | None = None
    disconnect_reason: ReasonCode | None = None

    def __post_init__(self) -> None:
        self._answered = threading.Event()
        self._suback: list[ReasonCode] = []
        self._subscribed = threading.Event()
        self.disconnected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id or self.username,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,  # a refused or cut-off client stays so
        )
        self.client.username_pw_set(self.username, self.password)
        if self.tls is not None:
            self.client.tls_set_context(self.tls)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, bytes(m.payload)))

    def _on_connect(self, *args: object) -> None:
        reason = args[3]
        assert isinstance(reason, ReasonCode)
        self.connack = reason
        self._answered.set()

    def _on_subscribe(self, *args: object) -> None:
        reasons = args[3]
        assert isinstance(reasons, list)
        self._suback = reasons
        self._subscribed.set()

    def _on_disconnect(self, *args: object) -> None:
        reason = args[3]
        assert isinstance(reason, ReasonCode)
        self.disconnect_reason = reason
        self.disconnected.set()

    def open(self) -> Session:
        """Connect; wait for the CONNACK, or for the broker closing the connection."""
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        wait_until(lambda: self._answered.is_set() or self.disconnected.is_set(), "a CONNACK")
        return self

    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def subscribe(self, *topics: str) -> list[bool]:
        """Subscribe; for each topic, whether the broker granted it."""
        self._subscribed.clear()
        self.client.subscribe([(t, 1) for t in topics])
        assert self._subscribed.wait(10), "no SUBACK"
        return [not r.is_failure for r in self._suback]

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def refused_reason(port: int, username: str, password: str, client_id: str | None = None) -> str:
    """Connect once: the CONNACK's refusal reason, "closed" if the broker closed the
    connection without one, "" if it accepted."""
    session = Session(port, username, password, client_id).open()
    session.close()
    if session.connack is None:
        return "closed"
    return str(session.connack) if session.connack.is_failure else ""
