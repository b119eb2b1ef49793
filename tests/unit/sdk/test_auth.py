"""The SDK's auth resource against the real bridge served on loopback: a login stores the access
token on the client, refresh rotates it, logout revokes; the client-credentials grant with a key."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied_ai import Client
from embodied_ai.bridge.keys import ApiKeyStore
from embodied_ai.bridge.users import UserStore
from embodied_ai.sdk import ApiError
from tests.unit.bridge.served import served_bridge

PASSWORD = "correct horse battery"


def test_login_refresh_and_logout(tmp_path: Path) -> None:
    state = tmp_path / "state"
    UserStore.in_state_dir(state).create("vera", PASSWORD, "viewer")
    with served_bridge(state) as url, Client(base_url=url, max_retries=0) as client:
        with pytest.raises(ApiError) as anonymous:
            client.hardware.sensors()
        assert anonymous.value.status == 401
        token = client.auth.login("vera", PASSWORD)
        assert token.user is not None and token.user.role == "viewer" and client.auth.refresh_token
        assert client.hardware.sensors().backend == "sim"
        with pytest.raises(ApiError) as refused:
            client.hardware.move("elbow_pitch_r", 10.0)
        assert refused.value.status == 403
        first_refresh = client.auth.refresh_token
        renewed = client.auth.refresh()
        assert renewed.refresh_token != first_refresh and client.hardware.sensors().backend == "sim"
        assert client.auth.logout().revoked
        with pytest.raises(ApiError):
            client.auth.refresh(renewed.refresh_token)


def test_client_credentials_with_an_api_key(tmp_path: Path) -> None:
    state = tmp_path / "state"
    key, secret = ApiKeyStore.in_state_dir(state).create("arm", "", role="operator")
    with served_bridge(state) as url, Client(base_url=url, max_retries=0) as client:
        token = client.auth.client_credentials(key.id, secret)
        assert token.role == "operator" and token.refresh_token is None
        assert client.hardware.move("elbow_pitch_r", 10.0).target == 10.0
