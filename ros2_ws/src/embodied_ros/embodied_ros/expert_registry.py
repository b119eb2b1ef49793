"""The experts node's registry and router endpoints: ROS wiring over embodied_ai.experts.service
(the Robot API's Expert Management API on ROS). Training an expert is a job of the jobs node
(embodied_ros.training_endpoints).

  services  list_experts (ListExperts), get_expert (GetExpert), create_expert (CreateExpert),
            update_expert (UpdateExpert), delete_expert (DeleteExpert)
  actions   retrain_router (RetrainRouter)

Every refusal comes back as success false with an error code of the Robot API and a message; nothing is
raised into rclpy (an exception there would answer an empty response). While the node is not
active the service is not there: requests are refused with EXPERT_NOT_READY, goals rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from embodied_interfaces.action import RetrainRouter
from embodied_interfaces.srv import (
    CreateExpert,
    DeleteExpert,
    GetExpert,
    ListExperts,
    UpdateExpert,
)
from rclpy.action import ActionServer, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node

from embodied_ai.errors import EmbodiedError
from embodied_ai.experts.service import ROW_ERRORS_REPORTED, ExpertService
from embodied_ros.expert_conversions import expert_msg, nan_if_none
from embodied_ros.kit.goals import refuse, succeed

ActiveService = Callable[[], ExpertService]  # the service while the node is active, else EmbodiedError
Handler = Callable[[ExpertService, Any, Any], Any]  # (service, request, response) -> response


def guarded(handler: Handler, active_service: ActiveService) -> Callable[[Any, Any], Any]:
    """A service callback: ``handler`` fills the response from the active service; success true,
    or false with the refusal's code and reason."""
    def call(request: Any, response: Any) -> Any:
        try:
            response = handler(active_service(), request, response)
            response.success = True
        except EmbodiedError as exc:
            response.success, response.error_code, response.message = False, int(exc.code), str(exc)
        return response
    return call


class ExpertRegistryEndpoints:
    """Creates the endpoints on ``node``; calls only the service ``active_service`` gives."""

    def __init__(self, node: Node, active_service: ActiveService, on_goal: Callable[[Any], GoalResponse]) -> None:
        self._node, self._service = node, active_service
        services = MutuallyExclusiveCallbackGroup()  # registry writes are quick; one at a time
        actions = ReentrantCallbackGroup()
        for kind, name, handler in (
                (ListExperts, "list_experts", self._on_list), (GetExpert, "get_expert", self._on_get),
                (CreateExpert, "create_expert", self._on_create), (UpdateExpert, "update_expert", self._on_update),
                (DeleteExpert, "delete_expert", self._on_delete)):
            node.create_service(kind, name, self._guarded(handler), callback_group=services)
        self._retrain = ActionServer(node, RetrainRouter, "retrain_router", self._execute_retrain,
                                     callback_group=actions, goal_callback=on_goal)

    def _guarded(self, handler: Handler) -> Callable[[Any, Any], Any]:
        return guarded(handler, self._service)

    # -- registry -----------------------------------------------------------------------
    @staticmethod
    def _on_list(service: ExpertService, request: ListExperts.Request,
                 response: ListExperts.Response) -> ListExperts.Response:
        experts, response.total = service.registry.list(
            category=request.category or None, status=request.status or None, sort_by=request.sort_by or "name",
            limit=int(request.limit) or 50, offset=int(request.offset))
        response.experts = [expert_msg(service, e) for e in experts]
        return response

    @staticmethod
    def _on_get(service: ExpertService, request: GetExpert.Request, response: GetExpert.Response) -> GetExpert.Response:
        response.expert = expert_msg(service, service.registry.get(request.expert))
        return response

    @staticmethod
    def _on_create(service: ExpertService, request: CreateExpert.Request,
                   response: CreateExpert.Response) -> CreateExpert.Response:
        given = {k: int(v) for k, v in (("d_model", request.d_model), ("n_layers", request.n_layers),
                                        ("n_heads", request.n_heads)) if v}
        expert = service.create_expert(
            request.name, request.domain, request.category or "general", request.quantization or "Q8",
            shape=given or None, size=request.size or None, base_model=request.base_model or None)
        response.expert = expert_msg(service, expert)
        response.estimated_size_gb = service.estimated_size_gb(expert)
        return response

    @staticmethod
    def _on_update(service: ExpertService, request: UpdateExpert.Request,
                   response: UpdateExpert.Response) -> UpdateExpert.Response:
        expert = service.update_expert(request.expert, request.domain, request.category, request.status)
        response.expert = expert_msg(service, expert)
        return response

    @staticmethod
    def _on_delete(service: ExpertService, request: DeleteExpert.Request,
                   response: DeleteExpert.Response) -> DeleteExpert.Response:
        expert = service.registry.get(request.expert, include_deleted=request.hard_delete)
        service.delete(str(expert.id), hard=request.hard_delete)
        response.expert_id = expert.id
        response.status = "hard_deleted" if request.hard_delete else "deleted"
        return response

    # -- the router ---------------------------------------------------------------------
    def _execute_retrain(self, goal_handle: ServerGoalHandle) -> RetrainRouter.Result:
        request, result = goal_handle.request, RetrainRouter.Result()
        try:
            service = self._service()
            goal_handle.publish_feedback(RetrainRouter.Feedback(stage="embedding and training"))
            retrained = service.retrain_router(Path(request.training_data_path), int(request.num_epochs) or None)
        except EmbodiedError as exc:
            return refuse(goal_handle, result, exc.code, str(exc))
        goal_handle.publish_feedback(RetrainRouter.Feedback(stage="saved"))
        result.gate_version, result.experts = retrained.gate_version, list(retrained.experts)
        result.examples = retrained.metrics.examples
        result.validation_accuracy = nan_if_none(retrained.metrics.validation_accuracy)
        result.row_errors = retrained.reported_row_errors(ROW_ERRORS_REPORTED)
        return succeed(goal_handle, result, retrained.summary)
