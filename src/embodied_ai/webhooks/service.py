"""Webhooks as the jobs node serves them: requests and answers as JSON-ready values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from embodied_ai.webhooks.dispatcher import Dispatcher
from embodied_ai.webhooks.store import WebhookStore


class WebhooksService:
    def __init__(self, store: WebhookStore, dispatcher: Dispatcher) -> None:
        self.store, self.dispatcher = store, dispatcher

    def register(self, url: str, events: Sequence[str], secret: str = "", description: str = "") -> dict[str, Any]:
        """The new webhook with its secret (the only answer that shows it)."""
        return self.store.register(url, list(events), secret or None, description).to_dict(include_secret=True)

    def list_webhooks(self) -> list[dict[str, Any]]:
        return [webhook.to_dict() for webhook in self.store.list_webhooks()]

    def delete(self, webhook_id: str) -> None:
        self.store.delete_webhook(webhook_id)

    def deliveries(self, webhook_id: str, limit: int = 0, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        self.store.get_webhook(webhook_id)   # NotFound for an unknown webhook, not an empty page
        page, total = self.store.deliveries(webhook_id, limit=limit or 50, offset=offset)
        return [delivery.to_dict() for delivery in page], total

    def redeliver(self, delivery_id: str) -> dict[str, Any]:
        delivery = self.store.redeliver(delivery_id)
        self.dispatcher.wake()
        return delivery.to_dict()
