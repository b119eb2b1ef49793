"""API keys for the REST bridge, stored hashed in SQLite under the state directory.

A key is 256 random bits shown once at creation (``embodied keys create``). Only its SHA-256
is stored: for a secret of that entropy a fast hash is enough (GitHub and PyPI tokens are
stored the same way) and keeps the per-request lookup cheap. Revoked keys stay in the table
so ``embodied keys list`` shows what existed. Each key has a role (``bridge.roles``); keys made
before roles existed are admins, as they could do everything.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from limits import parse

from embodied_ai import paths
from embodied_ai.bridge.roles import parse_role

KEY_PREFIX = "emb_"
# The Robot API's rate limits: free 100/hour, pro 1000/hour, enterprise unlimited ("").
TIERS: dict[str, str] = {"free": "100/hour", "pro": "1000/hour", "enterprise": ""}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    hint        TEXT NOT NULL,
    rate_limit  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
)
"""
_ROLE_COLUMN = "ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'"
_COLUMNS = "id, name, hint, rate_limit, created_at, revoked_at, role"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def validate_rate_limit(text: str) -> str:
    """A `limits` expression such as "1000/hour" or "10/minute", or "" for unlimited."""
    if text:
        parse(text)  # raises ValueError on nonsense
    return text


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    hint: str  # the first characters, to recognise a key in `embodied keys list`
    rate_limit: str  # "" = unlimited
    created_at: str
    revoked_at: str | None
    role: str = "admin"  # viewer, operator or admin (bridge.roles)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiKeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._connect() as db:
            db.execute(_SCHEMA)
            if "role" not in {row[1] for row in db.execute("PRAGMA table_info(api_keys)")}:
                db.execute(_ROLE_COLUMN)

    @classmethod
    def in_state_dir(cls, state_dir: Path | None = None) -> ApiKeyStore:
        return cls((state_dir or paths.state_dir()) / "api_keys.sqlite3")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One short-lived connection per call: safe from any thread, and a key created or
        # revoked with the CLI takes effect on the next request without a restart.
        with closing(sqlite3.connect(self.path, timeout=5.0)) as db, db:
            yield db

    def create(self, name: str, rate_limit: str, role: str = "admin") -> tuple[ApiKey, str]:
        """Store a new key; returns it and the secret, which is never shown again."""
        role = parse_role(role).label  # ValueError names the roles
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO api_keys (name, key_hash, hint, rate_limit, created_at, role) VALUES (?, ?, ?, ?, ?, ?)",
                (name, hash_key(secret), secret[:10], validate_rate_limit(rate_limit), created, role))
        os.chmod(self.path, 0o600)
        assert cursor.lastrowid is not None  # set by the INSERT
        return ApiKey(cursor.lastrowid, name, secret[:10], rate_limit, created, None, role), secret

    def revoke(self, key_id: int) -> bool:
        revoked = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._connect() as db:
            cursor = db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                                (revoked, key_id))
        return cursor.rowcount == 1

    def list(self) -> list[ApiKey]:
        with self._connect() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY id")
            return [ApiKey(*row) for row in rows]

    def has_active_keys(self) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1").fetchone() is not None

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key with this secret, or None."""
        with self._connect() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
                (hash_key(secret),)).fetchone()
        return ApiKey(*row) if row else None

    def active(self, key_id: int) -> ApiKey | None:
        """The key with this id while it is not revoked (tokens issued for a key end with it)."""
        with self._connect() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ? AND revoked_at IS NULL",
                             (key_id,)).fetchone()
        return ApiKey(*row) if row else None
