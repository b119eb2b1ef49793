"""The dataset registry's services, for the jobs node: ROS wiring over embodied_ai.datasets.DatasetStore.

  services  add_dataset (AddDataset: a file inside the datasets folder, e.g. the REST bridge's upload),
            get_dataset (GetDataset), preview_dataset (PreviewDataset), list_datasets (ListDatasets)

Datasets travel as JSON (``*_json`` fields), as the REST API shows them (Dataset.to_dict). Every refusal
comes back as success false with an error code of the Robot API, a message and every problem found.
Adding reads and validates the whole file (seconds for a large one), so adds are served one at a time in
their own callback group and reads are never queued behind one.
"""

from __future__ import annotations

import json
from typing import Any

from embodied_interfaces.srv import AddDataset, GetDataset, ListDatasets, PreviewDataset
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node

from embodied_ai.datasets import DatasetStore
from embodied_ai.experts.datasets import PREVIEW_DEFAULT_LIMIT
from embodied_ros.kit.services import answer

DEFAULT_PAGE = 50


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class DatasetEndpoints:
    """Creates the dataset services on ``node``, over ``store``."""

    def __init__(self, node: Node, store: DatasetStore) -> None:
        self._store = store
        adds, reads = MutuallyExclusiveCallbackGroup(), MutuallyExclusiveCallbackGroup()
        node.create_service(AddDataset, "add_dataset", answer(self._on_add), callback_group=adds)
        for kind, name, work in ((GetDataset, "get_dataset", self._on_get),
                                 (PreviewDataset, "preview_dataset", self._on_preview),
                                 (ListDatasets, "list_datasets", self._on_list)):
            node.create_service(kind, name, answer(work), callback_group=reads)

    def _on_add(self, request: Any, response: Any) -> Any:
        dataset = self._store.add(self._store.inside(request.path), request.filename, request.name or None,
                                  request.expert or None, request.description, request.format or None)
        response.dataset_json = to_json(dataset.to_dict())
        return response

    def _on_get(self, request: Any, response: Any) -> Any:
        response.dataset_json = to_json(self._store.get(int(request.dataset_id)).to_dict())
        return response

    def _on_preview(self, request: Any, response: Any) -> Any:
        preview = self._store.preview(int(request.dataset_id), int(request.limit) or PREVIEW_DEFAULT_LIMIT)
        response.preview_json = to_json(preview)
        return response

    def _on_list(self, request: Any, response: Any) -> Any:
        page, response.total = self._store.list(int(request.limit) or DEFAULT_PAGE, int(request.offset))
        response.datasets_json = to_json([dataset.to_dict() for dataset in page])
        return response
