"""Webhooks API (seed 002): register, list, delete, and the delivery log with redelivery, over
the jobs node."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.ports.webhooks import WebhooksPort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, Message, ok
from embodied_ai.bridge.schemas.webhooks import (
    DeliveryData,
    DeliveryList,
    WebhookCreate,
    WebhookData,
    WebhookList,
    delivery_data,
    webhook_data,
)
from embodied_ai.bridge.security import authorize

router = APIRouter(prefix=deps.API_PREFIX, tags=["webhooks"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 409, 429, 503, 504))
Webhooks = Annotated[WebhooksPort, Depends(deps.webhooks)]
WebhookId = Annotated[str, Path(pattern=r"^wh_[0-9a-f]{1,64}$")]
DeliveryId = Annotated[str, Path(pattern=r"^msg_[0-9a-f]{1,64}$")]


@router.post("/webhooks", status_code=201, summary="Register a webhook (its secret is shown in this answer only)")
async def register_webhook(body: WebhookCreate, webhooks: Webhooks) -> Envelope[WebhookData]:
    return ok(webhook_data(await webhooks.register(body.url, body.events, body.secret, body.description)))


@router.get("/webhooks", summary="Registered webhooks")
async def list_webhooks(webhooks: Webhooks) -> Envelope[WebhookList]:
    return ok(WebhookList(webhooks=[webhook_data(view) for view in await webhooks.list_webhooks()]))


@router.delete("/webhooks/{webhook_id}", summary="Delete a webhook and its delivery log")
async def delete_webhook(webhook_id: WebhookId, webhooks: Webhooks) -> Envelope[Message]:
    await webhooks.delete(webhook_id)
    return ok(Message(status="deleted", message=f"webhook {webhook_id} deleted"))


@router.get("/webhooks/{webhook_id}/deliveries", summary="A webhook's deliveries, newest first")
async def list_deliveries(
    webhook_id: WebhookId, webhooks: Webhooks,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> Envelope[DeliveryList]:
    page, total = await webhooks.deliveries(webhook_id, limit, offset)
    return ok(DeliveryList(deliveries=[delivery_data(view) for view in page], total=total))


@router.post("/webhooks/deliveries/{delivery_id}/redeliver", summary="Send a delivery again (same webhook-id)")
async def redeliver(delivery_id: DeliveryId, webhooks: Webhooks) -> Envelope[DeliveryData]:
    return ok(delivery_data(await webhooks.redeliver(delivery_id)))
