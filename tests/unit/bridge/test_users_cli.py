"""`embodied users` and `embodied keys create --role` as an operator runs them: the password comes on
standard input, never in argv, and is stored only as an argon2id hash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from embodied_ai.bridge.keys import ApiKeyStore
from embodied_ai.bridge.users import UserStore

PASSWORD = "a long enough secret"


def embodied(state_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "embodied_ai.cli", *args[:1], "--state-dir", str(state_dir),
                           *args[1:]], input=stdin, capture_output=True, text=True, timeout=60, check=False)


def test_create_list_and_delete_a_user_with_the_password_on_stdin(tmp_path: Path) -> None:
    created = embodied(tmp_path, "users", "create", "alice", "--role", "operator", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    assert "created user 'alice' (role operator)" in created.stdout and PASSWORD not in created.stdout
    store = UserStore.in_state_dir(tmp_path)
    user = store.verify("alice", PASSWORD)
    assert user is not None and user.role.label == "operator" and store.verify("alice", PASSWORD + "x") is None
    stored = (tmp_path / "users.sqlite3").read_bytes()
    assert PASSWORD.encode() not in stored and b"$argon2id$" in stored
    assert oct((tmp_path / "users.sqlite3").stat().st_mode & 0o777) == "0o600"
    listed = embodied(tmp_path, "users", "list")
    assert listed.stdout.split()[:2] == ["alice", "operator"]
    assert embodied(tmp_path, "users", "delete", "alice").returncode == 0 and store.get("alice") is None
    assert embodied(tmp_path, "users", "delete", "alice").returncode == 1


def test_a_bad_user_is_refused_with_every_problem_and_nothing_stored(tmp_path: Path) -> None:
    refused = embodied(tmp_path, "users", "create", "-bad name", "--role", "viewer", stdin="short\n")
    assert refused.returncode == 2
    assert "username:" in refused.stderr and "password: 8 to 1024 characters" in refused.stderr
    assert UserStore.in_state_dir(tmp_path).list() == []
    embodied(tmp_path, "users", "create", "bob", "--role", "viewer", stdin=PASSWORD + "\n")
    again = embodied(tmp_path, "users", "create", "bob", "--role", "admin", stdin=PASSWORD + "\n")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_a_key_gets_the_role_asked_for(tmp_path: Path) -> None:
    created = embodied(tmp_path, "keys", "create", "--name", "kiosk", "--role", "viewer")
    assert created.returncode == 0 and "role viewer" in created.stdout
    assert [key.role for key in ApiKeyStore.in_state_dir(tmp_path).list()] == ["viewer"]
