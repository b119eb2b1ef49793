"""Access control through the real app: logins (seed 002), refresh rotation, the failed-login
throttle, tampered and expired tokens, roles on routes and WebSocket channels, and seed 000's
client-credentials grant."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from embodied_ai.bridge.app import create_app
from embodied_ai.bridge.keys import ApiKeyStore
from embodied_ai.bridge.roles import route_role
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.bridge.users import UserStore
from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph

PASSWORD = "correct horse battery"
MOVE = {"joint_name": "elbow_pitch_r", "angle": 10.0}


@pytest.fixture
def users(settings: BridgeSettings) -> UserStore:
    store = UserStore.in_state_dir(settings.state_dir)
    store.create("vera", PASSWORD, "viewer")
    store.create("otto", PASSWORD, "operator")
    return store


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict:
    answer: dict = data(client.post("/v1/auth/login", json={"username": username, "password": password}))
    return answer


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_login_answers_seed_002s_tokens_and_a_viewer_reads_but_cannot_move(
        client: TestClient, users: UserStore, fake: FakeGraph) -> None:
    tokens = login(client, "vera")
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 3600
    assert tokens["user"] == {"username": "vera", "role": "viewer"} and tokens["refresh_token"]
    assert tokens["access_token"].count(".") == 2  # a JWT
    assert data(client.get("/v1/hardware/sensors", headers=bearer(tokens["access_token"])))["backend"] == "sim"
    refused = error(client.post("/v1/hardware/servo/move", json=MOVE, headers=bearer(tokens["access_token"])),
                    403, 403)
    assert refused["error_code"] == "INSUFFICIENT_PERMISSIONS" and refused["details"]["required_role"] == "operator"
    assert not [call for call in fake.calls if call[0] == "move_joints"] and fake.joints["elbow_pitch_r"] == 0.0
    operator = login(client, "otto")["access_token"]
    data(client.post("/v1/hardware/servo/move", json=MOVE, headers=bearer(operator)))
    assert [call[0] for call in fake.calls].count("move_joints") == 1
    admin_only = error(client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["job.completed"]},
                                   headers=bearer(operator)), 403, 403)
    assert admin_only["details"]["required_role"] == "admin"


def test_once_a_user_exists_a_request_without_credentials_is_401(client: TestClient, users: UserStore) -> None:
    assert error(client.get("/v1/hardware/sensors"), 401, 401)["error_code"] == "AUTHENTICATION_REQUIRED"


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(client: TestClient, users: UserStore) -> None:
    wrong = client.post("/v1/auth/login", json={"username": "vera", "password": "not it at all"})
    unknown = client.post("/v1/auth/login", json={"username": "nobody", "password": PASSWORD})
    assert error(wrong, 401, 401) == error(unknown, 401, 401)
    assert error(wrong, 401, 401)["message"] == "Invalid credentials"


def test_ten_failures_for_a_name_are_throttled_and_logged_without_the_password(
        fake: FakeGraph, settings: BridgeSettings, users: UserStore, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(fake.ports(), settings)
    caplog.set_level(logging.INFO, logger="embodied_ai.bridge.logins")
    for attempt in range(10):  # each from another address: only the name's count reaches ten
        client = TestClient(app, client=(f"10.0.0.{attempt}", 4000))
        error(client.post("/v1/auth/login", json={"username": "vera", "password": f"guess {attempt}!"}), 401, 401)
    late = TestClient(app, client=("10.0.0.99", 4000))
    throttled = late.post("/v1/auth/login", json={"username": "vera", "password": PASSWORD})
    assert error(throttled, 429, 429)["retry_after_seconds"] > 0
    assert 0 < int(throttled.headers["Retry-After"]) <= 15 * 60
    login(late, "otto")  # the address itself is not throttled
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged.count("failed login for 'vera'") == 10 and "login refused for 'vera'" in logged
    assert "guess" not in logged and PASSWORD not in logged


def test_ten_failures_from_one_address_are_throttled(client: TestClient, users: UserStore) -> None:
    for attempt in range(10):
        error(client.post("/v1/auth/login", json={"username": f"user{attempt}", "password": "x" * 8}), 401, 401)
    throttled = client.post("/v1/auth/login", json={"username": "otto", "password": PASSWORD})
    assert error(throttled, 429, 429)["error_code"] == "RATE_LIMIT_EXCEEDED" and throttled.headers["Retry-After"]


def test_a_refresh_rotates_the_refresh_token_and_logout_revokes_it(client: TestClient, users: UserStore) -> None:
    first = login(client, "otto")
    second = data(client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}))
    assert second["refresh_token"] != first["refresh_token"] and second["user"]["role"] == "operator"
    assert data(client.get("/v1/hardware/sensors", headers=bearer(second["access_token"])))
    spent = error(client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401, 401)
    assert "refresh token" in spent["message"]
    assert data(client.post("/v1/auth/logout", json={"refresh_token": second["refresh_token"]})) == {"revoked": True}
    error(client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}), 401, 401)
    assert users.delete("otto")
    error(client.get("/v1/hardware/sensors", headers=bearer(second["access_token"])), 401, 401)  # user deleted


def test_tampered_foreign_and_expired_tokens_are_401_saying_why(client: TestClient, users: UserStore) -> None:
    token = login(client, "vera")["access_token"]
    header, payload, signature = token.split(".")
    forged = ".".join((header, payload, ("A" if signature[0] != "A" else "B") + signature[1:]))
    assert "Invalid access token" in error(client.get("/v1/hardware/sensors", headers=bearer(forged)), 401, 401)[
        "message"]
    assert "Invalid access token" in error(client.get("/v1/hardware/sensors", headers=bearer("a.b.c")), 401, 401)[
        "message"]
    expired = client.app.state.security.tokens.issue("user:vera", "viewer", ttl_s=-5)  # type: ignore[attr-defined]
    answer = client.get("/v1/hardware/sensors", headers=bearer(expired))
    assert "expired" in error(answer, 401, 401)["message"] and answer.headers["WWW-Authenticate"] == "Bearer"


def test_the_signing_secret_is_made_once_and_private(client: TestClient, users: UserStore,
                                                      settings: BridgeSettings) -> None:
    login(client, "vera")
    secret = settings.state_dir / "jwt_secret"
    assert oct(secret.stat().st_mode & 0o777) == "0o600" and len(secret.read_bytes()) == 32
    before = secret.read_bytes()
    login(client, "otto")
    assert secret.read_bytes() == before


@pytest.mark.parametrize("path", ["/oauth/token", "/v1/oauth/token"])
def test_client_credentials_give_a_token_of_the_keys_role(client: TestClient, settings: BridgeSettings,
                                                          fake: FakeGraph, path: str) -> None:
    key, secret = ApiKeyStore.in_state_dir(settings.state_dir).create("arm", "", role="operator")
    answer = client.post(path, data={"grant_type": "client_credentials", "client_id": str(key.id),
                                     "client_secret": secret})
    body = answer.json()
    assert answer.status_code == 200 and body["success"] and body["token_type"] == "bearer"
    assert body["access_token"] == body["data"]["access_token"] and body["data"]["role"] == "operator"
    data(client.post("/v1/hardware/servo/move", json=MOVE, headers=bearer(body["access_token"])))
    error(client.get("/v1/ops/logs", headers=bearer(body["access_token"])), 403, 403)
    as_json = client.post(path, json={"grant_type": "client_credentials", "client_id": "arm", "client_secret": secret})
    assert as_json.json()["data"]["role"] == "operator"
    assert error(client.post(path, data={"grant_type": "client_credentials", "client_id": str(key.id),
                                         "client_secret": secret + "x"}), 401, 401)["message"] == (
        "Invalid client credentials")
    problems = error(client.post(path, data={"grant_type": "password"}), 400, 400)["details"]["problems"]
    assert problems == ["client_id: required", "client_secret: required",
                        "grant_type: 'password' is not supported; use client_credentials"]
    keys = ApiKeyStore.in_state_dir(settings.state_dir)
    keys.create("another", "")  # so that revoking this one leaves the bridge keyed
    keys.revoke(key.id)
    error(client.get("/v1/hardware/sensors", headers=bearer(body["access_token"])), 401, 401)


def test_keys_made_before_roles_are_admins(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "api_keys.sqlite3") as db:  # the table as it was before roles
        db.execute("CREATE TABLE api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, key_hash TEXT "
                   "NOT NULL UNIQUE, hint TEXT NOT NULL, rate_limit TEXT NOT NULL, created_at TEXT NOT NULL, "
                   "revoked_at TEXT)")
        db.execute("INSERT INTO api_keys (name, key_hash, hint, rate_limit, created_at) VALUES "
                   "('old', 'h', 'emb_x', '', '2026-01-01T00:00:00+00:00')")
    db.close()
    store = ApiKeyStore.in_state_dir(tmp_path)
    assert [key.role for key in store.list()] == ["admin"]
    with pytest.raises(ValueError, match="unknown role"):
        store.create("x", "", role="root")


def test_a_viewer_token_opens_the_websocket_and_reads_hardware(client: TestClient, users: UserStore) -> None:
    token = login(client, "vera")["access_token"]
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"action": "authenticate", "token": token})
        assert socket.receive_json() == {"event": "authenticated"}
        socket.send_json({"action": "subscribe", "channels": ["hardware", "jobs"]})
        assert socket.receive_json() == {"event": "subscribed", "channels": ["hardware", "jobs"], "unknown": []}
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"action": "authenticate", "token": token + "x"})
        assert socket.receive_json()["error"]["code"] == 401


def test_a_user_alone_keeps_the_bridge_authenticated(settings: BridgeSettings, users: UserStore,
                                                     fake: FakeGraph) -> None:
    security = create_app(fake.ports(), settings).state.security
    assert security.credentials_configured() and not security.keys.has_active_keys()


@pytest.mark.parametrize("method, path, role", [
    ("GET", "/v1/hardware/sensors", "viewer"), ("POST", "/v1/hardware/emergency_stop", "operator"),
    ("POST", "/v1/ai/nlp/analyze", "operator"), ("POST", "/v1/chat/completions", "operator"),
    ("GET", "/v1/ops/status", "admin"), ("POST", "/v1/models/{model}/load", "admin"),
    ("DELETE", "/v1/some/route/added/later", "admin"), ("HEAD", "/v1/some/route/added/later", "viewer"),
])
def test_the_route_table_names_each_groups_least_role(method: str, path: str, role: str) -> None:
    assert route_role(method, path).label == role
