"""The bridge's service calls, with a real server and client in one process: a read whose first
answer is lost (here: comes too late) is sent again and answered; a request with an effect is
sent once and its answer awaited; a server that never answers is a timeout of the whole wait."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator

import pytest
import rclpy
from embodied_interfaces.srv import CancelJob, GetJob
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor

from embodied_ai.errors import ErrorCode, GraphTimeout
from embodied_ros.bridge import plumbing
from embodied_ros.bridge.plumbing import Graph, Service, is_read
from embodied_ros.kit.goal_client import Endpoint

LATE_S = 1.5   # how late the server answers its first request of each service


class Server:
    """get_job and cancel_job whose first request is answered late (as a lost answer looks to
    the client); every request is counted."""

    def __init__(self, node: rclpy.node.Node, group: ReentrantCallbackGroup) -> None:
        self.requests: dict[str, int] = {"get_job": 0, "cancel_job": 0}
        self.silent = False   # answer nothing until released
        self.released = threading.Event()
        node.create_service(GetJob, "get_job", self._answer("get_job"), callback_group=group)
        node.create_service(CancelJob, "cancel_job", self._answer("cancel_job"), callback_group=group)

    def _answer(self, name: str):
        def callback(request, response):
            self.requests[name] += 1
            if self.silent:
                self.released.wait(30)
            elif self.requests[name] == 1:
                time.sleep(LATE_S)
            response.success, response.job_json = True, json.dumps({"answer": self.requests[name]})
            return response
        return callback


@pytest.fixture
def rig(monkeypatch) -> Iterator[tuple[Graph, Server]]:
    monkeypatch.setattr(plumbing, "FIRST_ANSWER_S", 0.5)
    context = Context()
    rclpy.init(context=context)
    server_node = rclpy.create_node("services_server", context=context, start_parameter_services=False)
    client_node = rclpy.create_node("services_client", context=context, start_parameter_services=False)
    group = ReentrantCallbackGroup()
    server, graph = Server(server_node, group), Graph(client_node)
    executor = MultiThreadedExecutor(num_threads=6, context=context)
    executor.add_node(server_node)
    executor.add_node(client_node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        yield graph, server
    finally:
        server.released.set()
        executor.shutdown()
        rclpy.shutdown(context=context)
        spinner.join(5)


def endpoint(name: str) -> Endpoint:
    return Endpoint(name, ErrorCode.TRAINING_FAILED, "the test server is not running", server_wait_s=5.0)


def test_reads_are_known_by_their_names():
    assert all(map(is_read, ["get_job", "list_models", "preview_dataset", "training_status", "get_model_artefact"]))
    assert not any(map(is_read, ["submit_job", "cancel_job", "load_model", "redeliver_webhook", "emergency_stop"]))


def test_a_reads_lost_first_answer_is_asked_for_again(rig):
    graph, server = rig
    service = Service(graph, GetJob, endpoint("get_job"))
    started = time.monotonic()
    response = asyncio.run(service.call(10.0, job_id=1))
    assert json.loads(response.job_json) == {"answer": 2}   # the second request's answer
    assert time.monotonic() - started < LATE_S + plumbing.RESPONSE_MATCH_S
    # Answered once: the next read is sent once and waited for.
    assert json.loads(asyncio.run(service.call(10.0, job_id=1)).job_json) == {"answer": 3}
    assert server.requests["get_job"] == 3


def test_a_request_with_an_effect_is_sent_once(rig):
    graph, server = rig
    response = asyncio.run(Service(graph, CancelJob, endpoint("cancel_job")).call(10.0, job_id=1))
    assert json.loads(response.job_json) == {"answer": 1}
    assert server.requests["cancel_job"] == 1


def test_a_read_never_answered_is_a_timeout_of_the_whole_wait(rig):
    graph, server = rig
    server.silent = True
    started = time.monotonic()
    with pytest.raises(GraphTimeout, match="get_job did not answer within 2 s"):
        asyncio.run(Service(graph, GetJob, endpoint("get_job")).call(2.0, job_id=1))
    assert 2.0 <= time.monotonic() - started < 3.5   # 0.5 s of it to settle after discovery
    assert server.requests["get_job"] == 3   # sent again after 0.5 s, and after 1 s more
