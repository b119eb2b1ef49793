"""JobsPort over the jobs node's services."""

from __future__ import annotations

import json
from typing import Any

from embodied_ai.bridge.ports.jobs import JobView, LogLineView
from embodied_ai.bridge.settings import BridgeTimeouts
from embodied_ai.errors import ErrorCode
from embodied_ros.bridge.plumbing import Events, Graph, Service, optional_interface
from embodied_ros.kit.goal_client import Endpoint, check
from embodied_ros.kit.qos import STATE

SubmitJob = optional_interface("embodied_interfaces.srv", "SubmitJob")
GetJob = optional_interface("embodied_interfaces.srv", "GetJob")
ListJobs = optional_interface("embodied_interfaces.srv", "ListJobs")
CancelJob = optional_interface("embodied_interfaces.srv", "CancelJob")
GetJobLogs = optional_interface("embodied_interfaces.srv", "GetJobLogs")
ControlJob = optional_interface("embodied_interfaces.srv", "ControlJob")

JOBS_NODE = "the jobs node is not running"
# A training job's events also go out on the ``training`` channel, with seed 000's status names.
TRAINING_EVENTS = {"job.started": "started", "job.progress": "progress", "job.requeued": "requeued",
                   "job.completed": "completed", "job.failed": "failed", "job.cancelled": "stopped"}


JobEvent = optional_interface("embodied_interfaces.msg", "JobEvent")


class RosJobs:
    def __init__(self, graph: Graph, events: Events, timeouts: BridgeTimeouts) -> None:
        self._events, self._timeouts = events, timeouts
        self._epochs: dict[int, int] = {}   # a training job's whole epochs announced so far
        # Every job's changes, for the WebSocket's jobs channel (a few messages a second at most).
        graph.subscribe(JobEvent, "job_events", self._on_job_event, STATE)

        def service(kind: Any, name: str) -> Service:
            return Service(graph, kind, Endpoint(name, ErrorCode.TRAINING_FAILED, JOBS_NODE, server="jobs"))

        self._submit, self._get = service(SubmitJob, "submit_job"), service(GetJob, "get_job")
        self._list, self._cancel = service(ListJobs, "list_jobs"), service(CancelJob, "cancel_job")
        self._logs = service(GetJobLogs, "get_job_logs")
        self._control = service(ControlJob, "control_job")

    def _on_job_event(self, msg: Any) -> None:
        data = {"job_id": int(msg.job_id), "type": msg.type, "status": msg.status,
                "progress": round(float(msg.progress), 4), "name": msg.name or None}
        self._events.emit("jobs", msg.event.removeprefix("job."), data)
        if msg.type == "training" and msg.event in TRAINING_EVENTS:
            self._on_training_event(TRAINING_EVENTS[msg.event], data, json.loads(msg.detail_json or "{}"))

    def _on_training_event(self, event: str, data: dict[str, Any], detail: dict[str, Any]) -> None:
        """Seed 000's training channel: progress with the step, epoch and loss, ``epoch_completed``
        once per whole epoch, and the end (completed with the version, failed, stopped)."""
        job_id = data["job_id"]
        epoch, loss = float(detail.get("current_epoch") or 0.0), detail.get("current_loss")
        self._events.emit("training", event, {
            **data, "status": "stopped" if event == "stopped" else data["status"], "expert": detail.get("expert"),
            "step": detail.get("current_step"), "total_steps": detail.get("total_steps"), "epoch": round(epoch, 3),
            "loss": loss, "version": detail.get("version")})
        whole = int(epoch + 1e-6)   # float noise is not an epoch
        if event == "progress" and whole > self._epochs.get(job_id, 0):
            self._epochs[job_id] = whole
            self._events.emit("training", "epoch_completed", {"job_id": job_id, "epoch": whole, "loss": loss})
        elif event in ("completed", "failed", "stopped"):
            self._epochs.pop(job_id, None)

    def components(self) -> dict[str, str]:
        return {"jobs": self._submit.readiness()}

    async def _call(self, service: Service, **request: Any) -> Any:
        return check(await service.call(self._timeouts.registry_s, **request), service.endpoint)

    async def submit(self, type: str, config: dict[str, Any], priority: int, scheduled_at: str | None) -> JobView:
        response = await self._call(self._submit, type=type, config_json=json.dumps(config), priority=priority,
                                    scheduled_at=scheduled_at or "")
        return dict(json.loads(response.job_json))

    async def get(self, job_id: int) -> JobView:
        return dict(json.loads((await self._call(self._get, job_id=job_id)).job_json))

    async def list_jobs(self, status: str | None, type: str | None, limit: int,
                        offset: int) -> tuple[list[JobView], int]:
        response = await self._call(self._list, status=status or "", type=type or "", limit=limit, offset=offset)
        return list(json.loads(response.jobs_json)), int(response.total)

    async def cancel(self, job_id: int) -> JobView:
        return dict(json.loads((await self._call(self._cancel, job_id=job_id)).job_json))

    async def control(self, job_id: int, action: str, reason: str) -> JobView:
        response = await self._call(self._control, job_id=job_id, action=action, reason=reason)
        return dict(json.loads(response.job_json))

    async def logs(self, job_id: int, after_seq: int, limit: int) -> tuple[list[LogLineView], bool]:
        response = await self._call(self._logs, job_id=job_id, after_seq=after_seq, limit=limit)
        return list(json.loads(response.lines_json)), bool(response.ended)
