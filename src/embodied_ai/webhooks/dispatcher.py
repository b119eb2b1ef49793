"""Sends due webhook deliveries, signed as Standard Webhooks specifies, and retries them.

Each attempt POSTs the delivery's stored body with ``webhook-id`` (the delivery's message id,
the same on every attempt), ``webhook-timestamp`` (this attempt, seconds) and
``webhook-signature`` (``standardwebhooks.Webhook(secret).sign``). Outcomes:

- 2xx: delivered.
- 408, 429, 5xx, a connection error or a timeout: pending again after the next delay of the
  schedule (a little jitter, so failed receivers are not hit in lockstep; a ``Retry-After`` the
  receiver sent is used instead, bounded); failed once the schedule is used up.
- anything else (another 4xx, a redirect, which is never followed): failed at once.

The URL is checked against the policy again at every attempt (the allow-list or DNS may have
changed since registration) and the request goes to the addresses that check approved.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import standardwebhooks

from embodied_ai.errors import InvalidRequest
from embodied_ai.webhooks.models import Delivery, Webhook, signing_key
from embodied_ai.webhooks.store import WebhookStore
from embodied_ai.webhooks.urls import HostUnresolvable, Target, UrlPolicy, pinned_url

if TYPE_CHECKING:
    import httpx

_log = logging.getLogger(__name__)

# Seconds to wait before retry 1, 2, ...: six attempts over about 45 minutes.
DEFAULT_SCHEDULE: tuple[float, ...] = (5, 30, 120, 600, 1800)
RETRY_STATUSES = frozenset({408, 429})
USER_AGENT = "embodied-ai-webhooks/1"
_MAX_ERROR = 500


def retry_after_s(value: str | None, now: float) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


def _short(text: str) -> str:
    return text if len(text) <= _MAX_ERROR else text[:_MAX_ERROR - 1] + "…"


def _httpx() -> Any:
    """httpx, imported on first use: with the CLI libraries it loads it costs an idle robot's
    jobs process 9 MB of memory until a webhook is sent."""
    import httpx
    return httpx


class Dispatcher:
    def __init__(self, store: WebhookStore, policy: UrlPolicy, client: httpx.Client | None = None,
                 schedule: Sequence[float] = DEFAULT_SCHEDULE, clock: Callable[[], float] = time.time,
                 timeout_s: float = 10.0, poll_s: float = 5.0, jitter: float = 0.1,
                 max_retry_after_s: float = 3600.0, batch: int = 20, rng: random.Random | None = None) -> None:
        """``clock`` is wall time in epoch seconds: it dates the signature and schedules retries."""
        self.store = store
        self.policy = policy
        self.schedule = tuple(float(s) for s in schedule)
        self._clock = clock
        self._timeout_s = timeout_s
        self._poll_s = poll_s
        self._jitter = jitter
        self._max_retry_after_s = max_retry_after_s
        self._batch = batch
        # A claimed delivery is not claimed again until the attempt had time to finish or fail.
        self._lease_s = 2 * timeout_s + 5
        self._rng = rng or random.Random()
        self._own_client = client is None
        self._client: httpx.Client | None = client   # made on the first send when not given
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the background thread -----------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="webhook-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the thread (an attempt in flight finishes first) and close the client it made."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None   # started again: a new one

    def wake(self) -> None:
        """Look for due deliveries now (call after ``store.enqueue``) rather than at the next poll."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            wait_s = self._poll_s
            try:
                self.deliver_due()
                wait_s = self._wait_s()
            except Exception:  # a database or programming error must not end the thread silently
                _log.exception("webhook dispatch pass failed")
            self._wake.wait(wait_s)
            self._wake.clear()

    def _wait_s(self) -> float:
        due = self.store.next_due_at()
        if due is None:
            return self._poll_s
        return min(self._poll_s, max(0.0, due - self._clock()))

    # -- sending ------------------------------------------------------------------------
    def deliver_due(self) -> list[Delivery]:
        """One pass: every delivery due now is attempted once; the updated records come back."""
        done: list[Delivery] = []
        while not self._stop.is_set():
            claimed = self.store.claim_due(self._batch, self._lease_s)
            for delivery, webhook in claimed:
                updated = self.attempt(delivery, webhook)
                if updated is not None:
                    done.append(updated)
            if len(claimed) < self._batch:
                break
        return done

    def attempt(self, delivery: Delivery, webhook: Webhook) -> Delivery | None:
        """Send one delivery once and record the outcome (None when it was deleted meanwhile)."""
        try:
            target = self.policy.check(webhook.url)
        except HostUnresolvable as exc:
            return self._retry(delivery, None, exc.message, None)
        except InvalidRequest as exc:
            return self._fail(delivery, None, f"refused: {exc.message}")
        try:
            response = self._post(target, delivery, webhook.secret)
        except _httpx().TransportError as exc:  # connection refused, timeout, TLS, protocol errors
            return self._retry(delivery, None, f"{type(exc).__name__}: {exc}", None)
        code = response.status_code
        if 200 <= code < 300:
            return self.store.record_attempt(delivery.id, "delivered", code)
        error = f"HTTP {code} {response.reason_phrase}".strip()
        if code in RETRY_STATUSES or code >= 500:
            return self._retry(delivery, code, error, response.headers.get("retry-after"))
        if 300 <= code < 400:
            error += " (redirects are not followed)"
        return self._fail(delivery, code, error)

    def _fail(self, delivery: Delivery, code: int | None, error: str) -> Delivery | None:
        _log.warning("webhook delivery %s (%s to %s) failed: %s", delivery.id, delivery.event, delivery.webhook_id,
                     error)
        return self.store.record_attempt(delivery.id, "failed", code, _short(error))

    def _retry(self, delivery: Delivery, code: int | None, error: str, retry_after: str | None) -> Delivery | None:
        # round_attempts counts the attempts before this one: the delay after attempt n is schedule[n-1].
        index = delivery.round_attempts
        if index >= len(self.schedule):
            return self._fail(delivery, code, f"{error} (retries exhausted)")
        now = self._clock()
        delay = self.schedule[index] * (1 + self._rng.uniform(-self._jitter, self._jitter))
        asked = retry_after_s(retry_after, now)
        if asked is not None:
            delay = min(asked, self._max_retry_after_s)
        return self.store.record_attempt(delivery.id, "pending", code, _short(error), next_attempt_at=now + delay)

    def _post(self, target: Target, delivery: Delivery, secret: str) -> httpx.Response:
        body = delivery.payload.encode("utf-8")
        sent_at = datetime.fromtimestamp(self._clock(), timezone.utc)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": delivery.id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": standardwebhooks.Webhook(signing_key(secret)).sign(delivery.id, sent_at, body),
        }
        if not target.addresses:  # an IP literal: nothing to pin
            return self._send(target.url, headers, body, None)
        # A host name: connect to the addresses the policy approved, in order, keeping the name
        # for the Host header and TLS (SNI and certificate check).
        parts = urlsplit(target.url)
        headers["host"] = parts.netloc.rsplit("@", 1)[-1]
        sni = target.host if parts.scheme.lower() == "https" else None
        for address in target.addresses[:-1]:
            try:
                return self._send(pinned_url(parts, address), headers, body, sni)
            except _httpx().ConnectError:
                continue
        return self._send(pinned_url(parts, target.addresses[-1]), headers, body, sni)

    def _send(self, url: str, headers: dict[str, str], body: bytes, sni: str | None) -> httpx.Response:
        httpx = _httpx()
        if self._client is None:
            self._client = httpx.Client(follow_redirects=False)
        request = self._client.build_request(
            "POST", url, headers=headers, content=body, timeout=httpx.Timeout(self._timeout_s),
            extensions={"sni_hostname": sni} if sni else None,
        )
        # Only the status and headers matter: the body is never read (a receiver cannot make us buffer it).
        response = self._client.send(request, stream=True, follow_redirects=False)
        response.close()
        return response
