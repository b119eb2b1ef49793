"""The REST bridge's security pieces without a graph: hashed keys, the bind rule, per-key
limits with the Robot API's headers, and request paths kept inside the state directory."""

from __future__ import annotations

import pytest

from embodied_ai.bridge.errors import ApiError
from embodied_ai.bridge.keys import ApiKeyStore
from embodied_ai.bridge.security import Security
from embodied_ai.bridge.settings import UnsafeBind, check_bind
from embodied_ai.bridge.uploads import path_inside


@pytest.fixture
def store(tmp_path) -> ApiKeyStore:
    return ApiKeyStore.in_state_dir(tmp_path)


def test_a_key_is_stored_only_as_its_hash_and_revocation_is_final(store):
    key, secret = store.create("operator", "10/minute")
    assert secret.startswith("emb_") and len(secret) > 40
    assert secret.encode() not in store.path.read_bytes()
    assert store.authenticate(secret).id == key.id and store.authenticate(secret + "x") is None
    assert store.has_active_keys()
    assert store.revoke(key.id) and not store.revoke(key.id)
    assert store.authenticate(secret) is None and not store.has_active_keys()
    assert [k.active for k in store.list()] == [False]
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"


def test_a_nonsense_rate_limit_is_refused(store):
    with pytest.raises(ValueError):
        store.create("x", "lots")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_is_always_allowed(host):
    check_bind(host, keys_configured=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "robot.local"])
def test_a_wider_bind_needs_a_key(host):
    with pytest.raises(UnsafeBind, match="embodied keys create"):
        check_bind(host, keys_configured=False)
    check_bind(host, keys_configured=True)


def test_keyless_callers_are_anonymous_and_keyed_callers_need_their_key(store):
    security = Security(store, "1000/hour")
    assert security.authenticate("anything").key_id is None  # keyless: tokens are ignored
    _, secret = store.create("operator", "2/minute")
    with pytest.raises(ApiError) as missing:
        security.authenticate(None)
    assert missing.value.status == 401
    assert security.authenticate(secret).name == "operator"


def test_limits_count_per_key_with_the_seeds_headers(store):
    security = Security(store, "")
    _, secret = store.create("a", "2/minute")
    _, other = store.create("b", "2/minute")
    a = security.authenticate(secret)
    first, second = security.consume(a), security.consume(a)
    remaining = (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"], second["X-RateLimit-Remaining"])
    assert remaining == ("2", "1", "0")
    with pytest.raises(ApiError) as refused:
        security.consume(a)
    assert refused.value.status == 429 and 0 < refused.value.retry_after_seconds <= 60
    assert refused.value.headers["Retry-After"] == str(refused.value.retry_after_seconds)
    assert security.consume(security.authenticate(other))["X-RateLimit-Remaining"] == "1"
    assert security.consume(security.anonymous) == {}  # "" = unlimited: no headers, as for enterprise


@pytest.mark.parametrize("requested", ["../secret.jsonl", "/etc/passwd", "a/../../b", "a\\..\\b", "x\x00y"])
def test_request_paths_cannot_leave_the_folder(tmp_path, requested):
    with pytest.raises(ApiError):
        path_inside(tmp_path, requested)


def test_a_symlink_pointing_out_is_refused_and_a_plain_file_is_found(tmp_path):
    outside = tmp_path / "outside.jsonl"
    outside.write_text("{}\n")
    base = tmp_path / "datasets"
    base.mkdir()
    (base / "link.jsonl").symlink_to(outside)
    (base / "ok.jsonl").write_text("{}\n")
    with pytest.raises(ApiError):
        path_inside(base, "link.jsonl")
    assert path_inside(base, "ok.jsonl") == (base / "ok.jsonl").resolve()
