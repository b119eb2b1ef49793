"""The bridge's access tokens: JWTs signed with HS256 by a secret only this bridge holds.

The secret is 256 random bits made once into ``<state>/jwt_secret`` (mode 0600); deleting the
file and restarting the bridge invalidates every token. A token names its subject
(``user:NAME`` or ``key:ID``) and the role it was issued for; the bridge still looks the subject
up on every request, so a deleted user or a revoked key loses access at once.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from embodied_ai.bridge.errors import ApiError

ISSUER = "embodied-bridge"
ALGORITHM = "HS256"
SECRET_FILE = "jwt_secret"
DEFAULT_ACCESS_TTL_S = 3600
_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class AccessClaims:
    subject: str  # "user:NAME" or "key:ID"
    role: str
    expires_at: int  # Unix time


def load_or_create_secret(state_dir: Path) -> bytes:
    """The signing secret, made on first use; O_EXCL keeps two processes from making two."""
    path = state_dir / SECRET_FILE
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) < 32:
            raise RuntimeError(f"{path} holds under 32 bytes: delete it to make a new secret") from None
        return secret
    with os.fdopen(descriptor, "wb") as file:
        file.write(secrets.token_bytes(32))
    return path.read_bytes()


class TokenSigner:
    def __init__(self, state_dir: Path, access_ttl_s: int = DEFAULT_ACCESS_TTL_S) -> None:
        self.state_dir = state_dir
        self.access_ttl_s = access_ttl_s
        self._secret: bytes | None = None

    @property
    def secret(self) -> bytes:
        if self._secret is None:  # made on first use: a bridge nobody logs in to writes no secret
            self._secret = load_or_create_secret(self.state_dir)
        return self._secret

    def issue(self, subject: str, role: str, ttl_s: int | None = None) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": subject, "role": role, "iat": now,
                  "exp": now + (self.access_ttl_s if ttl_s is None else ttl_s), "jti": secrets.token_hex(8)}
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> AccessClaims:
        """The token's claims; 401 saying why for an expired, tampered or foreign token."""
        try:
            claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM], issuer=ISSUER,
                                options={"require": ["exp", "iat", "sub", "iss"]})
        except jwt.ExpiredSignatureError:
            raise ApiError(401, "Access token expired: refresh it (POST /v1/auth/refresh) or log in again",
                           headers=_UNAUTHORIZED) from None
        except jwt.InvalidTokenError:
            raise ApiError(401, "Invalid access token: not signed by this bridge, altered or malformed",
                           headers=_UNAUTHORIZED) from None
        return AccessClaims(str(claims["sub"]), str(claims.get("role", "")), int(claims["exp"]))
