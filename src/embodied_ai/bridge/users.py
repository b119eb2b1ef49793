"""Users of the REST bridge and their refresh tokens, in SQLite under the state directory.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended
setting): a password is a low-entropy secret, so unlike API keys it needs a slow, salted hash.
Refresh tokens are 256 random bits, stored as SHA-256 like API keys; each is used once (a refresh
rotates it) and a logout or a user's deletion revokes it.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from embodied_ai import paths
from embodied_ai.bridge.keys import hash_key
from embodied_ai.bridge.roles import Role, parse_role
from embodied_ai.errors import Conflict, InvalidRequest

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
MIN_PASSWORD, MAX_PASSWORD = 8, 1024  # characters; the upper bound keeps hashing cheap to ask for
REFRESH_PREFIX = "embr_"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS users (
        username       TEXT PRIMARY KEY,
        password_hash  TEXT NOT NULL,
        role           TEXT NOT NULL,
        created_at     TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS refresh_tokens (
        token_hash  TEXT PRIMARY KEY,
        username    TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        expires_at  TEXT NOT NULL,
        revoked_at  TEXT
    )""",
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    created_at: str


def user_problems(username: str, password: str | None, role: str) -> list[str]:
    """Every problem of a new user at once (``password`` None: not checked)."""
    problems = []
    if not USERNAME.fullmatch(username):
        problems.append("username: 1-64 characters, letters, digits and _ . @ -, starting with a letter or digit")
    if password is not None and not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        problems.append(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    try:
        parse_role(role)
    except ValueError as exc:
        problems.append(f"role: {exc}")
    return problems


class UserStore:
    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        self.path = path
        self.hasher = hasher or PasswordHasher()  # argon2id
        # Verified against when the user is unknown, so a wrong name costs the same time as a wrong password.
        self._decoy = self.hasher.hash(secrets.token_urlsafe(16))
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._connect() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    @classmethod
    def in_state_dir(cls, state_dir: Path | None = None) -> UserStore:
        return cls((state_dir or paths.state_dir()) / "users.sqlite3")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # As ApiKeyStore: one short-lived connection per call, so CLI changes apply at once.
        with closing(sqlite3.connect(self.path, timeout=5.0)) as db, db:
            db.execute("PRAGMA foreign_keys = ON")
            yield db

    def create(self, username: str, password: str, role: str) -> User:
        problems = user_problems(username, password, role)
        if problems:
            raise InvalidRequest("invalid user", problems)
        user = User(username, parse_role(role), _stamp(_now()))
        try:
            with self._connect() as db:
                db.execute("INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                           (username, self.hasher.hash(password), user.role.label, user.created_at))
        except sqlite3.IntegrityError:
            raise Conflict(f"user '{username}' already exists") from None
        os.chmod(self.path, 0o600)
        return user

    def delete(self, username: str) -> bool:
        """Remove a user and revoke every refresh token of theirs; access tokens end at the next request."""
        with self._connect() as db:
            return db.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount == 1

    def get(self, username: str) -> User | None:
        with self._connect() as db:
            row = db.execute("SELECT username, role, created_at FROM users WHERE username = ?",
                             (username,)).fetchone()
        return User(row[0], parse_role(row[1]), row[2]) if row else None

    def list(self) -> list[User]:
        with self._connect() as db:
            rows = db.execute("SELECT username, role, created_at FROM users ORDER BY username").fetchall()
        return [User(name, parse_role(role), created) for name, role, created in rows]

    def has_users(self) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def verify(self, username: str, password: str) -> User | None:
        """The user when the password is theirs, else None (an unknown name takes as long)."""
        with self._connect() as db:
            row = db.execute("SELECT password_hash, role, created_at FROM users WHERE username = ?",
                             (username,)).fetchone()
        stored = row[0] if row else self._decoy
        try:
            self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if self.hasher.check_needs_rehash(stored):  # stronger parameters since it was stored
            with self._connect() as db:
                db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                           (self.hasher.hash(password), username))
        return User(username, parse_role(row[1]), row[2])

    def issue_refresh(self, username: str, lifetime: timedelta) -> str:
        """A new refresh token for the user, shown once."""
        secret = REFRESH_PREFIX + secrets.token_urlsafe(32)
        with self._connect() as db:
            db.execute("INSERT INTO refresh_tokens (token_hash, username, expires_at) VALUES (?, ?, ?)",
                       (hash_key(secret), username, _stamp(_now() + lifetime)))
        return secret

    def rotate_refresh(self, secret: str, lifetime: timedelta) -> tuple[User, str] | None:
        """Spend a live refresh token: its user and a new token, or None (unknown, used, expired)."""
        now = _now()
        with self._connect() as db:
            row = db.execute(
                "SELECT u.username, u.role, u.created_at FROM refresh_tokens t JOIN users u USING (username) "
                "WHERE t.token_hash = ? AND t.revoked_at IS NULL AND t.expires_at > ?",
                (hash_key(secret), _stamp(now))).fetchone()
            if row is None:
                return None
            # The UPDATE's condition makes a token spendable once even under concurrent refreshes.
            spent = db.execute("UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
                               (_stamp(now), hash_key(secret))).rowcount
            if spent != 1:
                return None
            fresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
            db.execute("INSERT INTO refresh_tokens (token_hash, username, expires_at) VALUES (?, ?, ?)",
                       (hash_key(fresh), row[0], _stamp(now + lifetime)))
        return User(row[0], parse_role(row[1]), row[2]), fresh

    def revoke_refresh(self, secret: str) -> bool:
        with self._connect() as db:
            return db.execute("UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
                              (_stamp(_now()), hash_key(secret))).rowcount == 1
