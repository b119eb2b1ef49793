"""ModelsPort over the jobs node's model registry services (embodied_ros.model_endpoints)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from embodied_ai.bridge.ports.models import (
    ArtefactFile,
    CardView,
    MetricsView,
    ModelFilter,
    ModelView,
    PerformanceView,
)
from embodied_ai.bridge.settings import BridgeTimeouts
from embodied_ai.errors import ErrorCode
from embodied_ros.bridge.plumbing import Graph, Service, optional_interface
from embodied_ros.kit.goal_client import Endpoint, check

ListModels = optional_interface("embodied_interfaces.srv", "ListModels")
GetModel = optional_interface("embodied_interfaces.srv", "GetModel")
GetModelArtefact = optional_interface("embodied_interfaces.srv", "GetModelArtefact")
LoadModel = optional_interface("embodied_interfaces.srv", "LoadModel")

JOBS_NODE = "the jobs node (which keeps the model registry) is not running"


class RosModels:
    def __init__(self, graph: Graph, timeouts: BridgeTimeouts) -> None:
        self._timeouts = timeouts

        def service(kind: Any, name: str) -> Service:
            return Service(graph, kind, Endpoint(name, ErrorCode.TRAINING_FAILED, JOBS_NODE, server="jobs"))

        self._list, self._get = service(ListModels, "list_models"), service(GetModel, "get_model")
        self._artefact, self._load = service(GetModelArtefact, "get_model_artefact"), service(LoadModel, "load_model")

    async def _call(self, service: Service, timeout_s: float, **request: Any) -> Any:
        return check(await service.call(timeout_s, **request), service.endpoint)

    async def _get_json(self, model: str, what: str, **query: str) -> dict[str, Any]:
        response = await self._call(self._get, self._timeouts.registry_s, model=model, what=what, **query)
        return dict(json.loads(response.result_json))

    async def list_models(self, filters: ModelFilter, limit: int, offset: int) -> tuple[list[ModelView], int]:
        response = await self._call(self._list, self._timeouts.registry_s, kind=filters.kind or "",
                                    status=filters.status or "", name=filters.name or "",
                                    base_model=filters.base_model or "", limit=limit, offset=offset)
        return list(json.loads(response.models_json)), int(response.total)

    async def get(self, model: str) -> ModelView:
        return await self._get_json(model, "info")

    async def card(self, model: str) -> CardView:
        return await self._get_json(model, "card")

    async def metrics(self, model: str, start_time: str | None, end_time: str | None, interval: str) -> MetricsView:
        return await self._get_json(model, "metrics", start_time=start_time or "", end_time=end_time or "",
                                    interval=interval)

    async def performance(self, model: str) -> PerformanceView:
        return await self._get_json(model, "performance")

    async def artefact(self, model: str, format: str) -> ArtefactFile:
        # A first download of a folder packs it: as long as registering an upload of the largest size.
        response = await self._call(self._artefact, self._timeouts.dataset_s, model=model, format=format)
        return ArtefactFile(Path(response.path), response.media_type, response.filename, int(response.size_bytes),
                            response.sha256)

    async def set_loaded(self, model: str, loaded: bool) -> ModelView:
        # The jobs node waits up to 45 s for the experts node to load it: this waits a little longer.
        response = await self._call(self._load, self._timeouts.job_start_s, model=model, loaded=loaded)
        return dict(json.loads(response.model_json))
