"""Bearer API keys and per-key rate limits (the Robot API's authentication and rate limits).

While no key exists the bridge listens on loopback only (``settings.check_bind``) and serves
anonymous callers under one shared limit; once a key exists every request needs one.
Limits use the `limits` library's moving window in memory: per bridge process, reset on restart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from embodied_ai.bridge.errors import ApiError
from embodied_ai.bridge.keys import ApiKeyStore

RATE_LIMIT_HEADERS_STATE = "rate_limit_headers"  # request.state key read by RateLimitHeaders


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key, or the anonymous loopback operator (``key_id`` None)."""

    key_id: int | None
    name: str
    rate_limit: str  # "" = unlimited


class Security:
    def __init__(self, keys: ApiKeyStore, anonymous_rate_limit: str) -> None:
        self.keys = keys
        self.anonymous = Principal(None, "anonymous", anonymous_rate_limit)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._parsed: dict[str, RateLimitItem] = {}

    def authenticate(self, token: str | None) -> Principal:
        if not self.keys.has_active_keys():
            # Keyless (and so loopback-only): any token is ignored, so clients that insist on
            # sending one (the openai package does) work unchanged.
            return self.anonymous
        if not token:
            raise ApiError(401, "An API key is required: send 'Authorization: Bearer <key>'",
                           headers={"WWW-Authenticate": "Bearer"})
        key = self.keys.authenticate(token)
        if key is None:
            raise ApiError(401, "Invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
        return Principal(key.id, key.name, key.rate_limit)

    def consume(self, principal: Principal) -> dict[str, str]:
        """Count one request; returns the X-RateLimit-* headers, raises 429 past the limit."""
        if not principal.rate_limit:
            return {}
        item = self._parsed.get(principal.rate_limit) or self._parsed.setdefault(
            principal.rate_limit, parse(principal.rate_limit))
        identity = str(principal.key_id) if principal.key_id is not None else "anonymous"
        allowed = self._limiter.hit(item, identity)
        reset_at, remaining = self._limiter.get_window_stats(item, identity)
        headers = {"X-RateLimit-Limit": str(item.amount), "X-RateLimit-Remaining": str(max(0, remaining)),
                   "X-RateLimit-Reset": str(int(reset_at))}
        if not allowed:
            retry_after = max(1, int(reset_at - time.time() + 0.999))
            raise ApiError(429, "Rate limit exceeded", headers={**headers, "Retry-After": str(retry_after)},
                           retry_after_seconds=retry_after)
        return headers


bearer = HTTPBearer(auto_error=False, description="an API key from `embodied keys create`")


async def authorize(request: Request,
                    credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    """The dependency every /v1 route takes: authenticate, then count against the key's limit."""
    security: Security = request.app.state.security
    principal = security.authenticate(credentials.credentials if credentials else None)
    headers = security.consume(principal)
    setattr(request.state, RATE_LIMIT_HEADERS_STATE, headers)
    return principal
