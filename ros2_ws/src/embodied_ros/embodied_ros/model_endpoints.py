"""The model registry's endpoints on the jobs node: ROS wiring over
embodied_ai.model_registry.service.ModelsService.

  services  list_models (ListModels), get_model (GetModel: the record, card, metrics time series
            or performance), get_model_artefact (GetModelArtefact: the file a download sends),
            load_model (LoadModel: load or unload)
  client    set_expert_loaded (SetExpertLoaded) of the experts node, as the service's Serving

Reads are quick SQLite reads, one at a time in their own group. Loading waits on the experts
node (seconds while an adapter or model loads) and a first download packs a folder: both run in
a reentrant group, and the client's answer arrives in a group of its own, so a multi-threaded
executor (the jobs node's) completes the call while the service callback waits for it. Every
refusal comes back as success false with its code, message and problems (kit.services.answer).
"""

from __future__ import annotations

import json
from typing import Any

from embodied_interfaces.srv import GetModel, GetModelArtefact, ListModels, LoadModel, SetExpertLoaded
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node

from embodied_ai.errors import ErrorCode
from embodied_ai.model_registry.service import ModelsService
from embodied_ros.kit.goal_client import Endpoint, call, check
from embodied_ros.kit.services import answer

LOAD_TIMEOUT_S = 45.0        # an ONNX model of an expert's own loads in well under it on CPU (the bridge waits 60 s)
PERFORMANCE_FLUSH_S = 1.0    # serving figures recorded in this process reach the disk at least this often
DEFAULT_LIMIT = 20


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


class ExpertsServing:
    """``Serving`` over the experts node's set_expert_loaded; callable from a service callback (a blocking call
    whose answer another executor thread delivers)."""

    def __init__(self, node: Node, timeout_s: float = LOAD_TIMEOUT_S) -> None:
        self._client = node.create_client(SetExpertLoaded, "set_expert_loaded", callback_group=ReentrantCallbackGroup())
        self._endpoint = Endpoint("set_expert_loaded", ErrorCode.EXPERT_NOT_READY, "the experts node is not running",
                                  server="experts")
        self._timeout_s = timeout_s

    def load(self, expert: str) -> str:
        return self._set(expert, True)

    def unload(self, expert: str) -> str:
        return self._set(expert, False)

    def _set(self, expert: str, loaded: bool) -> str:
        request = SetExpertLoaded.Request(expert=expert, loaded=loaded)
        return str(check(call(self._client, request, self._endpoint, self._timeout_s), self._endpoint).message)


class ModelEndpoints:
    """Creates the endpoints on ``node`` over ``service``."""

    def __init__(self, node: Node, service: ModelsService) -> None:
        self.service = service
        reads, slow = MutuallyExclusiveCallbackGroup(), ReentrantCallbackGroup()
        for kind, name, work, group in (
                (ListModels, "list_models", self._on_list, reads), (GetModel, "get_model", self._on_get, reads),
                (GetModelArtefact, "get_model_artefact", self._on_artefact, slow),
                (LoadModel, "load_model", self._on_load, slow)):
            node.create_service(kind, name, answer(work), callback_group=group)
        node.create_timer(PERFORMANCE_FLUSH_S, service.performance_log.flush, callback_group=reads)

    # -- services ---------------------------------------------------------------------
    def _on_list(self, request: Any, response: Any) -> Any:
        page, response.total = self.service.list_models(
            request.kind or None, request.status or None, request.name or None, request.base_model or None,
            request.limit or DEFAULT_LIMIT, request.offset)
        response.models_json = to_json(self.service.views(page))
        return response

    def _on_get(self, request: Any, response: Any) -> Any:
        response.result_json = to_json(self.service.describe(
            request.model, request.what or "info", request.start_time or None, request.end_time or None,
            request.interval or "1m"))
        return response

    def _on_artefact(self, request: Any, response: Any) -> Any:
        download = self.service.download(request.model, request.format)
        response.path, response.media_type, response.filename = str(download.path), download.media_type, \
            download.filename
        response.size_bytes, response.sha256 = download.bytes, download.sha256
        return response

    def _on_load(self, request: Any, response: Any) -> Any:
        model = self.service.load(request.model) if request.loaded else self.service.unload(request.model)
        response.model_json = to_json(self.service.view(model))
        return response
