"""Jobs node: the one job system for every long-running piece of work (experts' training,
pipelines, batch inference through the experts node's generate action; the other issues' kinds
join it), persisted in the state directory's operations database and recovered after a crash.
A pipeline's DatasetAgent reads files under ``<state_dir>/datasets``; each job writes under
``<state_dir>/job_work/job-<id>``, a training job's run under ``<state_dir>/jobs/job-<id>``.

  services  submit_job, get_job, list_jobs, cancel_job (embodied_interfaces/srv/*Job*), and
            get_job_logs (a follower passes the last sequence number it saw)
  action    run_job (embodied_interfaces/action/RunJob): submit and follow; feedback is the
            job's progress and newest log line; cancelling the goal cancels the job
  topic     job_events (embodied_interfaces/JobEvent): every status change and progress of a job
  training  train_expert action and training_status service (embodied_ros.training_endpoints):
            seed 000's Training API over the job system's training jobs
  datasets  add_dataset, get_dataset, preview_dataset, list_datasets (embodied_ros.dataset_endpoints):
            seed 000's and seed 004's uploads, analysed, in the same database
  fleet     the robots (servo controllers, each with a policy node) a policy_deployment job drives
            (embodied_ros.fleet_client)
  models    list_models, get_model, get_model_artefact, load_model (embodied_ros.model_endpoints):
            the model registry (expert versions mirrored, pipeline outputs), loads through the
            experts node's set_expert_loaded
  cluster   control_job (pause / resume / stop), get_cluster (workers, task metrics) and the
            cluster_events topic (embodied_ros.cluster_endpoints): seed 003 over the job system;
            with jobs.backend ray, distributed training jobs run on a Ray cluster
  logs      get_ops_logs: every node's /rosout lines, kept in the same database (by node, minimum
            level and time, with cursor paging)
  webhooks  register_webhook, list_webhooks, delete_webhook, list_webhook_deliveries,
            redeliver_webhook: job.completed / job.failed / job.cancelled (and the model
            registry's events) POSTed to subscribers, signed as Standard Webhooks specifies, from
            an outbox in the same database (a delivery survives a restart)

Jobs, their logs and the memo of finished steps are in SQLite; a job left running by a killed
process is resumed from its finished steps (resumable kinds) or failed with the reason when the
node starts again. The node is wiring: the job system is embodied_ai.jobs (JobSystem).

Parameters: those of embodied_ai.jobs.config.JobsNodeConfig (`ros2 param describe`).
"""

from __future__ import annotations

from typing import Any

from embodied_interfaces import srv
from embodied_interfaces.action import RunJob
from embodied_interfaces.msg import JobEvent
from rcl_interfaces.msg import Log
from rclpy.action import ActionServer
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from embodied_ai.errors import EmbodiedError
from embodied_ai.jobs import Job, JobStatus
from embodied_ai.jobs.config import JobsNodeConfig
from embodied_ai.jobs.system import JobSystem
from embodied_ai.ops_logs import OpsLogLine
from embodied_ros.cluster_endpoints import ClusterEndpoints
from embodied_ros.dataset_endpoints import DatasetEndpoints
from embodied_ros.fleet_client import RosFleet
from embodied_ros.generation_client import ExpertsGeneration
from embodied_ros.kit.goals import Ending, accept_cancel, finish, refuse
from embodied_ros.kit.parameters import declare_parameters
from embodied_ros.kit.qos import STATE
from embodied_ros.kit.services import answer
from embodied_ros.kit.spin import Component, run_standalone
from embodied_ros.model_endpoints import ExpertsServing, ModelEndpoints
from embodied_ros.training_endpoints import TrainingEndpoints

# /rosout as rcl publishes it (reliable, transient local): a late start still gets recent lines.
ROSOUT = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
ROSOUT_FLUSH_S = 1.0
ENDINGS = {JobStatus.COMPLETED: Ending.SUCCEEDED, JobStatus.CANCELLED: Ending.CANCELED}   # else aborted


class JobsNode(Node):
    def __init__(self, **node_options: Any) -> None:
        super().__init__("jobs", **node_options)
        self.config = config = declare_parameters(self, JobsNodeConfig)
        self.system = system = JobSystem.open(config, serving=ExpertsServing(self), generate=ExpertsGeneration(self),
                                              fleet=RosFleet(self))
        self.jobs, self.webhooks = system.jobs, system.webhooks
        self._job_events = self.create_publisher(JobEvent, "job_events", STATE)
        system.on_event(self._publish_job_event)
        queries = MutuallyExclusiveCallbackGroup()   # quick reads and writes of the database
        self.create_subscription(Log, "/rosout", self._on_rosout, ROSOUT, callback_group=queries)
        # /rosout lines are buffered by the subscription and stored once a second.
        self.create_timer(ROSOUT_FLUSH_S, system.rosout.flush, callback_group=queries)
        for kind, name, work in (
                (srv.SubmitJob, "submit_job", self._on_submit), (srv.GetJob, "get_job", self._on_get),
                (srv.ListJobs, "list_jobs", self._on_list), (srv.CancelJob, "cancel_job", self._on_cancel),
                (srv.GetJobLogs, "get_job_logs", self._on_logs), (srv.GetOpsLogs, "get_ops_logs", self._on_ops_logs),
                (srv.RegisterWebhook, "register_webhook", self._on_register_webhook),
                (srv.ListWebhooks, "list_webhooks", self._on_list_webhooks),
                (srv.DeleteWebhook, "delete_webhook", self._on_delete_webhook),
                (srv.ListWebhookDeliveries, "list_webhook_deliveries", self._on_deliveries),
                (srv.RedeliverWebhook, "redeliver_webhook", self._on_redeliver)):
            self.create_service(kind, name, answer(work), callback_group=queries)
        # A followed job holds a thread for its whole run: reentrant.
        ActionServer(self, RunJob, "run_job", self._execute_run, callback_group=ReentrantCallbackGroup(),
                     cancel_callback=accept_cancel)
        TrainingEndpoints(self, system, config.feedback_period_s)
        DatasetEndpoints(self, system.datasets)
        ModelEndpoints(self, system.models)
        ClusterEndpoints(self, system)
        for job in system.start():
            self.get_logger().warning(f"job {job.id} ({job.type}) was running when the node stopped: "
                                      f"now {job.status.value}")
        self.get_logger().info(f"ready: job types {', '.join(sorted(system.runner.kinds))}; "
                               f"database {config.database()}")

    # -- services -------------------------------------------------------------------------
    def _on_submit(self, request: Any, response: Any) -> Any:
        job = self.jobs.submit(request.type, request.config_json, request.priority, request.scheduled_at)
        response.job_json = self.jobs.to_json(self.jobs.view(job))
        return response

    def _on_get(self, request: Any, response: Any) -> Any:
        response.job_json = self.jobs.to_json(self.jobs.view(self.jobs.get(request.job_id)))
        return response

    def _on_list(self, request: Any, response: Any) -> Any:
        jobs, total = self.jobs.list_jobs(request.status, request.type, request.limit, request.offset)
        response.jobs_json, response.total = self.jobs.to_json([self.jobs.view(job) for job in jobs]), total
        return response

    def _on_cancel(self, request: Any, response: Any) -> Any:
        response.job_json = self.jobs.to_json(self.jobs.view(self.jobs.cancel(request.job_id)))
        return response

    def _on_logs(self, request: Any, response: Any) -> Any:
        lines, response.ended = self.jobs.logs(request.job_id, request.after_seq, request.limit)
        response.lines_json = self.jobs.to_json(lines)
        return response

    def _publish_job_event(self, job: Job, event: str) -> None:
        self._job_events.publish(JobEvent(
            stamp=self.get_clock().now().to_msg(), job_id=job.id, type=job.type, event=event,
            status=job.status.value, progress=float(job.progress), name=str(job.config.get("name") or ""),
            detail_json=self.jobs.to_json(self.jobs.view(job)["progress_detail"])))

    # -- operations logs -----------------------------------------------------------------
    def _on_rosout(self, msg: Any) -> None:
        self.system.rosout.add(OpsLogLine.from_ros(msg.stamp.sec + msg.stamp.nanosec * 1e-9, msg.level, msg.name,
                                                   msg.msg, msg.file, msg.function, msg.line))

    def _on_ops_logs(self, request: Any, response: Any) -> Any:
        self.system.rosout.flush()   # what came until now is in the answer
        lines, cursor = self.system.ops_logs.query(
            request.service or None, request.level or None, request.since or None, request.until or None,
            request.limit or 100, request.cursor or None)
        response.logs_json, response.next_cursor = self.jobs.to_json(lines), cursor or ""
        return response

    # -- webhooks -----------------------------------------------------------------------
    def _on_register_webhook(self, request: Any, response: Any) -> Any:
        response.webhook_json = self.jobs.to_json(self.webhooks.register(request.url, request.events, request.secret,
                                                                         request.description))
        return response

    def _on_list_webhooks(self, request: Any, response: Any) -> Any:
        response.webhooks_json = self.jobs.to_json(self.webhooks.list_webhooks())
        return response

    def _on_delete_webhook(self, request: Any, response: Any) -> Any:
        self.webhooks.delete(request.webhook_id)
        return response

    def _on_deliveries(self, request: Any, response: Any) -> Any:
        page, response.total = self.webhooks.deliveries(request.webhook_id, request.limit, request.offset)
        response.deliveries_json = self.jobs.to_json(page)
        return response

    def _on_redeliver(self, request: Any, response: Any) -> Any:
        response.delivery_json = self.jobs.to_json(self.webhooks.redeliver(request.delivery_id))
        return response

    # -- run_job ------------------------------------------------------------------------
    def _execute_run(self, goal_handle: ServerGoalHandle) -> Any:
        goal, result = goal_handle.request, RunJob.Result()
        try:
            job = self.jobs.submit(goal.type, goal.config_json, goal.priority)
        except EmbodiedError as exc:
            return refuse(goal_handle, result, exc.code, str(exc))
        for job, newest in self.jobs.follow(job, lambda: goal_handle.is_cancel_requested, self.context.ok,
                                            self.config.feedback_period_s):
            goal_handle.publish_feedback(RunJob.Feedback(job_id=job.id, status=job.status.value,
                                                         progress=float(job.progress), message=newest))
        job = self.jobs.get(job.id)
        result.job_json = self.jobs.to_json(self.jobs.view(job))
        return finish(goal_handle, result, ENDINGS.get(job.status, Ending.ABORTED), *self.jobs.outcome(job))

    def shutdown(self) -> None:
        if not self.system.close(timeout_s=10.0):
            self.get_logger().warning("a job did not stop in time: it is recovered on the next start")


def component(**node_options: Any) -> Component:
    node = JobsNode(**node_options)
    return Component(node, threads=4, stop=node.shutdown)


def main(args: list[str] | None = None) -> None:
    run_standalone(component, args)


if __name__ == "__main__":
    main()
