"""TLS on the shipped broker configuration and on ``hub api``: real handshakes, a test CA.

The broker runs deploy/mosquitto/dynsec/mosquitto.conf (its TLS listener) and, enabled as an
operator would, conf.d/mtls.conf.example (mutual TLS); ``hub api`` runs with the
``api.tls_*`` settings. The certificates come from test CAs made with ``cryptography``.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.adapters.dynsec import DynsecAdmin, device_account
from tests.conftest import free_port
from tests.integration.conftest import wait_until
from tests.integration.dynsec_broker import (
    ADMIN,
    Authority,
    DynsecBroker,
    Session,
    start_dynsec_broker,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DynsecBroker]:
    broker = start_dynsec_broker(tmp_path, ("observer",), mtls=True)
    yield broker
    broker.stop()


def trusting(ca: Path | None, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    """A client context: verifies the server with ``ca`` (None: the system's CAs)."""
    context = ssl.create_default_context(cafile=None if ca is None else str(ca))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


def outcome(port: int, user: str, password: str, tls: ssl.SSLContext | None) -> str:
    """ "accepted", the CONNACK's refusal, "closed" (no CONNACK) or "tls: <the error>"."""
    session = Session(port, user, password, tls=tls)
    try:
        session.open()
    except ssl.SSLError as err:
        return f"tls: {err.reason}"
    except OSError as err:  # the server closed the connection during the handshake
        return f"tls: {err}"
    finally:
        session.close()
    if session.connack is None:
        return "closed"
    return "accepted" if session.accepted else str(session.connack)


def test_the_tls_listener_accepts_a_client_with_the_test_ca_and_refuses_one_without(
    broker: DynsecBroker,
) -> None:
    ca = broker.pki.directory / "ca.crt"
    password = broker.passwords["observer"]
    assert outcome(broker.tls_port, "observer", password, trusting(ca)) == "accepted"
    # Without the CA, the client cannot verify the broker: no connection.
    assert outcome(broker.tls_port, "observer", password, trusting(None)) == (
        "tls: CERTIFICATE_VERIFY_FAILED"
    )
    # Another CA's certificate is no better.
    other = Authority.create("some other CA", broker.root / "other-ca.crt")
    assert outcome(broker.tls_port, "observer", password, trusting(other.path)) == (
        "tls: CERTIFICATE_VERIFY_FAILED"
    )
    # Plain MQTT on the TLS port gets no CONNACK.
    assert outcome(broker.tls_port, "observer", password, None) == "closed"
    # TLS does not replace the account: a wrong password is still refused.
    assert outcome(broker.tls_port, "observer", "x" * 20, trusting(ca)) == ("Not authorized")


def test_mutual_tls_wants_a_device_certificate_and_the_accounts_password(
    broker: DynsecBroker,
) -> None:
    assert broker.mtls_port is not None
    ca = broker.pki.directory / "ca.crt"
    with DynsecAdmin("127.0.0.1", broker.port, ADMIN, broker.passwords[ADMIN]) as admin:
        password = admin.provision(device_account("dev-a")).password
    device_cert = broker.pki.device_ca.issue("dev-a", broker.root, server=False)
    # Signed by the server CA, not the device CA: not a device certificate.
    foreign_cert = broker.pki.server_ca.issue("dev-x", broker.root, server=False)
    port = broker.mtls_port

    assert outcome(port, "dev-a", password, trusting(ca, device_cert)) == "accepted"
    # No certificate, or another CA's: the handshake fails (TLS 1.2), or the broker closes
    # the connection right after it (TLS 1.3, where the client finishes first): no CONNACK.
    for cert in (None, foreign_cert):
        refused = outcome(port, "dev-a", password, trusting(ca, cert))
        assert refused == "closed" or refused.startswith("tls: "), refused
    # The certificate alone is not enough: the plugin still checks the password...
    assert outcome(port, "dev-a", "y" * 20, trusting(ca, device_cert)) == ("Not authorized")
    # ... and a revoked account is refused at once, certificate or not.
    with DynsecAdmin("127.0.0.1", broker.port, ADMIN, broker.passwords[ADMIN]) as admin:
        assert admin.revoke(device_account("dev-a"))
    assert outcome(port, "dev-a", password, trusting(ca, device_cert)) == "Not authorized"


def test_the_api_serves_https_with_the_configured_certificate_and_logs_json(
    broker: DynsecBroker,
) -> None:
    certs = broker.pki.directory
    port = free_port()
    env = broker.hub_env()
    env.update(
        {
            "HUB_API__PORT": str(port),
            "HUB_API__TLS_CERTFILE": str(certs / "server.crt"),
            "HUB_API__TLS_KEYFILE": str(certs / "server.key"),
            "HUB_LOG_FORMAT": "json",
        }
    )
    log = (broker.root / "api.log").open("ab")
    api = subprocess.Popen(
        [sys.executable, "-m", "hub", "api"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"https://127.0.0.1:{port}/healthz"
    try:

        def answers() -> bool:
            try:
                return httpx.get(url, verify=trusting(certs / "ca.crt")).status_code == 200
            except httpx.TransportError:
                return api.poll() is not None

        wait_until(answers, "hub api over HTTPS")
        assert api.poll() is None, (broker.root / "api.log").read_text()
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url, verify=trusting(None))
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"http://127.0.0.1:{port}/healthz")  # plain HTTP on the HTTPS port
    finally:
        api.terminate()
        api.wait(timeout=30)
    # Its logs, uvicorn's included, are JSON lines (HUB_LOG_FORMAT=json).
    entries = [json.loads(line) for line in (broker.root / "api.log").read_text().splitlines()]
    assert any(e["logger"].startswith("uvicorn") for e in entries)
