"""The goal pattern of every node, with a real action server and client in one process: a goal
that succeeds, one refused with a code, one that outlives its timeout (and is cancelled on the
server), a server that is not there; the blocking and the asyncio forms."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import rclpy
from embodied_interfaces.action import Generate
from rclpy.action import ActionServer
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor

from embodied_ai.errors import EmbodiedError, ErrorCode, GraphTimeout, GraphUnavailable
from embodied_ros.kit.action_client import ThreadSafeActionClient
from embodied_ros.kit.goal_client import Endpoint, check, run_goal, run_goal_async
from embodied_ros.kit.goals import Ending, accept_cancel, finish, refuse, succeed

ENDPOINT = Endpoint("generate_test", ErrorCode.INFERENCE_FAILED, "the test server is not running", server_wait_s=5.0)


@dataclass
class Served:
    cancelled: list[str] = field(default_factory=list)
    server: ActionServer | None = None


def execute(served: Served):
    def callback(goal_handle):
        prompt, result = goal_handle.request.prompt, Generate.Result()
        if prompt == "refuse":
            return refuse(goal_handle, result, ErrorCode.EXPERT_NOT_FOUND, "no such expert")
        if prompt == "slow":
            while not goal_handle.is_cancel_requested and served.server is not None:
                time.sleep(0.01)
            served.cancelled.append(prompt)
            return finish(goal_handle, result, Ending.CANCELED, ErrorCode.OK, "cancelled")
        goal_handle.publish_feedback(Generate.Feedback(text="he", completion_tokens=1))
        result.text = "hello"
        return succeed(goal_handle, result)
    return callback


@pytest.fixture
def rig() -> Iterator[tuple[ThreadSafeActionClient, Served]]:
    context = Context()
    rclpy.init(context=context)   # the run's own ROS_DOMAIN_ID (.ci/run sets one)
    server_node = rclpy.create_node("goal_server", context=context, start_parameter_services=False)
    client_node = rclpy.create_node("goal_client", context=context, start_parameter_services=False)
    served, group = Served(), ReentrantCallbackGroup()
    server = ActionServer(server_node, Generate, "generate_test", execute(served), callback_group=group,
                          cancel_callback=accept_cancel)
    served.server = server
    client = ThreadSafeActionClient(client_node, Generate, "generate_test", callback_group=group)
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    executor.add_node(server_node)
    executor.add_node(client_node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        yield client, served
    finally:
        executor.shutdown()
        if served.server is not None:
            server.destroy()
        client.destroy()
        rclpy.shutdown(context=context)
        spinner.join(5)


def test_a_goal_succeeds_with_its_feedback(rig) -> None:
    client, _ = rig
    feedback: list = []
    result = run_goal(client, Generate.Goal(prompt="hi"), ENDPOINT, 10.0, lambda f: feedback.append(f.feedback))
    assert check(result, ENDPOINT).text == "hello" and result.error_code == 0
    assert [f.text for f in feedback] == ["he"]


def test_a_refused_goal_carries_its_code_and_reason(rig) -> None:
    client, _ = rig
    result = run_goal(client, Generate.Goal(prompt="refuse"), ENDPOINT, 10.0)
    assert not result.success and result.error_code == ErrorCode.EXPERT_NOT_FOUND
    with pytest.raises(EmbodiedError, match="no such expert") as raised:
        check(result, ENDPOINT)
    assert raised.value.code is ErrorCode.EXPERT_NOT_FOUND


def test_a_goal_past_its_timeout_is_cancelled_on_the_server(rig) -> None:
    client, served = rig
    with pytest.raises(GraphTimeout, match="generate_test did not answer within 1 s"):
        run_goal(client, Generate.Goal(prompt="slow"), ENDPOINT, 1.0)
    deadline = time.monotonic() + 5
    while not served.cancelled:
        assert time.monotonic() < deadline, "the server never saw the cancel"
        time.sleep(0.05)


def test_the_asyncio_form_behaves_the_same(rig) -> None:
    client, served = rig

    async def scenario() -> None:
        result = await run_goal_async(client, Generate.Goal(prompt="hi"), ENDPOINT, 10.0)
        assert check(result, ENDPOINT).text == "hello"
        with pytest.raises(GraphTimeout):
            await run_goal_async(client, Generate.Goal(prompt="slow"), ENDPOINT, 1.0)
    asyncio.run(scenario())
    deadline = time.monotonic() + 5
    while not served.cancelled:
        assert time.monotonic() < deadline, "the server never saw the cancel"
        time.sleep(0.05)


def test_a_missing_server_is_unavailable_with_the_capability_code(rig) -> None:
    client, _ = rig
    absent = ThreadSafeActionClient(client._node, Generate, "no_such_action")
    missing = Endpoint("no_such_action", ErrorCode.HARDWARE_ERROR, "nothing serves it", server_wait_s=0.2)
    with pytest.raises(GraphUnavailable, match="nothing serves it") as raised:
        run_goal(absent, Generate.Goal(prompt="hi"), missing, 1.0)
    assert raised.value.code is ErrorCode.HARDWARE_ERROR and raised.value.endpoint == "no_such_action"
    with pytest.raises(GraphUnavailable):
        asyncio.run(run_goal_async(None, Generate.Goal(prompt="hi"), missing, 1.0))
    absent.destroy()


def test_a_server_that_leaves_mid_goal_is_unavailable_at_once_not_a_timeout(rig) -> None:
    """As when its process is killed: the wait ends with the 503 of a restarting node."""
    client, served = rig

    async def scenario() -> float:
        waiting = asyncio.ensure_future(run_goal_async(client, Generate.Goal(prompt="slow"), ENDPOINT, 60.0))
        await asyncio.sleep(0.5)
        assert served.server is not None
        server, served.server = served.server, None   # the execute callback ends; the server goes
        server.destroy()
        began = time.monotonic()
        with pytest.raises(GraphUnavailable, match="left the graph before answering"):
            await waiting
        return time.monotonic() - began
    assert asyncio.run(scenario()) < 10.0
