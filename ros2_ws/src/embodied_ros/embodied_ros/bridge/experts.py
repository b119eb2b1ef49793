"""The experts port over rclpy: the experts node's registry services (list_experts ...
delete_expert), and training as jobs of the jobs node (submit_job with type ``training``,
training_status, cancel_job).

A job's status is always read from the jobs node (its record and the run's status file), so it
is right after the job ended and after a restart of the bridge or the jobs node; stop cancels
the job (a checkpoint is saved) and answers once it has stopped. Progress goes out on the
WebSocket ``training`` channel from the jobs node's job_events (embodied_ros.bridge.jobs).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

from embodied_ai.bridge.ports.experts import (
    ExpertChanges,
    ExpertCreated,
    ExpertDeleted,
    ExpertFilter,
    ExpertList,
    ExpertRecord,
    ExpertSpec,
    ModelShape,
    ResizeStarted,
    TrainingProgress,
    TrainingSpec,
    TrainingStarted,
    TrainingStopped,
)
from embodied_ai.bridge.settings import BridgeTimeouts
from embodied_ai.errors import EmbodiedError, ErrorCode, GraphTimeout
from embodied_ros.bridge.jobs import JOBS_NODE
from embodied_ros.bridge.plumbing import Events, Graph, Service, finite, optional_interface
from embodied_ros.kit.goal_client import Endpoint, check

SubmitJob = optional_interface("embodied_interfaces.srv", "SubmitJob")
CancelJob = optional_interface("embodied_interfaces.srv", "CancelJob")
ListExperts = optional_interface("embodied_interfaces.srv", "ListExperts")
GetExpert = optional_interface("embodied_interfaces.srv", "GetExpert")
CreateExpert = optional_interface("embodied_interfaces.srv", "CreateExpert")
UpdateExpert = optional_interface("embodied_interfaces.srv", "UpdateExpert")
DeleteExpert = optional_interface("embodied_interfaces.srv", "DeleteExpert")
GetTrainingStatus = optional_interface("embodied_interfaces.srv", "GetTrainingStatus")

EXPERTS_NODE = "the experts node is not running"
STOPPABLE = ("queued", "running", "stopping")
ENDING = (*STOPPABLE, "registering")  # a stopped job is in one of these until it has ended
STOP_POLL_S = 0.5
TRAINING_JOB = "training"             # the jobs node's job type (embodied_ai.experts.training_jobs)


def numbers(text: str) -> dict[str, float]:
    """A JSON object's finite numeric entries (the registry's metrics and performance may hold notes)."""
    values = json.loads(text or "{}")
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v)}


def expert_record(msg: Any) -> ExpertRecord:
    """An embodied_interfaces/Expert ("" and -1 are the message's "unknown")."""
    return ExpertRecord(
        id=msg.id, name=msg.name, domain=msg.domain, category=msg.category, status=msg.status,
        config=json.loads(msg.config_json or "{}"), metrics=numbers(msg.metrics_json),
        performance=numbers(msg.performance_json), total_calls=msg.total_calls, last_used=msg.last_used or None,
        quantization=msg.quantization or None, total_params=msg.total_params if msg.total_params >= 0 else None,
        kind=msg.kind or None, current_version=msg.current_version, created_at=msg.created_at or None)


class RosExperts:
    def __init__(self, graph: Graph, events: Events, timeouts: BridgeTimeouts) -> None:
        self._events, self._timeouts = events, timeouts

        def service(kind: Any, name: str, code: ErrorCode) -> Service:
            return Service(graph, kind, Endpoint(name, code, EXPERTS_NODE, server="experts"))

        self._list = service(ListExperts, "list_experts", ErrorCode.EXPERT_NOT_READY)
        self._get = service(GetExpert, "get_expert", ErrorCode.EXPERT_NOT_READY)
        self._create = service(CreateExpert, "create_expert", ErrorCode.EXPERT_CREATION_FAILED)
        self._update = service(UpdateExpert, "update_expert", ErrorCode.EXPERT_NOT_READY)
        self._delete = service(DeleteExpert, "delete_expert", ErrorCode.EXPERT_NOT_READY)

        def jobs_service(kind: Any, name: str) -> Service:
            return Service(graph, kind, Endpoint(name, ErrorCode.TRAINING_FAILED, JOBS_NODE, server="jobs"))

        self._status = jobs_service(GetTrainingStatus, "training_status")
        self._submit, self._cancel = jobs_service(SubmitJob, "submit_job"), jobs_service(CancelJob, "cancel_job")

    async def _registry(self, service: Service, timeout_s: float | None = None, **request: Any) -> Any:
        """A registry call's response, checked (its failure code is the service's when it has none)."""
        response = await service.call(timeout_s or self._timeouts.registry_s, **request)
        return check(response, service.endpoint)

    # -- experts ---------------------------------------------------------------------------
    async def list_experts(self, query: ExpertFilter) -> ExpertList:
        response = await self._registry(self._list, category=query.category, status=query.status,
                                        sort_by=query.sort_by, limit=query.limit, offset=query.offset)
        return ExpertList([expert_record(e) for e in response.experts], int(response.total))

    async def get_expert(self, expert: str) -> ExpertRecord:
        return expert_record((await self._registry(self._get, expert=expert)).expert)

    async def create_expert(self, spec: ExpertSpec) -> ExpertCreated:
        response = await self._registry(
            self._create, name=spec.name, domain=spec.domain, category=spec.category, size=spec.size,
            d_model=spec.d_model, n_layers=spec.n_layers, n_heads=spec.n_heads, quantization=spec.quantization,
            base_model=spec.base_model)
        return ExpertCreated(expert_record(response.expert), finite(response.estimated_size_gb))

    async def update_expert(self, expert: str, changes: ExpertChanges) -> ExpertRecord:
        response = await self._registry(self._update, expert=expert, domain=changes.domain,
                                        category=changes.category, status=changes.status)
        return expert_record(response.expert)

    async def delete_expert(self, expert: str, hard_delete: bool) -> ExpertDeleted:
        response = await self._registry(self._delete, expert=expert, hard_delete=hard_delete)
        return ExpertDeleted(int(response.expert_id), response.status)

    async def resize_expert(self, expert: str, shape: ModelShape) -> ResizeStarted:
        record = await self.get_expert(expert)  # an unknown expert is a 404 before any job is made
        job = await self._start_job(expert_id=str(record.id), use_lora=False, d_model=shape.d_model,
                                    n_layers=shape.n_layers, n_heads=shape.n_heads)
        return ResizeStarted(record.id, record.name, job.job_id)

    # -- training ---------------------------------------------------------------------------
    async def start_training(self, spec: TrainingSpec) -> TrainingStarted:
        return await self._start_job(
            expert_id=str(spec.expert_id), dataset_id=spec.dataset_id, learning_rate=spec.learning_rate,
            batch_size=spec.batch_size, num_epochs=float(spec.num_epochs), warmup_steps=spec.warmup_steps,
            gradient_accumulation=spec.gradient_accumulation, use_lora=spec.use_lora, lora_rank=spec.lora_rank)

    async def _start_job(self, **config: Any) -> TrainingStarted:
        """Submit a training job (refused at once when it would fail: unknown expert, no dataset, busy)."""
        response = await self._registry(self._submit, type=TRAINING_JOB, config_json=json.dumps(config))
        job = json.loads(response.job_json)
        return TrainingStarted(int(job["id"]), "queued" if job["status"] == "pending" else str(job["status"]), None)

    async def _job(self, job_id: int) -> Any:
        return await self._registry(self._status, job_id=job_id)

    async def training_status(self, job_id: int) -> TrainingProgress:
        s = await self._job(job_id)
        return TrainingProgress(
            job_id=job_id, status=s.status, expert=s.expert, current_step=int(s.current_step),
            total_steps=int(s.total_steps), current_epoch=float(s.current_epoch), total_epochs=float(s.total_epochs),
            current_loss=finite(s.current_loss), best_loss=finite(s.best_loss),
            train_loss=[float(v) for v in s.train_loss], val_loss=[float(v) for v in s.val_loss],
            eta_s=finite(s.eta_seconds), recent_logs=list(s.recent_logs), checkpoint_saved=bool(s.checkpoint_saved),
            version=int(s.version) or None, error=s.error or None)

    async def stop_training(self, job_id: int) -> TrainingStopped:
        job = await self._job(job_id)
        if job.status not in STOPPABLE:
            raise EmbodiedError(f"training job {job_id} is {job.status}; only a queued or running job stops",
                                ErrorCode.TRAINING_FAILED)
        await self._registry(self._cancel, job_id=job_id)
        deadline = time.monotonic() + self._timeouts.stop_s
        while job.status in ENDING:
            if time.monotonic() > deadline:
                raise GraphTimeout(f"training job {job_id} did not stop within {self._timeouts.stop_s:.0f} s")
            await asyncio.sleep(STOP_POLL_S)
            job = await self._job(job_id)
        return TrainingStopped(job.status, bool(job.checkpoint_saved))
