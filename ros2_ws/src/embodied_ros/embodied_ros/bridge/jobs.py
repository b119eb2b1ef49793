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

JOBS_NODE = "the jobs node is not running"


JobEvent = optional_interface("embodied_interfaces.msg", "JobEvent")


class RosJobs:
    def __init__(self, graph: Graph, events: Events, timeouts: BridgeTimeouts) -> None:
        self._events, self._timeouts = events, timeouts
        # Every job's changes, for the WebSocket's jobs channel (a few messages a second at most).
        graph.subscribe(JobEvent, "job_events", self._on_job_event, STATE)

        def service(kind: Any, name: str) -> Service:
            return Service(graph, kind, Endpoint(name, ErrorCode.TRAINING_FAILED, JOBS_NODE, server="jobs"))

        self._submit, self._get = service(SubmitJob, "submit_job"), service(GetJob, "get_job")
        self._list, self._cancel = service(ListJobs, "list_jobs"), service(CancelJob, "cancel_job")
        self._logs = service(GetJobLogs, "get_job_logs")

    def _on_job_event(self, msg: Any) -> None:
        self._events.emit("jobs", msg.event.removeprefix("job."), {
            "job_id": int(msg.job_id), "type": msg.type, "status": msg.status,
            "progress": round(float(msg.progress), 4), "name": msg.name or None})

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

    async def logs(self, job_id: int, after_seq: int, limit: int) -> tuple[list[LogLineView], bool]:
        response = await self._call(self._logs, job_id=job_id, after_seq=after_seq, limit=limit)
        return list(json.loads(response.lines_json)), bool(response.ended)
