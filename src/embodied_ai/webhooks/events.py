"""What the webhooks announce: the job system's and the model registry's events, as payload data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from embodied_ai.jobs.models import Job
from embodied_ai.model_registry.store import ModelVersion
from embodied_ai.webhooks.dispatcher import Dispatcher
from embodied_ai.webhooks.models import EVENTS
from embodied_ai.webhooks.store import WebhookStore

JOB_EVENTS = frozenset(event for event in EVENTS if event.startswith("job."))
MODEL_EVENTS = frozenset(event for event in EVENTS if event.startswith("model."))


def job_event_data(job: Job) -> dict[str, Any]:
    """The ``data`` of a job.* delivery (seed 002's example: job_id, status, results_url)."""
    data: dict[str, Any] = {"job_id": job.id, "type": job.type, "status": job.status.value,
                            "name": job.config.get("name"), "completed_at": job.completed_at,
                            "results_url": f"/v1/jobs/{job.id}"}
    if job.error:
        data["error"] = job.error
    return data


def job_announcer(store: WebhookStore, dispatcher: Dispatcher) -> Callable[[Job, str], None]:
    """A job system listener that puts each job.* event in the outbox (written before it is sent,
    so a delivery survives a restart) and wakes the dispatcher."""
    def announce(job: Job, event: str) -> None:
        if event in JOB_EVENTS:
            store.enqueue(event, job_event_data(job))
            dispatcher.wake()
    return announce


def model_event_data(model: ModelVersion) -> dict[str, Any]:
    """The ``data`` of a model.* delivery: the version as seed 004 names it, and where to read it."""
    return {"model_id": model.id, "model_name": model.name, "version": model.version, "ref": model.ref,
            "kind": model.kind.value, "status": model.status.value, "base_model": model.base_model,
            "exports": model.formats, "created_at": model.created_at, "loaded_at": model.loaded_at,
            "model_url": f"/v1/models/{model.id}"}


def model_announcer(store: WebhookStore, dispatcher: Dispatcher) -> Callable[[ModelVersion, str], None]:
    """A model registry listener (``ModelRegistry.on_event``) that puts each model.* event webhooks announce
    (model.registered, model.loaded) in the outbox and wakes the dispatcher."""
    def announce(model: ModelVersion, event: str) -> None:
        if event in MODEL_EVENTS:
            store.enqueue(event, model_event_data(model))
            dispatcher.wake()
    return announce
