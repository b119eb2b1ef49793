"""The webhook records: event names, registered webhooks and their deliveries.

A delivery's id is the Standard Webhooks message id (the ``webhook-id`` header): it stays the
same across retries and redeliveries, so a receiver can drop duplicates by it.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

# The events a webhook can subscribe to (seed 002's names); the one list of them.
EVENTS: tuple[str, ...] = ("job.completed", "job.failed", "job.cancelled", "model.registered", "model.loaded")

DeliveryStatus = Literal["pending", "delivered", "failed"]
DELIVERY_STATUSES: tuple[str, ...] = ("pending", "delivered", "failed")

SECRET_PREFIX = "whsec_"
PLAIN_SECRET_MIN, PLAIN_SECRET_MAX = 16, 256   # characters of a secret that is not whsec_
# Standard Webhooks: secrets are 24 to 64 random bytes, sent to the subscriber as whsec_<base64>.
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
_SECRET_BYTES = 32


def new_webhook_id() -> str:
    return f"wh_{secrets.token_hex(12)}"


def new_message_id() -> str:
    return f"msg_{secrets.token_hex(12)}"


def generate_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form ``whsec_<base64>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def secret_problems(secret: object) -> list[str]:
    """Why a caller-given secret is unusable (empty when it is fine). Two kinds: a Standard
    Webhooks secret (``whsec_`` + base64 of the key), or any other string of PLAIN_SECRET_MIN to
    PLAIN_SECRET_MAX printable characters (seed 002's ``"your_webhook_secret"``), whose UTF-8 bytes
    are the HMAC key."""
    if isinstance(secret, str) and not secret.startswith(SECRET_PREFIX):
        fits = PLAIN_SECRET_MIN <= len(secret) <= PLAIN_SECRET_MAX and secret.isprintable()
        if not fits or secret != secret.strip():
            return [f"a secret must be '{SECRET_PREFIX}' followed by base64 of {SECRET_MIN_BYTES} to "
                    f"{SECRET_MAX_BYTES} bytes, or {PLAIN_SECRET_MIN}-{PLAIN_SECRET_MAX} printable characters"]
        return []
    expected = (f"a secret must be '{SECRET_PREFIX}' followed by base64 of {SECRET_MIN_BYTES} to "
                f"{SECRET_MAX_BYTES} bytes")
    if not isinstance(secret, str):
        return [expected]
    encoded = secret[len(SECRET_PREFIX):]
    try:
        # Unpadded base64 is accepted, as the standardwebhooks library accepts it.
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return [f"{expected} (it is not valid base64)"]
    if not SECRET_MIN_BYTES <= len(raw) <= SECRET_MAX_BYTES:
        return [f"{expected} (it decodes to {len(raw)} bytes)"]
    return []


def signing_key(secret: str) -> str | bytes:
    """What standardwebhooks.Webhook takes: a ``whsec_`` secret as it is (the library decodes it),
    a plain secret as its UTF-8 bytes (the raw HMAC key)."""
    return secret if secret.startswith(SECRET_PREFIX) else secret.encode("utf-8")


def iso(epoch_s: float | None) -> str | None:
    """Epoch seconds as ISO-8601 UTC with a Z, as the API shows times."""
    if epoch_s is None:
        return None
    return datetime.fromtimestamp(epoch_s, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    events: tuple[str, ...]
    secret: str
    description: str
    active: bool
    created_at: float  # epoch seconds

    def to_dict(self, include_secret: bool = False) -> dict[str, Any]:
        """The API's shape. The secret is shown once, in the answer to the registration."""
        out: dict[str, Any] = {
            "id": self.id, "url": self.url, "events": list(self.events), "description": self.description,
            "active": self.active, "created_at": iso(self.created_at),
        }
        if include_secret:
            out["secret"] = self.secret
        return out

    def subscribes_to(self, event: str) -> bool:
        return self.active and event in self.events


@dataclass(frozen=True)
class Delivery:
    id: str  # the message id, the webhook-id header
    webhook_id: str
    event: str
    payload: str  # the exact JSON body sent, the same on every attempt
    status: DeliveryStatus
    attempts: int  # every attempt made, redeliveries included
    round_attempts: int  # attempts since it was enqueued or last redelivered: picks the back-off
    next_attempt_at: float | None  # epoch seconds; None once delivered or failed
    last_status_code: int | None
    last_error: str | None
    created_at: float
    delivered_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "webhook_id": self.webhook_id, "event": self.event, "payload": json.loads(self.payload),
            "status": self.status, "attempts": self.attempts, "next_attempt_at": iso(self.next_attempt_at),
            "last_status_code": self.last_status_code, "last_error": self.last_error,
            "created_at": iso(self.created_at), "delivered_at": iso(self.delivered_at),
        }
