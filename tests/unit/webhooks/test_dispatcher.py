"""The dispatcher against a real HTTP receiver on 127.0.0.1: signatures, retries, redelivery,
restarts. Retry delays are 0.05 s; every wait is on a condition."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from embodied_ai.webhooks.dispatcher import Dispatcher, retry_after_s
from embodied_ai.webhooks.models import Delivery, DeliveryStatus
from embodied_ai.webhooks.store import WebhookStore
from embodied_ai.webhooks.urls import UrlPolicy
from tests.unit.webhooks.conftest import Receiver, wait_until

SHORT = (0.05, 0.05, 0.05)
MakeDispatcher = Callable[..., Dispatcher]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[WebhookStore]:
    opened = WebhookStore(tmp_path / "operations.sqlite")
    yield opened
    opened.close()


@pytest.fixture
def make_dispatcher() -> Iterator[MakeDispatcher]:
    made: list[Dispatcher] = []

    def make(store: WebhookStore, policy: UrlPolicy | None = None, **options: object) -> Dispatcher:
        options.setdefault("schedule", SHORT)
        options.setdefault("timeout_s", 2.0)
        options.setdefault("poll_s", 0.5)
        dispatcher = Dispatcher(store, policy or UrlPolicy(), **options)  # type: ignore[arg-type]
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        dispatcher.stop()


def settled(store: WebhookStore, delivery_id: str, status: DeliveryStatus) -> Callable[[], Delivery | None]:
    def check() -> Delivery | None:
        delivery = store.get_delivery(delivery_id)
        return delivery if delivery.status == status else None
    return check


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_delivery_is_signed_as_standard_webhooks_specifies(
        store: WebhookStore, receiver: Receiver, make_dispatcher: MakeDispatcher) -> None:
    webhook = store.register(receiver.url(), ["job.completed"])
    [delivery] = store.enqueue("job.completed", {"job_id": "job_abc123", "status": "completed"})
    dispatcher = make_dispatcher(store)
    [done] = dispatcher.deliver_due()
    assert (done.id, done.status, done.attempts, done.last_status_code) == (delivery.id, "delivered", 1, 200)
    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == delivery.id
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5
    assert request.headers["webhook-signature"].startswith("v1,")
    body = request.verify(webhook.secret)  # raises unless the signature holds for this secret
    assert body["type"] == "job.completed" and body["data"] == {"job_id": "job_abc123", "status": "completed"}
    assert body["timestamp"].endswith("Z")
    assert request.body == delivery.payload.encode()
    with pytest.raises(Exception):
        request.verify(store.register(receiver.url(), ["job.failed"]).secret)


def test_a_plain_secret_signs_with_its_bytes(store: WebhookStore, receiver: Receiver,
                                             make_dispatcher: MakeDispatcher) -> None:
    store.register(receiver.url(), ["job.failed"], secret="your_webhook_secret")
    store.enqueue("job.failed", {"job_id": 7})
    make_dispatcher(store).deliver_due()
    [request] = receiver.requests
    assert request.verify(b"your_webhook_secret")["data"] == {"job_id": 7}


@pytest.mark.parametrize("status", [500, 503, 429, 408])
def test_retryable_answers_are_retried_with_the_same_message_id(
        store: WebhookStore, receiver: Receiver, make_dispatcher: MakeDispatcher, status: int) -> None:
    webhook = store.register(receiver.url(), ["job.failed"])
    receiver.answer(status, status)
    [delivery] = store.enqueue("job.failed", {"job_id": "job_1", "error": "boom"})
    make_dispatcher(store).start()
    requests = receiver.wait_for(3)
    done = wait_until(settled(store, delivery.id, "delivered"))
    assert (done.attempts, done.last_status_code, done.last_error) == (3, 200, None)
    assert {r.headers["webhook-id"] for r in requests} == {delivery.id}
    assert len({r.body for r in requests}) == 1
    for request in requests:
        request.verify(webhook.secret)


def test_retries_end_in_failed_once_the_schedule_is_used_up(
        store: WebhookStore, receiver: Receiver, make_dispatcher: MakeDispatcher) -> None:
    store.register(receiver.url(), ["job.failed"])
    receiver.answer(*[500] * 10)
    [delivery] = store.enqueue("job.failed", {})
    make_dispatcher(store).start()
    failed = wait_until(settled(store, delivery.id, "failed"))
    assert failed.attempts == len(SHORT) + 1 and len(receiver.requests) == len(SHORT) + 1
    assert failed.last_status_code == 500 and "retries exhausted" in (failed.last_error or "")
    assert failed.next_attempt_at is None


@pytest.mark.parametrize("status", [400, 404, 410, 302])
def test_other_answers_fail_at_once(
        store: WebhookStore, receiver: Receiver, make_dispatcher: MakeDispatcher, status: int) -> None:
    store.register(receiver.url(), ["model.loaded"])
    elsewhere = Receiver()
    try:
        receiver.answer(status, headers={"location": elsewhere.url()} if status == 302 else None)
        [delivery] = store.enqueue("model.loaded", {"model_id": "m1"})
        dispatcher = make_dispatcher(store)
        [done] = dispatcher.deliver_due()
        assert (done.status, done.attempts, done.last_status_code) == ("failed", 1, status)
        assert store.next_due_at() is None and dispatcher.deliver_due() == []
        assert len(receiver.requests) == 1 and elsewhere.requests == []  # a redirect is not followed
        assert store.get_delivery(delivery.id).status == "failed"
    finally:
        elsewhere.close()


def test_a_refused_connection_is_retried(
        store: WebhookStore, make_dispatcher: MakeDispatcher) -> None:
    port = closed_port()
    store.register(f"http://127.0.0.1:{port}/hook", ["job.cancelled"])
    [delivery] = store.enqueue("job.cancelled", {"job_id": "job_5"})
    dispatcher = make_dispatcher(store)
    [first] = dispatcher.deliver_due()
    assert (first.status, first.last_status_code) == ("pending", None)
    assert "ConnectError" in (first.last_error or "")
    # The receiver comes up on that port: the retry reaches it, with the same message id.
    late = Receiver(port)
    try:
        dispatcher.start()
        [request] = late.wait_for(1)
        assert request.headers["webhook-id"] == delivery.id
        assert wait_until(settled(store, delivery.id, "delivered")).attempts == 2
    finally:
        late.close()


def test_a_refused_connection_fails_after_the_schedule(
        store: WebhookStore, make_dispatcher: MakeDispatcher) -> None:
    store.register(f"http://127.0.0.1:{closed_port()}/hook", ["job.cancelled"])
    [delivery] = store.enqueue("job.cancelled", {})
    make_dispatcher(store, schedule=(0.02,)).start()
    failed = wait_until(settled(store, delivery.id, "failed"))
    assert failed.attempts == 2 and "ConnectError" in (failed.last_error or "")


def test_retry_after_is_honoured_and_bounded(
        store: WebhookStore, receiver: Receiver, make_dispatcher: MakeDispatcher) -> None:
    store.register(receiver.url(), ["job.failed"])
    [asked, capped] = [store.enqueue("job.failed", {"n": n})[0] for n in range(2)]
    receiver.answer(429, headers={"retry-after": "120"})
    receiver.answer(503, headers={"retry-after": "86400"})
    dispatcher = make_dispatcher(store, max_retry_after_s=600)
    before = time.time()
    dispatcher.deliver_due()
    asked_at = store.get_delivery(asked.id).next_attempt_at
    capped_at = store.get_delivery(capped.id).next_attempt_at
    assert asked_at is not None and before + 119 <= asked_at <= time.time() + 120
    assert capped_at is not None and before + 599 <= capped_at <= time.time() + 600


def test_retry_after_parsing() -> None:
    assert retry_after_s("7", 0.0) == 7.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0) == 10.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490.0) == 0.0
    assert retry_after_s("soon", 0.0) is None and retry_after_s(None, 0.0) is None


def test_redelivery_sends_the_same_message_id_again(
        store: WebhookStore, receiver: Receiver, make_dispatcher: MakeDispatcher) -> None:
    webhook = store.register(receiver.url(), ["model.registered"])
    [delivery] = store.enqueue("model.registered", {"model_id": "m7", "version": 2})
    dispatcher = make_dispatcher(store)
    dispatcher.start()
    wait_until(settled(store, delivery.id, "delivered"))
    store.redeliver(delivery.id)
    dispatcher.wake()
    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.id
    assert first.body == second.body
    assert second.verify(webhook.secret)["data"] == {"model_id": "m7", "version": 2}
    assert wait_until(lambda: store.get_delivery(delivery.id).attempts == 2)


def test_pending_deliveries_go_out_after_a_restart(
        tmp_path: Path, receiver: Receiver, make_dispatcher: MakeDispatcher) -> None:
    path = tmp_path / "operations.sqlite"
    before = WebhookStore(path)
    webhook = before.register(receiver.url(), ["job.completed", "job.failed"])
    receiver.answer(500)
    [retried] = before.enqueue("job.completed", {"job_id": "job_a"})
    make_dispatcher(before).deliver_due()  # answered 500: pending, a retry due
    [queued] = before.enqueue("job.failed", {"job_id": "job_b"})  # never attempted
    before.close()  # the process "dies" here

    after = WebhookStore(path)
    dispatcher = make_dispatcher(after)
    try:
        dispatcher.start()
        wait_until(lambda: all(after.get_delivery(d.id).status == "delivered" for d in (retried, queued)))
        ids = [r.headers["webhook-id"] for r in receiver.wait_for(3)]
        assert ids.count(retried.id) == 2 and ids.count(queued.id) == 1
        for request in receiver.requests:
            request.verify(webhook.secret)
    finally:
        dispatcher.stop()  # before the store it reads is closed
        after.close()


def test_only_subscribers_of_the_event_receive_it(
        store: WebhookStore, receiver: Receiver, make_dispatcher: MakeDispatcher) -> None:
    jobs = store.register(receiver.url(path="/jobs"), ["job.completed", "job.failed"])
    store.register(receiver.url(path="/models"), ["model.loaded"])
    store.enqueue("job.failed", {"job_id": "job_x"})
    make_dispatcher(store).deliver_due()
    [request] = receiver.requests
    assert request.path == "/jobs" and request.verify(jobs.secret)["type"] == "job.failed"


def test_the_url_is_checked_again_at_delivery(
        store: WebhookStore, receiver: Receiver, make_dispatcher: MakeDispatcher) -> None:
    store.register(receiver.url(), ["job.completed"])
    [delivery] = store.enqueue("job.completed", {})
    # The allow-list changed since registration: loopback is no longer allowed.
    [done] = make_dispatcher(store, UrlPolicy(["10.0.0.0/8"])).deliver_due()
    assert done.status == "failed" and done.attempts == 1
    assert "refused" in (done.last_error or "") and "not in the webhook allow-list" in (done.last_error or "")
    assert receiver.requests == [] and done.id == delivery.id


def test_a_host_name_is_sent_to_its_checked_address(
        store: WebhookStore, receiver: Receiver, make_dispatcher: MakeDispatcher) -> None:
    # "hooks.test" resolves (by the injected resolver) to ::1, where nothing listens, then 127.0.0.1.
    policy = UrlPolicy(["hooks.test", "127.0.0.0/8", "::1"], resolver=lambda host: ["::1", "127.0.0.1"])
    store.policy = policy
    webhook = store.register(receiver.url(host="hooks.test"), ["job.completed"])
    store.enqueue("job.completed", {"job_id": "job_n"})
    [done] = make_dispatcher(store, policy).deliver_due()
    assert done.status == "delivered"
    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.test:{receiver.port}"
    request.verify(webhook.secret)


def test_wake_sends_a_new_event_before_the_next_poll(
        store: WebhookStore, receiver: Receiver, make_dispatcher: MakeDispatcher) -> None:
    store.register(receiver.url(), ["job.completed"])
    dispatcher = make_dispatcher(store, poll_s=60.0)
    dispatcher.start()
    # A first event, sent by the pass the thread makes as it starts; then it waits up to 60 s.
    [first] = store.enqueue("job.completed", {"job_id": "job_1"})
    dispatcher.wake()
    wait_until(settled(store, first.id, "delivered"))
    started = time.monotonic()
    store.enqueue("job.completed", {"job_id": "job_2"})
    dispatcher.wake()
    receiver.wait_for(2, timeout_s=2.0)
    assert time.monotonic() - started < 2.0
    assert json.loads(receiver.requests[1].body)["data"] == {"job_id": "job_2"}
