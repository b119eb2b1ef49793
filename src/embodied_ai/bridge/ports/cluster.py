"""The cluster that distributed jobs run on, as the bridge reaches it (the jobs node's ``get_cluster``):
its workers and a task's metrics, as JSON-ready dicts (embodied_ai.distributed.service.ClusterService's
views). Its events (task, task_progress, task_result, heartbeat, control, worker_lost) go out on the
WebSocket's ``cluster`` channel through the graph's status."""

from __future__ import annotations

from typing import Any, Protocol

from embodied_ai.errors import ErrorCode, GraphUnavailable

WorkerView = dict[str, Any]       # id, status (online|busy|offline), resources, last_seen, tasks, performance, ...
TaskMetricsView = dict[str, Any]  # task_id, status, progress (0-100), metrics, history, workers


class ClusterPort(Protocol):
    async def workers(self) -> tuple[str, list[WorkerView]]:
        """The backend (``local`` | ``ray``) and every worker of the cluster."""
        ...

    async def worker(self, worker_id: str) -> WorkerView:
        """NotFound (404) for a worker that is not in the cluster."""
        ...

    async def task_metrics(self, job_id: int) -> TaskMetricsView:
        """A task's latest metrics, loss history and worker assignments; NotFound (404) for an unknown job."""
        ...


class NoCluster:
    """The port of a bridge built without one: every call is 503, as for a jobs node that is not running."""

    @staticmethod
    def _absent() -> GraphUnavailable:
        return GraphUnavailable("get_cluster", ErrorCode.TRAINING_FAILED, "the jobs node is not running")

    async def workers(self) -> tuple[str, list[WorkerView]]:
        raise self._absent()

    async def worker(self, worker_id: str) -> WorkerView:
        raise self._absent()

    async def task_metrics(self, job_id: int) -> TaskMetricsView:
        raise self._absent()
