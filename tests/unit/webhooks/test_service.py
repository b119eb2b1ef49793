"""Webhooks as the jobs node serves them: the secret shown once, an unknown webhook's deliveries
are NotFound (not an empty page), a redelivery goes out again at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied_ai.errors import NotFound
from embodied_ai.webhooks import Dispatcher, UrlPolicy, WebhookStore
from embodied_ai.webhooks.service import WebhooksService
from tests.unit.webhooks.conftest import Receiver


def test_register_list_deliver_and_redeliver(tmp_path: Path, receiver: Receiver) -> None:
    store = WebhookStore(tmp_path / "operations.sqlite", UrlPolicy())
    dispatcher = Dispatcher(store, UrlPolicy(), schedule=(0.05,))
    service = WebhooksService(store, dispatcher)
    created = service.register(receiver.url(), ["job.failed"], "your_webhook_secret", "ops")
    assert created["secret"] == "your_webhook_secret"
    assert [w.get("secret") for w in service.list_webhooks()] == [None]
    [delivery] = store.enqueue("job.failed", {"job_id": 1})
    dispatcher.deliver_due()
    page, total = service.deliveries(created["id"])
    assert total == 1 and page[0]["status"] == "delivered"
    dispatcher.start()
    try:
        assert service.redeliver(delivery.id)["status"] == "pending"
        assert receiver.wait_for(2)[1].headers["webhook-id"] == delivery.id
    finally:
        dispatcher.stop()
    with pytest.raises(NotFound):
        service.deliveries("wh_00")
    service.delete(created["id"])
    assert service.list_webhooks() == []
    store.close()
