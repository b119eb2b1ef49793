"""Access control's bodies: seed 002's login answer, refresh and logout, and OAuth 2.0's token answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from embodied_ai.bridge.logins import IssuedTokens
from embodied_ai.bridge.schemas.common import Envelope, Strict
from embodied_ai.bridge.users import MAX_PASSWORD


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class RefreshRequest(Strict):
    refresh_token: str = Field(min_length=1, max_length=256)


class UserInfo(BaseModel):
    username: str
    role: str = Field(examples=["operator"], description="viewer, operator or admin")


class AccessToken(BaseModel):
    """Seed 002's login answer; ``refresh_token`` and ``user`` only for a user's login."""

    access_token: str = Field(description="a JWT (HS256): send it as 'Authorization: Bearer <access_token>'")
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(examples=[3600], description="seconds the access token is valid")
    refresh_token: str | None = Field(default=None, description="spend it once at POST /v1/auth/refresh")
    role: str
    user: UserInfo | None = None


class LoggedOut(BaseModel):
    revoked: bool = Field(description="whether a live refresh token was revoked")


class OAuthToken(Envelope[AccessToken]):
    """The envelope with OAuth 2.0's fields (RFC 6749 section 5.1) beside it, for OAuth clients."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


def access_token(issued: IssuedTokens) -> AccessToken:
    user = UserInfo(username=issued.username, role=issued.role) if issued.username is not None else None
    return AccessToken(access_token=issued.access_token, expires_in=issued.expires_in,
                       refresh_token=issued.refresh_token, role=issued.role, user=user)
