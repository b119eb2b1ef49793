"""What the webhooks announce: the job system's and the model registry's events, as payload data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from embodied_ai.jobs.models import Job
from embodied_ai.webhooks.dispatcher import Dispatcher
from embodied_ai.webhooks.models import EVENTS
from embodied_ai.webhooks.store import WebhookStore

JOB_EVENTS = frozenset(event for event in EVENTS if event.startswith("job."))


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
