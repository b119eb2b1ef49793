"""Logins: a user's password or an API key (OAuth 2.0 client credentials) exchanged for an access
token, refresh-token rotation, logout, and the throttle on failed attempts.

A wrong password and an unknown user get the same answer, so the API does not say which names
exist. After ``MAX_FAILURES`` failures for one name or from one client address within
``FAILURE_WINDOW`` every attempt for it is refused with 429 and ``Retry-After`` until the oldest
failure leaves the window (in memory, per bridge process, as the rate limits).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from embodied_ai.bridge.errors import ApiError
from embodied_ai.bridge.keys import ApiKey
from embodied_ai.bridge.security import Security
from embodied_ai.bridge.users import User

log = logging.getLogger(__name__)

MAX_FAILURES = 10
FAILURE_WINDOW = "15 minutes"
REFRESH_LIFETIME = timedelta(days=30)
_INVALID = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int  # seconds
    role: str
    username: str | None = None  # a user's login; None for a key's token
    refresh_token: str | None = None  # users only: a key holder asks again with the key


class LoginThrottle:
    """Counts failed logins per name and per client address; refuses both past the limit."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: str = FAILURE_WINDOW) -> None:
        self._item = parse(f"{max_failures} per {window}")
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, name: str, client: str) -> None:
        """429 with Retry-After while the name or the address is over its failures."""
        blocked = [who for who in (f"name:{name}", f"client:{client}") if not self._limiter.test(self._item, who)]
        if not blocked:
            return
        reset_at = max(self._limiter.get_window_stats(self._item, who).reset_time for who in blocked)
        retry_after = max(1, int(reset_at - time.time() + 0.999))
        log.warning("login refused for %r from %s: %d failures within %s", name, client, self._item.amount,
                    FAILURE_WINDOW)
        raise ApiError(429, "Too many failed logins: try again later", headers={"Retry-After": str(retry_after)},
                       retry_after_seconds=retry_after)

    def failed(self, name: str, client: str) -> None:
        log.warning("failed login for %r from %s", name, client)  # never the password
        self._limiter.hit(self._item, f"name:{name}")
        self._limiter.hit(self._item, f"client:{client}")

    def succeeded(self, name: str) -> None:
        self._limiter.clear(self._item, f"name:{name}")


class Accounts:
    """What the /v1/auth and /oauth/token routes do, over the app's Security."""

    def __init__(self, security: Security, throttle: LoginThrottle | None = None,
                 refresh_lifetime: timedelta = REFRESH_LIFETIME) -> None:
        self.security = security
        self.throttle = throttle or LoginThrottle()
        self.refresh_lifetime = refresh_lifetime

    def _user_tokens(self, user: User, refresh_token: str) -> IssuedTokens:
        tokens = self.security.tokens
        access = tokens.issue(f"user:{user.username}", user.role.label)
        return IssuedTokens(access, tokens.access_ttl_s, user.role.label, user.username, refresh_token)

    def login(self, username: str, password: str, client: str) -> IssuedTokens:
        self.throttle.check(username, client)
        user = self.security.users.verify(username, password)
        if user is None:
            self.throttle.failed(username, client)
            raise ApiError(401, "Invalid credentials", headers=_INVALID)
        self.throttle.succeeded(username)
        log.info("user %r logged in from %s", user.username, client)
        return self._user_tokens(user, self.security.users.issue_refresh(user.username, self.refresh_lifetime))

    def refresh(self, refresh_token: str) -> IssuedTokens:
        rotated = self.security.users.rotate_refresh(refresh_token, self.refresh_lifetime)
        if rotated is None:
            raise ApiError(401, "Invalid, expired, used or revoked refresh token: log in again", headers=_INVALID)
        return self._user_tokens(*rotated)

    def logout(self, refresh_token: str) -> bool:
        return self.security.users.revoke_refresh(refresh_token)

    def client_credentials(self, client_id: str, client_secret: str, client: str) -> IssuedTokens:
        """An API key (its id or name as ``client_id``, the key as ``client_secret``) for a token of its role."""
        self.throttle.check(f"client_id:{client_id}", client)
        key: ApiKey | None = self.security.keys.authenticate(client_secret) if client_secret else None
        if key is None or client_id not in (str(key.id), key.name):
            self.throttle.failed(f"client_id:{client_id}", client)
            raise ApiError(401, "Invalid client credentials", headers=_INVALID)
        tokens = self.security.tokens
        return IssuedTokens(tokens.issue(f"key:{key.id}", key.role), tokens.access_ttl_s, key.role)
