"""Bearer API keys, users' access tokens, roles and per-caller rate limits (the Robot API's
authentication, access control and rate limits).

While no key and no user exists the bridge listens on loopback only (``settings.check_bind``)
and serves anonymous callers, as admins, under one shared limit; once either exists every
request needs an API key or an access token (``POST /v1/auth/login``, ``/oauth/token``), and
the caller's role (``bridge.roles``) must reach the route's.
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
from embodied_ai.bridge.keys import KEY_PREFIX, ApiKeyStore
from embodied_ai.bridge.roles import Role, parse_role, require_role, route_role
from embodied_ai.bridge.tokens import TokenSigner
from embodied_ai.bridge.users import UserStore

RATE_LIMIT_HEADERS_STATE = "rate_limit_headers"  # request.state key read by RateLimitHeaders


_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key, a user (``subject`` "user:NAME"), or the anonymous loopback
    operator (``key_id`` None, admin)."""

    key_id: int | None
    name: str
    rate_limit: str  # "" = unlimited
    role: Role = Role.ADMIN
    subject: str = ""  # whose rate limit counts: "" = the key's id, or "anonymous"

    @property
    def identity(self) -> str:
        return self.subject or (str(self.key_id) if self.key_id is not None else "anonymous")


class Security:
    def __init__(self, keys: ApiKeyStore, anonymous_rate_limit: str, users: UserStore | None = None,
                 tokens: TokenSigner | None = None) -> None:
        self.keys = keys
        self.users = users or UserStore.in_state_dir(keys.path.parent)
        self.tokens = tokens or TokenSigner(keys.path.parent)
        self.anonymous = Principal(None, "anonymous", anonymous_rate_limit)
        self.user_rate_limit = anonymous_rate_limit  # per user: users have no tier
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._parsed: dict[str, RateLimitItem] = {}

    def credentials_configured(self) -> bool:
        """Whether an active key or a user exists: then every caller must authenticate."""
        return self.keys.has_active_keys() or self.users.has_users()

    def authenticate(self, token: str | None) -> Principal:
        if not self.credentials_configured():
            # Keyless (and so loopback-only): any token is ignored, so clients that insist on
            # sending one (the openai package does) work unchanged.
            return self.anonymous
        if not token:
            raise ApiError(401, "An API key or access token is required: send 'Authorization: Bearer <key or "
                                "token>' (POST /v1/auth/login gives a token)", headers=_UNAUTHORIZED)
        if token.startswith(KEY_PREFIX):
            key = self.keys.authenticate(token)
            if key is None:
                raise ApiError(401, "Invalid or revoked API key", headers=_UNAUTHORIZED)
            return Principal(key.id, key.name, key.rate_limit, parse_role(key.role))
        return self.principal_of_token(token)

    def principal_of_token(self, token: str) -> Principal:
        """The caller an access token names, with the role its user or key has now."""
        claims = self.tokens.verify(token)
        kind, _, name = claims.subject.partition(":")
        if kind == "user":
            user = self.users.get(name)
            if user is not None:
                return Principal(None, user.username, self.user_rate_limit, user.role, claims.subject)
        elif kind == "key" and name.isdigit():
            key = self.keys.active(int(name))
            if key is not None:
                return Principal(key.id, key.name, key.rate_limit, parse_role(key.role))
        raise ApiError(401, "The access token's user or key no longer exists or was revoked", headers=_UNAUTHORIZED)

    def consume(self, principal: Principal) -> dict[str, str]:
        """Count one request; returns the X-RateLimit-* headers, raises 429 past the limit."""
        if not principal.rate_limit:
            return {}
        item = self._parsed.get(principal.rate_limit) or self._parsed.setdefault(
            principal.rate_limit, parse(principal.rate_limit))
        identity = principal.identity
        allowed = self._limiter.hit(item, identity)
        reset_at, remaining = self._limiter.get_window_stats(item, identity)
        headers = {"X-RateLimit-Limit": str(item.amount), "X-RateLimit-Remaining": str(max(0, remaining)),
                   "X-RateLimit-Reset": str(int(reset_at))}
        if not allowed:
            retry_after = max(1, int(reset_at - time.time() + 0.999))
            raise ApiError(429, "Rate limit exceeded", headers={**headers, "Retry-After": str(retry_after)},
                           retry_after_seconds=retry_after)
        return headers


bearer = HTTPBearer(auto_error=False, description="an API key from `embodied keys create`, or an access token "
                                                   "from POST /v1/auth/login or /oauth/token")


async def authorize(request: Request,
                    credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    """The dependency every /v1 route takes: authenticate, count against the caller's limit, then
    check the caller's role against the route's (``roles.ROUTE_ROLES``: the one place it is said)."""
    security: Security = request.app.state.security
    principal = security.authenticate(credentials.credentials if credentials else None)
    headers = security.consume(principal)
    setattr(request.state, RATE_LIMIT_HEADERS_STATE, headers)
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path
    require_role(principal.role, route_role(request.method, path), f"{request.method} {path}")
    return principal
