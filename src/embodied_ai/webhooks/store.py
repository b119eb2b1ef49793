"""Registered webhooks and their delivery outbox, in SQLite.

The database file is the caller's (the operations database in the state directory, shared with
other modules' tables, hence the ``webhook`` prefix). WAL with synchronous=FULL: once
``enqueue`` has returned, the deliveries are on disk and go out after a restart too.

A delivery is a row: pending (with the time of its next attempt), delivered or failed. The
dispatcher claims due rows by pushing their next attempt past a lease, so a dispatcher that
dies mid-send leaves the row to be retried, and two dispatchers never send the same row at once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, cast

from embodied_ai.database import open_database, page_problems, transaction
from embodied_ai.errors import Conflict, InvalidRequest, NotFound
from embodied_ai.webhooks.models import (
    DELIVERY_STATUSES,
    EVENTS,
    Delivery,
    DeliveryStatus,
    Webhook,
    generate_secret,
    iso,
    new_message_id,
    new_webhook_id,
    secret_problems,
)
from embodied_ai.webhooks.urls import UrlPolicy

MAX_DESCRIPTION = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,                 -- wh_<hex>
    url TEXT NOT NULL,
    events TEXT NOT NULL,                -- JSON list of event names
    secret TEXT NOT NULL,                -- whsec_<base64>; HMAC signing needs it in clear
    description TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL             -- epoch seconds
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT PRIMARY KEY,                 -- msg_<hex>, the webhook-id header
    webhook_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,               -- the exact body, the same on every attempt
    status TEXT NOT NULL,                -- pending | delivered | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    round_attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    last_status_code INTEGER,
    last_error TEXT,
    created_at REAL NOT NULL,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id, created_at);
"""

_DELIVERY_COLUMNS = (
    "d.id, d.webhook_id, d.event, d.payload, d.status, d.attempts, d.round_attempts, d.next_attempt_at, "
    "d.last_status_code, d.last_error, d.created_at, d.delivered_at"
)


def _webhook(row: sqlite3.Row) -> Webhook:
    return Webhook(
        id=row["id"], url=row["url"], events=tuple(json.loads(row["events"])), secret=row["secret"],
        description=row["description"], active=bool(row["active"]), created_at=row["created_at"],
    )


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        id=row["id"], webhook_id=row["webhook_id"], event=row["event"], payload=row["payload"],
        status=cast(DeliveryStatus, row["status"]), attempts=row["attempts"], round_attempts=row["round_attempts"],
        next_attempt_at=row["next_attempt_at"], last_status_code=row["last_status_code"],
        last_error=row["last_error"], created_at=row["created_at"], delivered_at=row["delivered_at"],
    )


def _event_problems(events: object) -> list[str]:
    if isinstance(events, str) or not isinstance(events, Sequence) or not events:
        return [f"events must be a non-empty list of: {', '.join(EVENTS)}"]
    problems = []
    for event in events:
        if event not in EVENTS:
            problems.append(f"unknown event '{event}' (known: {', '.join(EVENTS)})")
    return problems


class WebhookStore:
    def __init__(self, db_path: Path | str, policy: UrlPolicy | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.policy = policy or UrlPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._db = open_database(db_path, _SCHEMA, foreign_keys=False)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db, self._lock)

    # -- webhooks -----------------------------------------------------------------------
    def register(self, url: str, events: Sequence[str], secret: str | None = None, description: str = "",
                 active: bool = True) -> Webhook:
        """A new webhook; its secret is generated when none is given. InvalidRequest lists every problem."""
        problems = self.policy.problems(url) + _event_problems(events)
        if secret is not None:
            problems += secret_problems(secret)
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            problems.append(f"description must be text of at most {MAX_DESCRIPTION} characters")
        if problems:
            raise InvalidRequest(f"invalid webhook: {'; '.join(problems)}", problems)
        webhook = Webhook(
            id=new_webhook_id(), url=url, events=tuple(dict.fromkeys(events)), secret=secret or generate_secret(),
            description=description, active=bool(active), created_at=self._clock(),
        )
        with self._transaction() as db:
            db.execute(
                "INSERT INTO webhooks(id, url, events, secret, description, active, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (webhook.id, webhook.url, json.dumps(list(webhook.events)), webhook.secret, webhook.description,
                 int(webhook.active), webhook.created_at),
            )
        return webhook

    def list_webhooks(self) -> list[Webhook]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM webhooks ORDER BY created_at, id").fetchall()
        return [_webhook(row) for row in rows]

    def get_webhook(self, webhook_id: str) -> Webhook:
        with self._lock:
            row = self._db.execute("SELECT * FROM webhooks WHERE id=?", (webhook_id,)).fetchone()
        if row is None:
            raise NotFound(f"webhook '{webhook_id}' not found")
        return _webhook(row)

    def set_active(self, webhook_id: str, active: bool) -> Webhook:
        """Pause or resume a webhook; a paused webhook gets no new deliveries and sends none."""
        with self._transaction() as db:
            if db.execute("UPDATE webhooks SET active=? WHERE id=?", (int(active), webhook_id)).rowcount == 0:
                raise NotFound(f"webhook '{webhook_id}' not found")
        return self.get_webhook(webhook_id)

    def delete_webhook(self, webhook_id: str) -> None:
        """Delete a webhook with its delivery log; what it had pending is not sent."""
        with self._transaction() as db:
            if db.execute("DELETE FROM webhooks WHERE id=?", (webhook_id,)).rowcount == 0:
                raise NotFound(f"webhook '{webhook_id}' not found")
            db.execute("DELETE FROM webhook_deliveries WHERE webhook_id=?", (webhook_id,))

    # -- the outbox ---------------------------------------------------------------------
    def enqueue(self, event: str, data: Mapping[str, Any]) -> list[Delivery]:
        """One pending delivery per active webhook subscribed to ``event``, written in one transaction.

        The body is fixed here (Standard Webhooks' ``type`` / ``timestamp`` / ``data``, with seed
        002's ``event`` beside ``type``), so every attempt sends the same bytes."""
        problems = _event_problems([event])
        try:
            body = {"type": event, "event": event, "timestamp": iso(self._clock()), "data": dict(data)}
            payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            problems.append(f"the event data is not JSON: {exc}")
        if problems:
            raise InvalidRequest(f"invalid event: {'; '.join(problems)}", problems)
        now = self._clock()
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM webhooks WHERE active=1 ORDER BY created_at, id").fetchall()
            targets = [w for w in map(_webhook, rows) if w.subscribes_to(event)]
            deliveries = [
                Delivery(id=new_message_id(), webhook_id=w.id, event=event, payload=payload, status="pending",
                         attempts=0, round_attempts=0, next_attempt_at=now, last_status_code=None, last_error=None,
                         created_at=now, delivered_at=None)
                for w in targets
            ]
            db.executemany(
                "INSERT INTO webhook_deliveries(id, webhook_id, event, payload, status, next_attempt_at, created_at) "
                "VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                [(d.id, d.webhook_id, d.event, d.payload, d.next_attempt_at, d.created_at) for d in deliveries],
            )
        return deliveries

    def claim_due(self, limit: int = 20, lease_s: float = 60.0) -> list[tuple[Delivery, Webhook]]:
        """Pending deliveries of active webhooks whose time has come, oldest first, each with its
        webhook; their next attempt moves ``lease_s`` ahead so no one else sends them meanwhile."""
        now = self._clock()
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
                "WHERE d.status='pending' AND w.active=1 AND d.next_attempt_at <= ? "
                "ORDER BY d.next_attempt_at, d.created_at LIMIT ?",
                (now, limit),
            ).fetchall()
            deliveries = [_delivery(row) for row in rows]
            db.executemany("UPDATE webhook_deliveries SET next_attempt_at=? WHERE id=?",
                           [(now + lease_s, d.id) for d in deliveries])
            webhooks = {}
            for d in deliveries:
                if d.webhook_id not in webhooks:
                    row = db.execute("SELECT * FROM webhooks WHERE id=?", (d.webhook_id,)).fetchone()
                    webhooks[d.webhook_id] = _webhook(row)
        return [(d, webhooks[d.webhook_id]) for d in deliveries]

    def next_due_at(self) -> float | None:
        """When the earliest pending delivery of an active webhook is due (None when there is none)."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
                "WHERE d.status='pending' AND w.active=1"
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def record_attempt(self, delivery_id: str, status: DeliveryStatus, status_code: int | None = None,
                       error: str | None = None, next_attempt_at: float | None = None) -> Delivery | None:
        """Write one attempt's outcome: delivered, failed, or pending again at ``next_attempt_at``.
        None when the delivery is gone (its webhook was deleted while it was being sent)."""
        if status not in DELIVERY_STATUSES or (status == "pending") != (next_attempt_at is not None):
            raise ValueError(f"bad attempt outcome: status {status!r}, next_attempt_at {next_attempt_at!r}")
        now = self._clock()
        with self._transaction() as db:
            db.execute(
                "UPDATE webhook_deliveries SET status=?, attempts=attempts+1, round_attempts=round_attempts+1, "
                "next_attempt_at=?, last_status_code=?, last_error=?, delivered_at=? WHERE id=?",
                (status, next_attempt_at, status_code, error, now if status == "delivered" else None, delivery_id),
            )
        try:
            return self.get_delivery(delivery_id)
        except NotFound:
            return None

    def get_delivery(self, delivery_id: str) -> Delivery:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.id=?", (delivery_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"delivery '{delivery_id}' not found")
        return _delivery(row)

    def deliveries(self, webhook_id: str, limit: int = 50, offset: int = 0,
                   status: DeliveryStatus | None = None) -> tuple[list[Delivery], int]:
        """A webhook's delivery log, newest first: (one page, the total)."""
        problems = page_problems(limit, offset)
        if status is not None and status not in DELIVERY_STATUSES:
            problems.append(f"status must be one of: {', '.join(DELIVERY_STATUSES)}")
        if problems:
            raise InvalidRequest(f"invalid delivery query: {'; '.join(problems)}", problems)
        self.get_webhook(webhook_id)  # NotFound for an unknown webhook, not an empty log
        where, args = "d.webhook_id=?", [webhook_id]
        if status is not None:
            where, args = where + " AND d.status=?", args + [status]
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM webhook_deliveries d WHERE {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE {where} "
                "ORDER BY d.created_at DESC, d.rowid DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [_delivery(row) for row in rows], int(total)

    def redeliver(self, delivery_id: str) -> Delivery:
        """Send a delivered or failed delivery again: pending now, same message id, same body, a
        fresh back-off schedule. Conflict while it is still pending."""
        with self._transaction() as db:
            row = db.execute("SELECT status FROM webhook_deliveries WHERE id=?", (delivery_id,)).fetchone()
            if row is None:
                raise NotFound(f"delivery '{delivery_id}' not found")
            if row["status"] == "pending":
                raise Conflict(f"delivery '{delivery_id}' is still pending")
            db.execute(
                "UPDATE webhook_deliveries SET status='pending', round_attempts=0, next_attempt_at=?, "
                "delivered_at=NULL WHERE id=?",
                (self._clock(), delivery_id),
            )
        return self.get_delivery(delivery_id)
