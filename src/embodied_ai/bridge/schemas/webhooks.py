"""The Webhooks API's contract (seed 002's POST /webhooks, plus list, delete and the delivery log)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, description="http(s) to a host the robot's allow-list admits")
    events: list[str] = Field(min_length=1, max_length=16, description=(
        "job.completed, job.failed, job.cancelled, model.registered, model.loaded"))
    secret: str | None = Field(default=None, max_length=256, description=(
        "whsec_<base64> (Standard Webhooks) or 16-256 printable characters (their bytes are the key); "
        "none = one is made and shown once"))
    description: str = Field(default="", max_length=500)


class WebhookData(BaseModel):
    webhook_id: str
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: str | None
    secret: str | None = Field(default=None, description="only in the answer to the registration")


class WebhookList(BaseModel):
    webhooks: list[WebhookData]


class DeliveryData(BaseModel):
    delivery_id: str = Field(description="the webhook-id header; the same on every retry and redelivery")
    webhook_id: str
    event: str
    payload: dict[str, Any]
    status: str = Field(description="pending | delivered | failed")
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str | None
    delivered_at: str | None


class DeliveryList(BaseModel):
    deliveries: list[DeliveryData]
    total: int


def webhook_data(view: dict[str, Any]) -> WebhookData:
    return WebhookData(webhook_id=view["id"], **{k: v for k, v in view.items() if k != "id"})


def delivery_data(view: dict[str, Any]) -> DeliveryData:
    return DeliveryData(delivery_id=view["id"], **{k: v for k, v in view.items() if k != "id"})
