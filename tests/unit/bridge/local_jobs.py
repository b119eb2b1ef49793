"""The JobsPort, WebhooksPort and DatasetsPort over a real job system, real webhooks and a real dataset
registry in this process (SQLite, runner and dispatcher threads, loopback HTTP), for the routes' tests:
the jobs node serves the same core over ROS."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from embodied_ai.bridge.ports.cluster import TaskMetricsView, WorkerView
from embodied_ai.bridge.ports.datasets import DatasetView, PreviewView
from embodied_ai.bridge.ports.jobs import JobView, LogLineView
from embodied_ai.bridge.ports.models import ArtefactFile, CardView, MetricsView, ModelFilter, ModelView, PerformanceView
from embodied_ai.bridge.ports.operations import OpsLogView
from embodied_ai.bridge.ports.webhooks import DeliveryView, WebhookView
from embodied_ai.datasets import DatasetStore
from embodied_ai.distributed.assignments import Assignments
from embodied_ai.distributed.service import ClusterService
from embodied_ai.experts.training_jobs import TrainingJobConfig
from embodied_ai.jobs import JobContext, JobKind, JobRunner, JobStore
from embodied_ai.jobs.models import Job
from embodied_ai.jobs.service import JobsService
from embodied_ai.model_registry.service import ModelsService
from embodied_ai.ops_logs import OpsLogStore
from embodied_ai.skills.jobs import kinds as skill_kinds
from embodied_ai.webhooks import Dispatcher, UrlPolicy, WebhookStore
from embodied_ai.webhooks.events import job_announcer, model_announcer
from tests.unit.model_registry.serving import Registries


def count_to(ctx: JobContext) -> dict[str, Any]:
    """A small real job: counts to config['to'], a step and a log line each, honouring cancel."""
    to = int(ctx.job.config.get("to", 3))
    for n in range(1, to + 1):
        ctx.raise_if_cancelled()
        ctx.run_step(f"count_{n}", lambda n=n: {"n": n})
        ctx.log("METRIC", f"counted {n}", agent="counter", step=n, loss=1.0 / n)
        ctx.progress(n / to)
        if ctx.job.config.get("slow"):
            time.sleep(0.2)
    return {"counted": to}


TRAINING_STEP_S = 0.1   # a training test double's step: long enough to pause it between two


def train_steps(ctx: JobContext) -> dict[str, Any]:
    """A ``training`` test double over the real training job's config (TrainingJobConfig): a step, a
    METRIC line and progress per step up to max_steps (default 3), honouring cancel and pause; resumable."""
    config = TrainingJobConfig.parse(ctx.job.config)
    total = config.max_steps or 3
    for step in range(1, total + 1):
        ctx.raise_if_cancelled()
        ctx.run_step(f"step_{step}", lambda step=step: {"loss": 1.0 / step})
        ctx.log("METRIC", f"step {step}", step=step, loss=1.0 / step, values={"accuracy": step / total})
        ctx.progress(step / total)
        time.sleep(TRAINING_STEP_S)
    return {"expert": str(config.expert_id), "steps": total}


def describe_training(job: Job, finished: Mapping[str, Any]) -> dict[str, Any]:
    """The real training kind's progress_detail fields, from the double's finished steps."""
    step = len(finished)
    return {"expert": str(job.config.get("expert_id")), "current_step": step,
            "total_steps": int(job.config.get("max_steps") or 3), "current_loss": 1.0 / step if step else None,
            "version": None, "distributed": bool(job.config.get("distributed")),
            "n_clients": int(job.config.get("n_clients") or 1), "waiting_reason": None}


def validate_training(config: dict[str, Any]) -> None:
    TrainingJobConfig.parse(config)


TRAINING_DOUBLE = JobKind(train_steps, resumable=True, validate=validate_training, describe=describe_training)


class JobsServicePort:
    """The JobsPort over a JobsService in this process: what the jobs node serves over ROS."""

    def __init__(self, service: JobsService) -> None:
        self.service = service

    async def submit(self, type: str, config: dict[str, Any], priority: int, scheduled_at: str | None) -> JobView:
        return self.service.view(self.service.runner.submit(type, config, priority=priority, scheduled_at=scheduled_at))

    async def get(self, job_id: int) -> JobView:
        return self.service.view(self.service.get(job_id))

    async def list_jobs(self, status: str | None, type: str | None, limit: int,
                        offset: int) -> tuple[list[JobView], int]:
        jobs, total = self.service.list_jobs(status or "", type or "", limit, offset)
        return [self.service.view(job) for job in jobs], total

    async def cancel(self, job_id: int) -> JobView:
        return self.service.view(self.service.cancel(job_id))

    async def control(self, job_id: int, action: str, reason: str) -> JobView:
        return self.service.view(self.service.control(job_id, action, reason))

    async def logs(self, job_id: int, after_seq: int, limit: int) -> tuple[list[LogLineView], bool]:
        return self.service.logs(job_id, after_seq, limit)


class LocalJobs(JobsServicePort):
    def __init__(self, directory: Path) -> None:
        self.store = JobStore(directory / "operations.sqlite")
        # The model registry in the same database, with this directory's experts (the jobs node's core).
        self.model_registries = Registries.open(directory)
        self.runner = JobRunner(self.store, {"count": JobKind(count_to, resumable=True), "training": TRAINING_DOUBLE,
                                             **skill_kinds(directory / "job_work", self.model_registries.models)},
                                poll_s=0.1)
        super().__init__(JobsService(self.store, self.runner))
        policy = UrlPolicy()   # loopback only
        self.webhook_store = WebhookStore(directory / "operations.sqlite", policy)
        self.dispatcher = Dispatcher(self.webhook_store, policy, schedule=(0.05, 0.05))
        self.runner.on_event(job_announcer(self.webhook_store, self.dispatcher))
        self.webhooks = LocalWebhooks(self.webhook_store, self.dispatcher)
        self.ops_logs = OpsLogStore(directory / "operations.sqlite")
        self.operations = LocalOperations(self.ops_logs)
        # The datasets folder of this directory as a state directory (the bridge's uploads are elsewhere).
        self.dataset_store = DatasetStore(directory / "operations.sqlite", directory / "datasets")
        self.datasets = LocalDatasets(self.dataset_store)
        self.model_registries.models.on_event(model_announcer(self.webhook_store, self.dispatcher))
        self.models = LocalModels(self.model_registries.service)
        self.dispatcher.start()
        self.runner.start()

    def close(self) -> None:
        self.runner.stop(timeout=5.0)
        self.dispatcher.stop()
        self.webhook_store.close()
        self.ops_logs.close()
        self.dataset_store.close()
        self.model_registries.close()
        self.store.close()

class ClusterServicePort:
    """The ClusterPort over a ClusterService in this process: what the jobs node serves over ROS."""

    def __init__(self, service: ClusterService) -> None:
        self.service = service

    async def workers(self) -> tuple[str, list[WorkerView]]:
        return self.service.backend, self.service.workers()

    async def worker(self, worker_id: str) -> WorkerView:
        return self.service.worker(worker_id)

    async def task_metrics(self, job_id: int) -> TaskMetricsView:
        return self.service.task_metrics(job_id)


class LocalCluster(ClusterServicePort):
    """A real ClusterService (the local backend) on LocalJobs' store; its events go to
    ``emit(channel, event, data)`` (the graph's status, as the bridge node's Events)."""

    def __init__(self, jobs: LocalJobs, directory: Path, emit: Callable[[str, str, dict[str, object]], None]) -> None:
        self.assignments = Assignments(directory / "operations.sqlite")
        super().__init__(ClusterService("local", jobs.store, self.assignments, None))
        self._unsubscribe = self.service.on_event(lambda type, data: emit("cluster", type, data))

    def close(self) -> None:
        self._unsubscribe()
        self.assignments.close()


class LocalWebhooks:
    def __init__(self, store: WebhookStore, dispatcher: Dispatcher) -> None:
        self.store, self.dispatcher = store, dispatcher

    async def register(self, url: str, events: list[str], secret: str | None, description: str) -> WebhookView:
        return self.store.register(url, events, secret, description).to_dict(include_secret=True)

    async def list_webhooks(self) -> list[WebhookView]:
        return [webhook.to_dict() for webhook in self.store.list_webhooks()]

    async def delete(self, webhook_id: str) -> None:
        self.store.delete_webhook(webhook_id)

    async def deliveries(self, webhook_id: str, limit: int, offset: int) -> tuple[list[DeliveryView], int]:
        self.store.get_webhook(webhook_id)
        page, total = self.store.deliveries(webhook_id, limit=limit, offset=offset)
        return [delivery.to_dict() for delivery in page], total

    async def redeliver(self, delivery_id: str) -> DeliveryView:
        delivery = self.store.redeliver(delivery_id)
        self.dispatcher.wake()
        return delivery.to_dict()


class LocalOperations:
    def __init__(self, store: OpsLogStore) -> None:
        self.store = store

    async def logs(self, service: str | None, level: str | None, since: str | None, until: str | None,
                   limit: int, cursor: str | None) -> tuple[list[OpsLogView], str | None]:
        return self.store.query(service, level, since, until, limit, cursor)


class LocalDatasets:
    def __init__(self, store: DatasetStore) -> None:
        self.store = store

    async def add(self, path: Path, filename: str, name: str | None, expert: str | None, description: str,
                  format: str | None) -> DatasetView:
        return self.store.add(path, filename, name, expert, description, format).to_dict()

    async def get(self, dataset_id: int) -> DatasetView:
        return self.store.get(dataset_id).to_dict()

    async def preview(self, dataset_id: int, limit: int) -> PreviewView:
        return self.store.preview(dataset_id, limit)

    async def list_datasets(self, limit: int, offset: int) -> tuple[list[DatasetView], int]:
        page, total = self.store.list(limit, offset)
        return [dataset.to_dict() for dataset in page], total


class LocalModels:
    def __init__(self, service: ModelsService) -> None:
        self.service = service

    async def list_models(self, filters: ModelFilter, limit: int, offset: int) -> tuple[list[ModelView], int]:
        page, total = self.service.list_models(filters.kind, filters.status, filters.name, filters.base_model, limit,
                                               offset)
        return self.service.views(page), total

    async def get(self, model: str) -> ModelView:
        return self.service.describe(model, "info")

    async def card(self, model: str) -> CardView:
        return self.service.describe(model, "card")

    async def metrics(self, model: str, start_time: str | None, end_time: str | None, interval: str) -> MetricsView:
        return self.service.describe(model, "metrics", start_time, end_time, interval)

    async def performance(self, model: str) -> PerformanceView:
        return self.service.describe(model, "performance")

    async def artefact(self, model: str, format: str) -> ArtefactFile:
        download = self.service.download(model, format)
        return ArtefactFile(download.path, download.media_type, download.filename, download.bytes, download.sha256)

    async def set_loaded(self, model: str, loaded: bool) -> ModelView:
        return self.service.view(self.service.load(model) if loaded else self.service.unload(model))
