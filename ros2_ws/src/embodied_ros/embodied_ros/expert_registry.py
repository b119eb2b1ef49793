"""The experts node's registry, dataset and training endpoints: a thin adapter over
embodied_ai.experts.service (seed 000's Expert Management and Training APIs on ROS).

  services  list_experts (ListExperts), get_expert (GetExpert), create_expert (CreateExpert),
            update_expert (UpdateExpert), delete_expert (DeleteExpert),
            register_dataset (RegisterDataset), training_status (GetTrainingStatus)
  actions   train_expert (TrainExpert: LoRA or from scratch; resize is a goal with use_lora
            false and the new shape; cancel = the seed's stop, which keeps a checkpoint),
            retrain_router (RetrainRouter)

Every refusal comes back as success false with a seed error code and a message; nothing is
raised into rclpy (an exception there would answer an empty response).
"""

from __future__ import annotations

import json
import math
import queue
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from embodied_interfaces.action import RetrainRouter, TrainExpert
from embodied_interfaces.msg import Expert as ExpertMsg
from embodied_interfaces.srv import (CreateExpert, DeleteExpert, GetExpert, GetTrainingStatus, ListExperts,
                                     RegisterDataset, UpdateExpert)
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.registry import Expert
from embodied_ai.experts.service import ROW_ERRORS_REPORTED, ExpertService, StartedJob, model_shape
from embodied_ai.experts.training import TrainingConfig, TrainingStatus

FEEDBACK_POLL_S = 0.5  # how often a running goal looks for progress and cancel requests


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def expert_msg(service: ExpertService, expert: Expert) -> ExpertMsg:
    current = expert.current
    total = service.total_params(expert)
    return ExpertMsg(
        id=expert.id, name=expert.name, domain=expert.domain, category=expert.category, status=expert.status,
        quantization=expert.quantization, kind=current.kind if current else "",
        total_params=total if total is not None else -1, current_version=expert.current_version,
        total_calls=expert.total_calls, last_used=expert.last_used or "", created_at=expert.created_at,
        updated_at=expert.updated_at, config_json=json.dumps(expert.config), metrics_json=json.dumps(expert.metrics),
        performance_json=json.dumps(expert.performance))


def refuse(response: Any, exc: EmbodiedError) -> Any:
    response.success, response.error_code, response.message = False, int(exc.code), str(exc)
    return response


class ExpertRegistryEndpoints:
    """Creates the endpoints on ``node``; calls only ``service``."""

    def __init__(self, node: Node, service: ExpertService) -> None:
        self._node, self._service = node, service
        self._goals: dict[int, ServerGoalHandle] = {}  # job id -> the train_expert goal running it
        services = MutuallyExclusiveCallbackGroup()  # registry writes are quick; one at a time
        actions = ReentrantCallbackGroup()
        for kind, name, handler in (
                (ListExperts, "list_experts", self._on_list), (GetExpert, "get_expert", self._on_get),
                (CreateExpert, "create_expert", self._on_create), (UpdateExpert, "update_expert", self._on_update),
                (DeleteExpert, "delete_expert", self._on_delete),
                (RegisterDataset, "register_dataset", self._on_register_dataset),
                (GetTrainingStatus, "training_status", self._on_training_status)):
            node.create_service(kind, name, self._guarded(handler), callback_group=services)
        self._train = ActionServer(node, TrainExpert, "train_expert", self._execute_train, callback_group=actions,
                                   goal_callback=lambda _: GoalResponse.ACCEPT,
                                   cancel_callback=lambda _: CancelResponse.ACCEPT)
        self._retrain = ActionServer(node, RetrainRouter, "retrain_router", self._execute_retrain,
                                     callback_group=actions, goal_callback=lambda _: GoalResponse.ACCEPT)

    @staticmethod
    def _guarded(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def call(request: Any, response: Any) -> Any:
            try:
                response = handler(request, response)
                response.success = True
                return response
            except EmbodiedError as exc:
                return refuse(response, exc)
        return call

    # -- registry -----------------------------------------------------------------------
    def _on_list(self, request: ListExperts.Request, response: ListExperts.Response) -> ListExperts.Response:
        experts, total = self._service.registry.list(
            category=request.category or None, status=request.status or None, sort_by=request.sort_by or "name",
            limit=int(request.limit) or 50, offset=int(request.offset))
        response.experts = [expert_msg(self._service, e) for e in experts]
        response.total = total
        return response

    def _on_get(self, request: GetExpert.Request, response: GetExpert.Response) -> GetExpert.Response:
        response.expert = expert_msg(self._service, self._service.registry.get(request.expert))
        return response

    def _on_create(self, request: CreateExpert.Request, response: CreateExpert.Response) -> CreateExpert.Response:
        given = {k: int(v) for k, v in (("d_model", request.d_model), ("n_layers", request.n_layers),
                                        ("n_heads", request.n_heads)) if v}
        expert = self._service.create_expert(
            request.name, request.domain, request.category or "general", request.quantization or "Q8",
            shape=given or None, size=request.size or None, base_model=request.base_model or None)
        response.expert = expert_msg(self._service, expert)
        response.estimated_size_gb = self._service.estimated_size_gb(expert)
        return response

    def _on_update(self, request: UpdateExpert.Request, response: UpdateExpert.Response) -> UpdateExpert.Response:
        registry = self._service.registry
        expert = registry.get(request.expert)
        changes = {k: v for k, v in (("domain", request.domain), ("category", request.category)) if v}
        if changes:
            expert = registry.update(expert.id, **changes)
        if request.status:
            if request.status not in ("ready", "disabled"):
                raise EmbodiedError("status may be set to ready or disabled", ErrorCode.EXPERT_CREATION_FAILED)
            if request.status == "ready" and expert.current is None:
                raise EmbodiedError(f"expert '{expert.name}' has no trained version yet", ErrorCode.EXPERT_NOT_READY)
            # Never while it trains: the job sets the status when it ends.
            expert = registry.set_status(expert.id, request.status, expected=("ready", "disabled"))
        response.expert = expert_msg(self._service, expert)
        return response

    def _on_delete(self, request: DeleteExpert.Request, response: DeleteExpert.Response) -> DeleteExpert.Response:
        expert = self._service.registry.get(request.expert, include_deleted=request.hard_delete)
        self._service.delete(str(expert.id), hard=request.hard_delete)
        response.expert_id = expert.id
        response.status = "hard_deleted" if request.hard_delete else "deleted"
        return response

    def _on_register_dataset(self, request: RegisterDataset.Request,
                             response: RegisterDataset.Response) -> RegisterDataset.Response:
        registered = self._service.register_dataset(Path(request.path), request.expert, request.name)
        record = registered.record
        response.dataset_id, response.num_samples = record.id, record.rows
        response.size_mb = record.size_bytes / 2**20
        response.status = "ready"
        response.invalid_rows, response.duplicates_removed = record.invalid_rows, record.duplicates_removed
        response.row_errors = registered.row_errors[:ROW_ERRORS_REPORTED]
        response.message = (f"{record.rows} rows kept, {record.invalid_rows} invalid, "
                            f"{record.duplicates_removed} duplicates removed")
        return response

    def _on_training_status(self, request: GetTrainingStatus.Request,
                            response: GetTrainingStatus.Response) -> GetTrainingStatus.Response:
        record, status = self._service.job(int(request.job_id))
        response.expert, response.status = status.expert, status.status
        response.current_step, response.total_steps = status.current_step, status.total_steps
        response.current_epoch, response.total_epochs = float(status.current_epoch), float(status.total_epochs)
        response.current_loss, response.best_loss = _nan(status.current_loss), _nan(status.best_loss)
        response.train_loss = [float(v) for v in status.train_loss]
        response.val_loss = [float(v) for v in status.val_loss]
        response.eta_seconds, response.elapsed_seconds = _nan(status.eta_seconds), float(status.elapsed_seconds)
        response.checkpoint_saved = bool(status.checkpoint)
        response.recent_logs, response.error = list(status.recent_logs), status.error or ""
        response.version = record.version
        goal = self._goals.get(record.id)
        response.active = goal is not None and goal.is_active
        if goal is not None:
            response.goal_id = list(goal.goal_id.uuid)
        return response

    # -- training -----------------------------------------------------------------------
    @staticmethod
    def _config(goal: TrainExpert.Goal) -> TrainingConfig:
        defaults = TrainingConfig()
        return replace(
            defaults, learning_rate=float(goal.learning_rate) or defaults.learning_rate,
            batch_size=int(goal.batch_size) or defaults.batch_size, num_epochs=float(goal.num_epochs) or 1.0,
            max_steps=int(goal.max_steps) or -1, warmup_steps=int(goal.warmup_steps),
            gradient_accumulation=int(goal.gradient_accumulation) or 1, use_lora=bool(goal.use_lora),
            lora_rank=int(goal.lora_rank) or defaults.lora_rank,
            log_steps=1)  # progress at every step: what the feedback and the status endpoint show

    def _start(self, goal: TrainExpert.Goal, progress: Callable[[TrainingStatus], None],
               done: Callable[[TrainingStatus], None]) -> StartedJob:
        config = self._config(goal)
        if not goal.use_lora and goal.d_model:
            shape = model_shape(int(goal.d_model), int(goal.n_layers), int(goal.n_heads))
            config = replace(config, scratch_shape=shape)
        return self._service.train(goal.expert, int(goal.dataset_id) or None, config, on_progress=progress,
                                   on_done=done)

    def _execute_train(self, goal_handle: ServerGoalHandle) -> TrainExpert.Result:
        result = TrainExpert.Result()
        updates: queue.SimpleQueue[TrainingStatus] = queue.SimpleQueue()
        finished = threading.Event()
        try:
            started = self._start(goal_handle.request, updates.put, lambda _status: finished.set())
        except EmbodiedError as exc:
            goal_handle.abort()
            return refuse(result, exc)
        self._goals[started.id] = goal_handle
        job, stopping = started.job, False
        self._node.get_logger().info(f"training job {started.id} ({job.request.job_id}) started")
        goal_handle.publish_feedback(self._feedback(started.id, job.status))
        def publish_latest() -> None:
            # Only the newest progress per poll: a from-scratch model logs hundreds of steps a second.
            latest = None
            while not updates.empty():
                latest = updates.get()
            if latest is not None:
                goal_handle.publish_feedback(self._feedback(started.id, latest))

        while not finished.wait(FEEDBACK_POLL_S):
            publish_latest()
            # Stop only a running job: a queued one has not armed its stop flag yet.
            if goal_handle.is_cancel_requested and not stopping and job.status.status == "running":
                self._service.stop_training(job.request.job_id, wait_s=0.0)
                stopping = True
        publish_latest()  # the last step's progress, before the result
        status = job.status
        result.job_id, result.status = started.id, status.status
        result.version = self._service.registry.job(started.id).version
        result.checkpoint_saved = bool(status.checkpoint)
        result.success = status.status == "completed"
        if status.status == "completed":
            result.message = f"version {result.version} of '{status.expert}' registered"
            goal_handle.succeed()
        elif status.status == "stopped" and goal_handle.is_cancel_requested:
            result.message = status.recent_logs[-1] if status.recent_logs else "stopped"
            goal_handle.canceled()
        else:
            result.error_code = int(ErrorCode.TRAINING_FAILED)
            result.message = status.error or f"the job ended {status.status}"
            goal_handle.abort()
        self._node.get_logger().info(f"training job {started.id} ended {status.status}")
        return result

    @staticmethod
    def _feedback(job_id: int, status: TrainingStatus) -> TrainExpert.Feedback:
        return TrainExpert.Feedback(
            job_id=job_id, status=status.status, current_step=status.current_step, total_steps=status.total_steps,
            current_epoch=float(status.current_epoch), total_epochs=float(status.total_epochs),
            loss=_nan(status.current_loss), eta_seconds=_nan(status.eta_seconds),
            log=status.recent_logs[-1] if status.recent_logs else "")

    # -- the router ---------------------------------------------------------------------
    def _execute_retrain(self, goal_handle: ServerGoalHandle) -> RetrainRouter.Result:
        result = RetrainRouter.Result()
        router = self._service.router
        try:
            if router is None:
                raise EmbodiedError("this experts node runs without a router (use_router false)",
                                    ErrorCode.TRAINING_FAILED)
            path = self._service.check_dataset_path(Path(goal_handle.request.training_data_path))
            goal_handle.publish_feedback(RetrainRouter.Feedback(stage="embedding and training"))
            retrained = router.retrain(path, int(goal_handle.request.num_epochs) or None)
        except EmbodiedError as exc:
            goal_handle.abort()
            return refuse(result, exc)
        goal_handle.publish_feedback(RetrainRouter.Feedback(stage="saved"))
        metrics = retrained.metrics
        result.success, result.gate_version = True, retrained.gate_version
        result.experts, result.examples = list(retrained.experts), metrics.examples
        result.validation_accuracy = _nan(metrics.validation_accuracy)
        result.row_errors = [f"row {e.row}: {e.message}" for e in retrained.row_errors[:ROW_ERRORS_REPORTED]]
        result.message = (f"gate version {retrained.gate_version} trained on {metrics.examples} prompts "
                          f"({retrained.feedback_examples} from feedback) for {', '.join(retrained.experts)}")
        goal_handle.succeed()
        return result
