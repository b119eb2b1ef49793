"""Webhooks as the bridge reaches them (the jobs node): JSON-ready dicts as the node shows them
(embodied_ai.webhooks.models.Webhook.to_dict and Delivery.to_dict)."""

from __future__ import annotations

from typing import Any, Protocol

WebhookView = dict[str, Any]
DeliveryView = dict[str, Any]


class WebhooksPort(Protocol):
    async def register(self, url: str, events: list[str], secret: str | None, description: str) -> WebhookView:
        """The new webhook with its secret (shown this once); InvalidRequest listing every problem."""
        ...

    async def list_webhooks(self) -> list[WebhookView]: ...

    async def delete(self, webhook_id: str) -> None:
        """NotFound for an unknown id."""
        ...

    async def deliveries(self, webhook_id: str, limit: int, offset: int) -> tuple[list[DeliveryView], int]: ...

    async def redeliver(self, delivery_id: str) -> DeliveryView:
        """Conflict while the delivery is still pending."""
        ...
