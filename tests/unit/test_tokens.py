"""Token verification against an issuer's JWKS (production) served over real HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from hub.adapters.tokens import Role, TokenError, TokenVerifier
from hub.config import AuthSettings

NOW = datetime.now(UTC)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    body = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


def token(key: Any, **claims: Any) -> str:
    base = {
        "iss": "https://idp.example",
        "aud": "health-device-hub",
        "sub": "pat-1",
        "role": "patient",
        "exp": int((NOW + timedelta(hours=1)).timestamp()),
    }
    return jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": "k1"})


def verifier(url: str) -> TokenVerifier:
    return TokenVerifier(
        AuthSettings(issuer="https://idp.example", jwks_url=url, algorithms=["RS256"])
    )


def test_a_token_signed_by_the_issuer_verifies(jwks_url: str) -> None:
    principal = verifier(jwks_url).verify(token(KEY))
    assert (principal.subject, principal.role) == ("pat-1", Role.PATIENT)


@pytest.mark.parametrize(
    ("key", "claims", "message"),
    [
        (OTHER_KEY, {}, "invalid token"),
        (KEY, {"iss": "https://evil.example"}, "issuer"),
        (KEY, {"aud": "another-api"}, "audience"),
        (KEY, {"exp": int((NOW - timedelta(minutes=5)).timestamp())}, "expired"),
        (KEY, {"role": "superuser"}, "unknown role"),
    ],
)
def test_bad_tokens_are_refused_with_the_reason(
    jwks_url: str, key: Any, claims: dict[str, Any], message: str
) -> None:
    with pytest.raises(TokenError, match=message):
        verifier(jwks_url).verify(token(key, **claims))


def test_hs256_development_tokens_are_refused_by_a_jwks_verifier(jwks_url: str) -> None:
    forged = jwt.encode(
        {
            "iss": "https://idp.example",
            "aud": "health-device-hub",
            "sub": "pat-1",
            "role": "admin",
            "exp": int((NOW + timedelta(hours=1)).timestamp()),
        },
        "guessable-secret-" + "x" * 20,
        algorithm="HS256",
    )
    with pytest.raises(TokenError):
        verifier(jwks_url).verify(forged)
