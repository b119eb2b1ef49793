"""Access control API: log in (seed 002's /auth/login), refresh, log out, and seed 000's OAuth 2.0
client-credentials grant (an API key for an access token of its role).

These routes take no credentials (they are how a caller gets them); failed attempts are
throttled per name and per client address (``bridge.logins``).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from embodied_ai.bridge.errors import ApiError, error_responses
from embodied_ai.bridge.logins import Accounts
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.auth import (
    AccessToken,
    LoggedOut,
    LoginRequest,
    OAuthToken,
    RefreshRequest,
    access_token,
)
from embodied_ai.bridge.schemas.common import Envelope, ok

router = APIRouter(prefix=f"{deps.API_PREFIX}/auth", tags=["auth"], responses=error_responses(400, 401, 429))
oauth = APIRouter(tags=["auth"], responses=error_responses(400, 401, 429))


def accounts(request: Request) -> Accounts:
    return request.app.state.accounts


AccountsDep = Annotated[Accounts, Depends(accounts)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login", summary="Exchange a username and password for an access token and a refresh token")
async def login(body: LoginRequest, request: Request, service: AccountsDep) -> Envelope[AccessToken]:
    # argon2id takes tens of milliseconds and 64 MiB by design: off the event loop.
    issued = await run_in_threadpool(service.login, body.username, body.password, client_address(request))
    return ok(access_token(issued))


@router.post("/refresh", summary="Spend a refresh token for a new access token and a new refresh token")
async def refresh(body: RefreshRequest, service: AccountsDep) -> Envelope[AccessToken]:
    return ok(access_token(service.refresh(body.refresh_token)))


@router.post("/logout", summary="Revoke a refresh token (access tokens end at their expiry)")
async def logout(body: RefreshRequest, service: AccountsDep) -> Envelope[LoggedOut]:
    return ok(LoggedOut(revoked=service.logout(body.refresh_token)))


async def token_request_fields(request: Request) -> dict[str, str]:
    """The grant's fields from a form (OAuth 2.0's encoding) or a JSON object, plus HTTP Basic client auth."""
    if request.headers.get("content-type", "").split(";")[0].strip() == "application/json":
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise ApiError(400, "Bad request", "the body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Bad request", "the body must be a JSON object")
        fields = {name: str(value) for name, value in body.items() if isinstance(value, str | int)}
    else:
        form = await request.form()
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            client_id, _, client_secret = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(400, "Bad request", "the Basic authorization header is not base64 'id:secret'") from None
        fields.setdefault("client_id", client_id)
        fields.setdefault("client_secret", client_secret)
    return fields


_GRANT = {"type": "object", "required": ["grant_type"], "properties": {
    "grant_type": {"type": "string", "enum": ["client_credentials"]},
    "client_id": {"type": "string", "description": "the API key's id or name"},
    "client_secret": {"type": "string", "description": "the API key"}}}
_GRANT_BODY = {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": _GRANT},
                                                             "application/json": {"schema": _GRANT}}}}


@oauth.post("/oauth/token", summary="OAuth 2.0 client credentials: an API key for an access token of its role",
            openapi_extra=_GRANT_BODY)
@oauth.post(f"{deps.API_PREFIX}/oauth/token", include_in_schema=False)
async def oauth_token(request: Request, service: AccountsDep) -> OAuthToken:
    fields = await token_request_fields(request)
    problems = [f"{name}: required" for name in ("grant_type", "client_id", "client_secret") if not fields.get(name)]
    if fields.get("grant_type") and fields["grant_type"] != "client_credentials":
        problems.append(f"grant_type: '{fields['grant_type']}' is not supported; use client_credentials")
    if problems:
        raise ApiError(400, "Bad request", {"problems": problems})
    issued = service.client_credentials(fields["client_id"], fields["client_secret"], client_address(request))
    return OAuthToken(success=True, data=access_token(issued), access_token=issued.access_token,
                      expires_in=issued.expires_in)
