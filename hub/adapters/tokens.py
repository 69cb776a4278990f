"""OAuth2 bearer tokens (JWT, RFC 7519 / RFC 9068 access-token claims) and their principals.

Production verifies tokens signed by the configured issuer, keys fetched from its JWKS
(``auth.jwks_url``). Development and tests use HS256 tokens minted by ``hub token``.
Verification always checks signature, ``exp``, ``iss`` and ``aud``; the role is a claim.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from hub.config import AuthSettings


class Role(enum.StrEnum):
    PATIENT = "patient"
    PRACTITIONER = "practitioner"
    DEVICE_MAKER = "device_maker"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str  # for a patient: their pseudonymous patient id
    role: Role


class TokenError(Exception):
    """A token that cannot be trusted; the message says why (expired, wrong issuer...)."""


def mint_token(
    settings: AuthSettings,
    *,
    subject: str,
    role: Role,
    now: datetime,
    ttl: timedelta = timedelta(hours=12),
) -> str:
    """A development token signed with the shared secret (HS256)."""
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": subject,
        "role": role.value,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, settings.secret, algorithm="HS256")


class TokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url) if settings.jwks_url else None

    def verify(self, token: str) -> Principal:
        try:
            key: str | jwt.PyJWK = self.settings.secret
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=self.settings.algorithms,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as err:
            raise TokenError("token expired") from err
        except jwt.InvalidIssuerError as err:
            raise TokenError("token issuer is not trusted") from err
        except jwt.InvalidAudienceError as err:
            raise TokenError("token audience is not this hub") from err
        except jwt.PyJWTError as err:
            raise TokenError(f"invalid token: {err}") from err
        try:
            role = Role(str(claims.get("role")))
        except ValueError as err:
            raise TokenError(f"unknown role {claims.get('role')!r}") from err
        return Principal(subject=str(claims["sub"]), role=role)
