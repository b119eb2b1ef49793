"""Seed 003's clients API (the cluster's workers) and a task's metrics, from the jobs node's cluster
(the ``local`` backend: this machine alone; ``ray``: Ray's nodes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.ports.cluster import ClusterPort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.routes.paging import MAX_PAGE_NUMBER, paginate_pages
from embodied_ai.bridge.schemas.clients import ClientData, ClientList, ClusterTaskMetrics
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.security import authorize
from embodied_ai.database import MAX_PAGE

router = APIRouter(prefix=deps.API_PREFIX, tags=["clients"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 429, 503, 504))
Cluster = Annotated[ClusterPort, Depends(deps.cluster)]
ClientId = Annotated[str, Path(min_length=1, max_length=200, description="the worker's id (a Ray node id, or "
                                                                          "'local')")]
JobId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the task's id (its job's)")]


@router.get("/clients", summary="The cluster's workers: status, resources and use, last_seen, tasks")
async def list_clients(
    request: Request, response: Response, cluster: Cluster,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE_NUMBER)] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 10,
) -> Envelope[ClientList]:
    backend, workers = await cluster.workers()
    offset = (page - 1) * limit
    pages = paginate_pages(request, response, page, limit, len(workers))
    shown = [ClientData.model_validate(worker) for worker in workers[offset:offset + limit]]
    return ok(ClientList(backend=backend, clients=shown, total=len(workers), page=page, limit=limit, pages=pages))


@router.get("/clients/{client_id}", summary="A worker, with its performance")
async def get_client(client_id: ClientId, cluster: Cluster) -> Envelope[ClientData]:
    return ok(ClientData.model_validate(await cluster.worker(client_id)))


@router.get("/metrics/tasks/{task_id}", summary="A task's progress, latest metrics, loss history and workers")
async def task_metrics(task_id: JobId, cluster: Cluster) -> Envelope[ClusterTaskMetrics]:
    return ok(ClusterTaskMetrics.model_validate(await cluster.task_metrics(task_id)))
