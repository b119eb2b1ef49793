"""DatasetsPort over the jobs node's dataset services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from embodied_ai.bridge.ports.datasets import DatasetView, PreviewView
from embodied_ai.bridge.settings import BridgeTimeouts
from embodied_ai.errors import ErrorCode
from embodied_ros.bridge.jobs import JOBS_NODE
from embodied_ros.bridge.plumbing import Graph, Service, optional_interface
from embodied_ros.kit.goal_client import Endpoint, check

AddDataset = optional_interface("embodied_interfaces.srv", "AddDataset")
GetDataset = optional_interface("embodied_interfaces.srv", "GetDataset")
PreviewDataset = optional_interface("embodied_interfaces.srv", "PreviewDataset")
ListDatasets = optional_interface("embodied_interfaces.srv", "ListDatasets")


class RosDatasets:
    def __init__(self, graph: Graph, timeouts: BridgeTimeouts) -> None:
        self._timeouts = timeouts

        def service(kind: Any, name: str) -> Service:
            return Service(graph, kind, Endpoint(name, ErrorCode.TRAINING_FAILED, JOBS_NODE, server="jobs"))

        self._add, self._get = service(AddDataset, "add_dataset"), service(GetDataset, "get_dataset")
        self._preview, self._list = service(PreviewDataset, "preview_dataset"), service(ListDatasets, "list_datasets")

    async def _call(self, service: Service, timeout_s: float, **request: Any) -> Any:
        return check(await service.call(timeout_s, **request), service.endpoint)

    async def add(self, path: Path, filename: str, name: str | None, expert: str | None, description: str,
                  format: str | None) -> DatasetView:
        # Reads and validates the whole file: the time of a dataset of the largest upload size.
        response = await self._call(self._add, self._timeouts.dataset_s, path=str(path), filename=filename,
                                    name=name or "", format=format or "", expert=expert or "",
                                    description=description)
        return dict(json.loads(response.dataset_json))

    async def get(self, dataset_id: int) -> DatasetView:
        response = await self._call(self._get, self._timeouts.registry_s, dataset_id=dataset_id)
        return dict(json.loads(response.dataset_json))

    async def preview(self, dataset_id: int, limit: int) -> PreviewView:
        # A preview reads the file: as long as an add may.
        response = await self._call(self._preview, self._timeouts.dataset_s, dataset_id=dataset_id, limit=limit)
        return dict(json.loads(response.preview_json))

    async def list_datasets(self, limit: int, offset: int) -> tuple[list[DatasetView], int]:
        response = await self._call(self._list, self._timeouts.registry_s, limit=limit, offset=offset)
        return list(json.loads(response.datasets_json)), int(response.total)
