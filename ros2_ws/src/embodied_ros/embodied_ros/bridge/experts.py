"""The experts port over rclpy: the experts node's registry services (list_experts ...
training_status) and its train_expert action.

Training progress of the goals this bridge sent goes out on the WebSocket ``training``
channel; a job's status is always read from the experts node (its status file), so it is right
after the job ended and after a restart of the bridge; stop cancels the job's goal by its id,
also one this bridge did not send (another client's, or from before a restart).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path
from typing import Any

from action_msgs.msg import GoalInfo
from action_msgs.srv import CancelGoal
from unique_identifier_msgs.msg import UUID

from embodied_ai.bridge.ports.experts import (
    DatasetRegistered,
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
from embodied_ros.bridge.plumbing import Action, Events, Graph, Service, finite, optional_interface
from embodied_ros.kit.goal_client import Endpoint, check, to_asyncio

TrainExpert = optional_interface("embodied_interfaces.action", "TrainExpert")
ListExperts = optional_interface("embodied_interfaces.srv", "ListExperts")
GetExpert = optional_interface("embodied_interfaces.srv", "GetExpert")
CreateExpert = optional_interface("embodied_interfaces.srv", "CreateExpert")
UpdateExpert = optional_interface("embodied_interfaces.srv", "UpdateExpert")
DeleteExpert = optional_interface("embodied_interfaces.srv", "DeleteExpert")
RegisterDataset = optional_interface("embodied_interfaces.srv", "RegisterDataset")
GetTrainingStatus = optional_interface("embodied_interfaces.srv", "GetTrainingStatus")

EXPERTS_NODE = "the experts node is not running"
STOPPABLE = ("queued", "running", "stopping")
ENDING = (*STOPPABLE, "registering")  # a stopped job is in one of these until it has ended
STOP_POLL_S = 0.5


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


def training_progress(feedback: Any) -> dict[str, object]:
    """A train_expert feedback as the ``training`` channel's ``progress`` event."""
    return {"job_id": int(feedback.job_id), "status": feedback.status, "step": int(feedback.current_step),
            "total_steps": int(feedback.total_steps), "epoch": round(float(feedback.current_epoch), 3),
            "total_epochs": float(feedback.total_epochs), "loss": finite(feedback.loss),
            "eta_seconds": finite(feedback.eta_seconds), "log": feedback.log}


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
        self._register = service(RegisterDataset, "register_dataset", ErrorCode.TRAINING_FAILED)
        self._status = service(GetTrainingStatus, "training_status", ErrorCode.TRAINING_FAILED)
        # The train_expert action's standard cancel service: stops a job by its goal id.
        self._cancel = service(CancelGoal, "train_expert/_action/cancel_goal", ErrorCode.TRAINING_FAILED)
        self._train = Action(graph, TrainExpert, Endpoint("train_expert", ErrorCode.TRAINING_FAILED, EXPERTS_NODE,
                                                          server="experts"))
        self._results: set[asyncio.Future[Any]] = set()  # keeps the waits for running jobs' results alive

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
        job = await self._start_job(expert=str(record.id), use_lora=False, d_model=shape.d_model,
                                    n_layers=shape.n_layers, n_heads=shape.n_heads)
        return ResizeStarted(record.id, record.name, job.job_id)

    # -- datasets and training -------------------------------------------------------------
    async def register_dataset(self, path: Path, expert: str, name: str) -> DatasetRegistered:
        response = await self._registry(self._register, self._timeouts.dataset_s, path=str(path), expert=expert,
                                        name=name)
        return DatasetRegistered(
            dataset_id=int(response.dataset_id), num_samples=int(response.num_samples),
            size_mb=round(float(response.size_mb), 6),  # float32's noise
            status=response.status, invalid_rows=int(response.invalid_rows),
            duplicates_removed=int(response.duplicates_removed), row_errors=list(response.row_errors))

    async def start_training(self, spec: TrainingSpec) -> TrainingStarted:
        return await self._start_job(
            expert=str(spec.expert_id), dataset_id=spec.dataset_id, learning_rate=spec.learning_rate,
            batch_size=spec.batch_size, num_epochs=float(spec.num_epochs), warmup_steps=spec.warmup_steps,
            gradient_accumulation=spec.gradient_accumulation, use_lora=spec.use_lora, lora_rank=spec.lora_rank)

    async def _start_job(self, **goal: Any) -> TrainingStarted:
        """Send a train_expert goal; answers with its first feedback, once the job runs. Later
        feedback and the result go out as ``training`` events."""
        loop = asyncio.get_running_loop()
        first: asyncio.Future[Any] = loop.create_future()
        last_epoch = 0

        def on_feedback(message: Any) -> None:
            nonlocal last_epoch
            feedback = message.feedback
            loop.call_soon_threadsafe(lambda: None if first.done() else first.set_result(feedback))
            progress = training_progress(feedback)
            self._events.emit("training", "progress", progress)
            epoch = int(feedback.current_epoch + 1e-6)
            if epoch > last_epoch:  # the Robot API's event: an epoch ended
                last_epoch = epoch
                self._events.emit("training", "epoch_completed", {"job_id": progress["job_id"], "epoch": epoch,
                                                                  "loss": progress["loss"]})

        handle = await self._train.send(on_feedback, **goal)
        result = to_asyncio(handle.get_result_async(), loop)
        done, _ = await asyncio.wait({first, result}, timeout=self._timeouts.job_start_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        if not done:
            raise GraphTimeout(f"train_expert sent no progress within {self._timeouts.job_start_s:.0f} s")
        if first not in done:  # refused before it started (unknown expert, bad dataset, busy)
            ended = check(result.result().result, self._train.endpoint)
            self._on_result(result)
            # Finished before its first feedback reached us: the result says as much.
            return TrainingStarted(int(ended.job_id), ended.status, 0.0)
        self._results.add(result)
        result.add_done_callback(self._on_result)
        feedback = first.result()
        return TrainingStarted(int(feedback.job_id), feedback.status, finite(feedback.eta_seconds))

    def _on_result(self, future: asyncio.Future[Any]) -> None:
        self._results.discard(future)
        if future.cancelled() or future.exception() is not None:
            return
        result = future.result().result
        self._events.emit("training", result.status or "failed", {
            "job_id": int(result.job_id), "status": result.status, "version": int(result.version) or None,
            "checkpoint_saved": bool(result.checkpoint_saved), "code": int(result.error_code),
            "message": result.message})

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
        if not job.active or job.status not in STOPPABLE:
            raise EmbodiedError(f"training job {job_id} is {job.status}; only a running job stops",
                                ErrorCode.TRAINING_FAILED)
        response = await self._cancel.call(self._timeouts.trigger_s,
                                           goal_info=GoalInfo(goal_id=UUID(uuid=list(job.goal_id))))
        if not response.goals_canceling:
            raise EmbodiedError(f"training job {job_id} could not be stopped (cancel answered "
                                f"{response.return_code})", ErrorCode.TRAINING_FAILED)
        deadline = time.monotonic() + self._timeouts.stop_s
        while job.status in ENDING:
            if time.monotonic() > deadline:
                raise GraphTimeout(f"training job {job_id} did not stop within {self._timeouts.stop_s:.0f} s")
            await asyncio.sleep(STOP_POLL_S)
            job = await self._job(job_id)
        return TrainingStopped(job.status, bool(job.checkpoint_saved))
