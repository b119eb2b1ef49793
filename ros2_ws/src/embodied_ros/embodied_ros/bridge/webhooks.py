"""WebhooksPort over the jobs node's webhook services."""

from __future__ import annotations

import json
from typing import Any

from embodied_ai.bridge.ports.webhooks import DeliveryView, WebhookView
from embodied_ai.bridge.settings import BridgeTimeouts
from embodied_ai.errors import ErrorCode
from embodied_ros.bridge.jobs import JOBS_NODE
from embodied_ros.bridge.plumbing import Graph, Service, optional_interface
from embodied_ros.kit.goal_client import Endpoint, check

RegisterWebhook = optional_interface("embodied_interfaces.srv", "RegisterWebhook")
ListWebhooks = optional_interface("embodied_interfaces.srv", "ListWebhooks")
DeleteWebhook = optional_interface("embodied_interfaces.srv", "DeleteWebhook")
ListWebhookDeliveries = optional_interface("embodied_interfaces.srv", "ListWebhookDeliveries")
RedeliverWebhook = optional_interface("embodied_interfaces.srv", "RedeliverWebhook")


class RosWebhooks:
    def __init__(self, graph: Graph, timeouts: BridgeTimeouts) -> None:
        self._timeouts = timeouts

        def service(kind: Any, name: str) -> Service:
            return Service(graph, kind, Endpoint(name, ErrorCode.TRAINING_FAILED, JOBS_NODE, server="jobs"))

        self._register = service(RegisterWebhook, "register_webhook")
        self._list = service(ListWebhooks, "list_webhooks")
        self._delete = service(DeleteWebhook, "delete_webhook")
        self._deliveries = service(ListWebhookDeliveries, "list_webhook_deliveries")
        self._redeliver = service(RedeliverWebhook, "redeliver_webhook")

    async def _call(self, service: Service, **request: Any) -> Any:
        return check(await service.call(self._timeouts.registry_s, **request), service.endpoint)

    async def register(self, url: str, events: list[str], secret: str | None, description: str) -> WebhookView:
        response = await self._call(self._register, url=url, events=events, secret=secret or "",
                                    description=description)
        return dict(json.loads(response.webhook_json))

    async def list_webhooks(self) -> list[WebhookView]:
        return list(json.loads((await self._call(self._list)).webhooks_json))

    async def delete(self, webhook_id: str) -> None:
        await self._call(self._delete, webhook_id=webhook_id)

    async def deliveries(self, webhook_id: str, limit: int, offset: int) -> tuple[list[DeliveryView], int]:
        response = await self._call(self._deliveries, webhook_id=webhook_id, limit=limit, offset=offset)
        return list(json.loads(response.deliveries_json)), int(response.total)

    async def redeliver(self, delivery_id: str) -> DeliveryView:
        return dict(json.loads((await self._call(self._redeliver, delivery_id=delivery_id)).delivery_json))
