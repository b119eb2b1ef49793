"""The jobs node's training endpoints: seed 000's Training API on ROS, over the job system's
``training`` jobs (embodied_ai.experts.training_jobs).

  action   train_expert (TrainExpert: LoRA or from scratch; resize is a goal with use_lora false
           and the new shape): submits a training job and follows it; feedback is the run's
           progress; cancelling the goal cancels the job (a checkpoint is saved: seed 000's stop)
  service  training_status (GetTrainingStatus): any training job's progress by its integer id,
           however it was submitted (this action, submit_job, POST /v1/training/start)
"""

from __future__ import annotations

from typing import Any

from embodied_interfaces.action import TrainExpert
from embodied_interfaces.srv import GetTrainingStatus
from rclpy.action import ActionServer
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node

from embodied_ai.errors import EmbodiedError, NotFound
from embodied_ai.experts.training_jobs import TRAINING_JOB
from embodied_ai.jobs.models import Job, JobStatus
from embodied_ai.jobs.system import JobSystem
from embodied_ros.kit.goals import Ending, accept_cancel, finish, refuse
from embodied_ros.kit.services import answer
from embodied_ros.training_conversions import fill_training_status, training_feedback_msg, training_job_config

ENDINGS = {JobStatus.COMPLETED: Ending.SUCCEEDED, JobStatus.CANCELLED: Ending.CANCELED}   # else aborted


class TrainingEndpoints:
    def __init__(self, node: Node, system: JobSystem, feedback_period_s: float) -> None:
        self._node, self._system, self._period_s = node, system, feedback_period_s
        node.create_service(GetTrainingStatus, "training_status", answer(self._on_status),
                            callback_group=MutuallyExclusiveCallbackGroup())
        # A followed job holds a thread for its whole run: reentrant.
        ActionServer(node, TrainExpert, "train_expert", self._execute, callback_group=ReentrantCallbackGroup(),
                     cancel_callback=accept_cancel)

    def _training_job(self, job_id: int) -> Job:
        job = self._system.store.get(job_id)
        if job.type != TRAINING_JOB:
            raise NotFound(f"job {job_id} is a {job.type} job, not a training job")
        return job

    def _on_status(self, request: Any, response: Any) -> Any:
        job = self._training_job(int(request.job_id))
        training = self._system.training
        return fill_training_status(response, training.status(job), training.version_of(job))

    def _execute(self, goal_handle: ServerGoalHandle) -> Any:
        result, jobs, training = TrainExpert.Result(), self._system.jobs, self._system.training
        try:
            job = jobs.runner.submit(TRAINING_JOB, training_job_config(goal_handle.request))
        except EmbodiedError as exc:
            return refuse(goal_handle, result, exc.code, str(exc))
        for job, _newest in jobs.follow(job, lambda: goal_handle.is_cancel_requested, self._node.context.ok,
                                        self._period_s):
            goal_handle.publish_feedback(training_feedback_msg(job.id, training.status(job)))
        job = jobs.get(job.id)
        status = training.status(job)
        result.job_id, result.status, result.version = job.id, status.status, training.version_of(job)
        result.checkpoint_saved = bool(status.checkpoint)
        return finish(goal_handle, result, ENDINGS.get(job.status, Ending.ABORTED), *jobs.outcome(job))
