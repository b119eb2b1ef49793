"""The webhook store: registration checks, the outbox, claiming, the delivery log, redelivery."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai.errors import Conflict, InvalidRequest, NotFound
from embodied_ai.webhooks.models import generate_secret
from embodied_ai.webhooks.store import WebhookStore

URL = "http://127.0.0.1:9/hook"  # never contacted: the store sends nothing


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[WebhookStore]:
    opened = WebhookStore(tmp_path / "operations.sqlite", clock=clock)
    yield opened
    opened.close()


def test_register_generates_a_secret_shown_once(store: WebhookStore) -> None:
    webhook = store.register(URL, ["job.completed", "job.failed", "job.completed"], description="ci")
    assert webhook.id.startswith("wh_") and webhook.secret.startswith("whsec_")
    assert webhook.events == ("job.completed", "job.failed")  # duplicates dropped, order kept
    created = webhook.to_dict(include_secret=True)
    assert created["secret"] == webhook.secret
    assert created["created_at"] == "2023-11-14T22:13:20.000Z"
    shown = store.get_webhook(webhook.id).to_dict()
    assert "secret" not in shown
    assert shown == {"id": webhook.id, "url": URL, "events": ["job.completed", "job.failed"], "description": "ci",
                     "active": True, "created_at": "2023-11-14T22:13:20.000Z"}
    assert [w.id for w in store.list_webhooks()] == [webhook.id]


def test_a_caller_secret_is_kept_when_valid(store: WebhookStore) -> None:
    secret = generate_secret()
    assert store.register(URL, ["model.loaded"], secret=secret).secret == secret
    unpadded = secret.rstrip("=")
    assert store.register(URL, ["model.loaded"], secret=unpadded).secret == unpadded


def test_registration_lists_every_problem(store: WebhookStore) -> None:
    with pytest.raises(InvalidRequest) as refused:
        store.register("gopher://admin:pw@203.0.113.5/", ["job.completed", "job.exploded", "model.deleted"],
                       secret="too short", description="x" * 501)
    problems = refused.value.problems
    assert len(problems) == 7, problems
    assert any("scheme 'gopher'" in p for p in problems)
    assert any("credentials" in p for p in problems)
    assert any("203.0.113.5" in p for p in problems)
    assert any("'job.exploded'" in p for p in problems) and any("'model.deleted'" in p for p in problems)
    assert any("whsec_" in p for p in problems)
    assert any("description" in p for p in problems)
    assert store.list_webhooks() == []


@pytest.mark.parametrize("events", [[], "job.completed", None])
def test_events_must_be_a_non_empty_list(store: WebhookStore, events: object) -> None:
    with pytest.raises(InvalidRequest) as refused:
        store.register(URL, events)  # type: ignore[arg-type]
    assert refused.value.problems == [
        "events must be a non-empty list of: job.completed, job.failed, job.cancelled, model.registered, "
        "model.loaded"]


@pytest.mark.parametrize("secret", ["whsec_", "whsec_!!!!", "whsec_" + "QUFB" * 4, "too short", " padded secret text ",
                                    "a tab\tin the secret text"])
def test_bad_secrets_are_refused(store: WebhookStore, secret: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        store.register(URL, ["job.failed"], secret=secret)
    assert len(refused.value.problems) == 1 and "whsec_" in refused.value.problems[0]


def test_a_plain_secret_as_seed_002_writes_it_is_kept(store: WebhookStore) -> None:
    assert store.register(URL, ["job.failed"], secret="your_webhook_secret").secret == "your_webhook_secret"


def test_delete_removes_the_webhook_and_its_log(store: WebhookStore) -> None:
    webhook = store.register(URL, ["job.failed"])
    [delivery] = store.enqueue("job.failed", {"job_id": "job_1"})
    store.delete_webhook(webhook.id)
    with pytest.raises(NotFound):
        store.get_webhook(webhook.id)
    with pytest.raises(NotFound):
        store.get_delivery(delivery.id)
    with pytest.raises(NotFound):
        store.delete_webhook(webhook.id)
    assert store.claim_due() == []


def test_enqueue_writes_one_delivery_per_subscribed_active_webhook(store: WebhookStore, clock: Clock) -> None:
    jobs = store.register(URL, ["job.completed", "job.failed"])
    models = store.register(URL, ["model.registered"])
    paused = store.set_active(store.register(URL, ["job.completed"]).id, False)
    assert not paused.active
    deliveries = store.enqueue("job.completed", {"job_id": "job_abc", "status": "completed"})
    assert [d.webhook_id for d in deliveries] == [jobs.id]
    [delivery] = deliveries
    assert delivery.id.startswith("msg_") and delivery.status == "pending" and delivery.attempts == 0
    assert delivery.next_attempt_at == clock.now
    assert json.loads(delivery.payload) == {
        "type": "job.completed", "event": "job.completed", "timestamp": "2023-11-14T22:13:20.000Z",
        "data": {"job_id": "job_abc", "status": "completed"}}
    assert store.enqueue("model.registered", {"model_id": "m1"})[0].webhook_id == models.id
    assert store.enqueue("model.loaded", {"model_id": "m1"}) == []


def test_enqueue_refuses_unknown_events_and_non_json_data(store: WebhookStore) -> None:
    with pytest.raises(InvalidRequest):
        store.enqueue("job.exploded", {})
    with pytest.raises(InvalidRequest) as refused:
        store.enqueue("job.failed", {"when": object()})
    assert "not JSON" in refused.value.problems[0]
    with pytest.raises(InvalidRequest):
        store.enqueue("job.failed", {"loss": float("nan")})


def test_the_outbox_survives_reopening(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "state" / "operations.sqlite"
    first = WebhookStore(path, clock=clock)
    first.register(URL, ["job.cancelled"])
    [delivery] = first.enqueue("job.cancelled", {"job_id": "job_9"})
    first.close()
    reopened = WebhookStore(path, clock=clock)
    [(claimed, webhook)] = reopened.claim_due()
    assert claimed == delivery and webhook.url == URL
    reopened.close()


def test_the_database_is_shared_wal_with_prefixed_tables(tmp_path: Path, store: WebhookStore) -> None:
    db = sqlite3.connect(tmp_path / "operations.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"webhooks", "webhook_deliveries"}
    db.close()


def test_claiming_leases_a_delivery_until_its_attempt_is_recorded(store: WebhookStore, clock: Clock) -> None:
    store.register(URL, ["job.failed"])
    [delivery] = store.enqueue("job.failed", {"job_id": "job_2"})
    assert [d.id for d, _ in store.claim_due(lease_s=30)] == [delivery.id]
    assert store.claim_due() == []  # leased: a second dispatcher does not send it too
    clock.now += 31  # the sender died without recording: the lease ran out, it is due again
    assert [d.id for d, _ in store.claim_due(lease_s=30)] == [delivery.id]
    retried = store.record_attempt(delivery.id, "pending", 500, "HTTP 500", next_attempt_at=clock.now + 5)
    assert retried is not None
    assert (retried.status, retried.attempts, retried.last_status_code) == ("pending", 1, 500)
    assert store.next_due_at() == clock.now + 5
    assert store.claim_due() == []
    clock.now += 5
    assert len(store.claim_due()) == 1
    delivered = store.record_attempt(delivery.id, "delivered", 200)
    assert delivered is not None and delivered.delivered_at == clock.now and delivered.next_attempt_at is None
    assert store.next_due_at() is None


def test_a_paused_webhook_keeps_its_pending_deliveries(store: WebhookStore) -> None:
    webhook = store.register(URL, ["job.failed"])
    store.enqueue("job.failed", {})
    store.set_active(webhook.id, False)
    assert store.claim_due() == [] and store.next_due_at() is None
    store.set_active(webhook.id, True)
    assert len(store.claim_due()) == 1


def test_record_attempt_rejects_inconsistent_outcomes(store: WebhookStore) -> None:
    with pytest.raises(ValueError):
        store.record_attempt("msg_x", "pending")
    with pytest.raises(ValueError):
        store.record_attempt("msg_x", "delivered", 200, next_attempt_at=1.0)
    assert store.record_attempt("msg_gone", "failed", 400) is None


def test_redeliver_keeps_the_message_id_and_restarts_the_schedule(store: WebhookStore, clock: Clock) -> None:
    store.register(URL, ["model.loaded"])
    [delivery] = store.enqueue("model.loaded", {"model_id": "m"})
    with pytest.raises(Conflict):
        store.redeliver(delivery.id)
    store.record_attempt(delivery.id, "pending", 503, "HTTP 503", next_attempt_at=clock.now + 1)
    store.record_attempt(delivery.id, "failed", 503, "HTTP 503 (retries exhausted)")
    clock.now += 100
    again = store.redeliver(delivery.id)
    assert (again.id, again.payload, again.status) == (delivery.id, delivery.payload, "pending")
    assert (again.attempts, again.round_attempts, again.next_attempt_at) == (2, 0, clock.now)
    assert again.last_error == "HTTP 503 (retries exhausted)"  # the log of the last attempt stays
    with pytest.raises(NotFound):
        store.redeliver("msg_missing")


def test_the_delivery_log_pages_newest_first(store: WebhookStore, clock: Clock) -> None:
    webhook = store.register(URL, ["job.completed"])
    ids = []
    for n in range(5):
        clock.now += 1
        ids.append(store.enqueue("job.completed", {"n": n})[0].id)
    store.record_attempt(ids[0], "delivered", 204)
    page, total = store.deliveries(webhook.id, limit=2)
    assert total == 5 and [d.id for d in page] == [ids[4], ids[3]]
    page, total = store.deliveries(webhook.id, limit=2, offset=4)
    assert total == 5 and [d.id for d in page] == [ids[0]]
    page, total = store.deliveries(webhook.id, status="delivered")
    shown = page[0].to_dict()
    assert total == 1 and shown["status"] == "delivered" and shown["payload"]["data"] == {"n": 0}
    with pytest.raises(InvalidRequest) as bad:
        store.deliveries(webhook.id, limit=0, offset=-1, status="lost")  # type: ignore[arg-type]
    assert len(bad.value.problems) == 3
    with pytest.raises(NotFound):
        store.deliveries("wh_missing")
