"""API keys, rate limits and the bind rule, on a second bridge process whose state directory
holds keys made with the `embodied keys` CLI (the graph's own bridge runs keyless)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets

from tests.graph.bridge_helpers import BridgeProcess, assert_envelope_error, keys_cli


@pytest.fixture(scope="module")
def secured(graph, tmp_path_factory) -> Iterator[tuple[str, dict[str, str], object]]:
    state_dir = tmp_path_factory.mktemp("secured_state")
    secrets = {}
    for name, limit in (("limited", "5/minute"), ("operator", "1000/hour")):
        created = keys_cli("create", "--name", name, "--rate-limit", limit, state_dir=state_dir)
        assert created.returncode == 0, created.stderr
        secrets[name] = created.stdout.strip().splitlines()[-1]
    bridge = BridgeProcess("rest_bridge_secured", state_dir=str(state_dir))
    try:
        url = bridge.url()
        # A new bridge serves before it has discovered the graph and had its first joint states.
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/v1/health").status_code != 200:
            assert time.monotonic() < deadline, f"the secured bridge never saw the graph:\n{bridge.output}"
            time.sleep(0.2)
        yield url, secrets, state_dir
    finally:
        assert bridge.stop() == 0, bridge.output


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_keys_are_stored_hashed_and_listed_without_secrets(secured):
    _, secrets, state_dir = secured
    listing = keys_cli("list", state_dir=state_dir).stdout
    assert "limited" in listing and "5/minute" in listing and secrets["limited"] not in listing
    database = (state_dir / "api_keys.sqlite3").read_bytes()
    assert secrets["limited"].encode() not in database and secrets["operator"].encode() not in database


def test_requests_without_a_valid_key_are_401(secured):
    url, _, _ = secured
    response = httpx.get(f"{url}/v1/hardware/sensors")
    assert_envelope_error(response, 401, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert_envelope_error(httpx.get(f"{url}/v1/hardware/sensors", headers=bearer("emb_guessed")), 401, 401)
    assert httpx.get(f"{url}/v1/health").status_code == 200  # probes need no key


def test_a_key_gets_in_with_rate_limit_headers_and_the_seeds_429_past_its_limit(secured):
    url, secrets, _ = secured
    with httpx.Client(base_url=url, headers=bearer(secrets["limited"]), timeout=30) as session:
        remaining = []
        for _ in range(5):
            response = session.get("/v1/hardware/sensors")
            assert response.status_code == 200, response.text
            assert response.headers["x-ratelimit-limit"] == "5"
            remaining.append(int(response.headers["x-ratelimit-remaining"]))
            assert int(response.headers["x-ratelimit-reset"]) > 1_700_000_000  # an epoch time, as in the Robot API
        assert remaining == [4, 3, 2, 1, 0]
        refused = session.get("/v1/hardware/sensors")
        error = assert_envelope_error(refused, 429, 429)
        assert error["message"] == "Rate limit exceeded" and 0 < error["retry_after_seconds"] <= 60
        assert refused.headers["retry-after"] == str(error["retry_after_seconds"])
    # Limits are per key: the operator key is unaffected.
    assert httpx.get(f"{url}/v1/hardware/sensors", headers=bearer(secrets["operator"])).status_code == 200


def test_a_revoked_key_stops_working_at_once(secured, tmp_path):
    url, _, state_dir = secured
    created = keys_cli("create", "--name", "temporary", state_dir=state_dir)
    secret = created.stdout.strip().splitlines()[-1]
    key_id = re.search(r"created key (\d+)", created.stdout).group(1)
    assert httpx.get(f"{url}/v1/hardware/sensors", headers=bearer(secret)).status_code == 200
    assert keys_cli("revoke", key_id, state_dir=state_dir).returncode == 0
    assert_envelope_error(httpx.get(f"{url}/v1/hardware/sensors", headers=bearer(secret)), 401, 401)


def test_websocket_needs_the_key_too(secured):
    url, secrets, _ = secured
    ws = url.replace("http://", "ws://") + "/ws"

    async def session(first: dict) -> list[dict]:
        async with websockets.connect(ws) as socket:
            await socket.send(json.dumps(first))
            await socket.send(json.dumps({"action": "ping"}))
            messages = []
            try:
                while not any(m.get("event") in ("pong",) for m in messages):
                    messages.append(json.loads(await asyncio.wait_for(socket.recv(), 10)))
            except websockets.ConnectionClosed:
                pass
            return messages

    refused = asyncio.run(session({"action": "subscribe", "channels": ["hardware"]}))
    assert refused[0]["event"] == "error" and refused[0]["error"]["code"] == 401
    accepted = asyncio.run(session({"action": "authenticate", "api_key": secrets["operator"]}))
    assert [m["event"] for m in accepted] == ["authenticated", "pong"]


def test_without_keys_the_bridge_refuses_to_listen_beyond_loopback(graph, tmp_path):
    # It must refuse before binding: nothing ever listens on 0.0.0.0 in this test.
    completed = subprocess.run(
        [sys.executable, "-m", "embodied_ros.rest_bridge", "--ros-args", "-r", "__node:=rest_bridge_wide",
         "-p", "host:=0.0.0.0", "-p", "port:=0", "-p", f"state_dir:={tmp_path}"],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in __import__("os").environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"})
    assert completed.returncode == 2
    assert "refusing to listen on 0.0.0.0" in completed.stdout + completed.stderr
    assert "serving on" not in completed.stdout + completed.stderr
