"""Webhooks (issue 12): subscribers register a URL for events and receive signed POSTs.

Modules: ``models`` (the event names, the Webhook and Delivery records, ids and secrets),
``urls`` (which URLs may receive deliveries: http(s) to an allow-listed host), ``store`` (the
webhooks and their delivery outbox in SQLite, so a delivery survives a restart) and
``dispatcher`` (a thread that sends due deliveries, signed as Standard Webhooks specifies, and
retries with back-off).
"""

from embodied_ai.webhooks.dispatcher import DEFAULT_SCHEDULE, Dispatcher
from embodied_ai.webhooks.models import EVENTS, Delivery, DeliveryStatus, Webhook, generate_secret
from embodied_ai.webhooks.store import WebhookStore
from embodied_ai.webhooks.urls import DEFAULT_ALLOWED_HOSTS, HostUnresolvable, Target, UrlPolicy

__all__ = [
    "DEFAULT_ALLOWED_HOSTS",
    "DEFAULT_SCHEDULE",
    "EVENTS",
    "Delivery",
    "DeliveryStatus",
    "Dispatcher",
    "HostUnresolvable",
    "Target",
    "UrlPolicy",
    "Webhook",
    "WebhookStore",
    "generate_secret",
]
