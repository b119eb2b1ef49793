"""Sending a goal or a service request and waiting for the answer, the same way everywhere.

One pattern (nav2_simple_commander's): wait briefly for the server, send the goal, stream its
feedback, wait for the result with a timeout, and cancel the goal when the wait ends without
one (a timeout, or a caller that went away), so no work goes on that nobody waits for.

Two forms of each: blocking, for a node's worker threads (never from an executor callback: the
callback would hold the thread the response needs), and asyncio, for the REST bridge's event
loop while an executor spins the node in another thread.

A missing or inactive server raises ``GraphUnavailable``, a missing answer ``GraphTimeout``;
both carry the code of the capability (``Endpoint.code``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rclpy.action import ActionClient
from rclpy.client import Client
from rclpy.task import Future

from embodied_ai.errors import EmbodiedError, ErrorCode, GraphTimeout, GraphUnavailable, InvalidRequest, api_error_code

DISCOVERY_WAIT_S = 1.0   # how long a request waits for a server it has not discovered yet
GOAL_RESPONSE_S = 5.0    # accepting or refusing a goal is immediate on a live server
SERVER_CHECK_S = 0.5     # while waiting, how often the server's presence in the graph is checked

Feedback = Callable[[Any], None]


@dataclass(frozen=True)
class Endpoint:
    """A server a request goes to, and what to say when it cannot answer."""

    name: str                # the action or service name, as the client was created with
    code: ErrorCode          # the capability's code: when the server is missing or fails without one
    why: str                 # what is missing, in words ("the servo controller is not running")
    server_wait_s: float = DISCOVERY_WAIT_S
    server: str = ""         # the node that serves it in the default graph (launch/robot.yaml)

    def unavailable(self, detail: str = "") -> GraphUnavailable:
        return GraphUnavailable(self.name, self.code, f"{self.why}{': ' + detail if detail else ''}")

    def starting(self) -> GraphUnavailable:
        """The server's node is up but does not serve yet (it is loading its models)."""
        return GraphUnavailable(self.name, self.code, f"the {self.server} node is starting; try again shortly")


def check(result: Any, endpoint: Endpoint) -> Any:
    """``result`` when it says success, else EmbodiedError with its code and message.

    An empty result (success false, code 0, no message) is what rclpy sends when the server's
    callback raised: that is reported as such, with the endpoint's code.
    """
    if not result.success:
        message = result.message or f"{endpoint.name} failed without a reason (see its log)"
        code = api_error_code(result.error_code, endpoint.code)
        if list(getattr(result, "problems", [])):
            raise InvalidRequest(message, list(result.problems), code)
        raise EmbodiedError(message, code)
    return result


# -- blocking (worker threads) ---------------------------------------------------------------
def wait_for(future: Future, timeout_s: float, what: str) -> Any:
    """The future's result; GraphTimeout if it is not done within ``timeout_s``."""
    done = threading.Event()
    future.add_done_callback(lambda _future: done.set())
    if not done.wait(timeout_s):
        raise GraphTimeout(f"{what} did not answer within {timeout_s:.0f} s")
    return future.result()


def run_goal(client: ActionClient, goal: Any, endpoint: Endpoint, timeout_s: float,
             feedback: Feedback | None = None) -> Any:
    """Send ``goal``, wait up to ``timeout_s`` for its result (cancelling it if none comes)."""
    if not client.wait_for_server(timeout_sec=endpoint.server_wait_s):
        raise endpoint.unavailable()
    handle = wait_for(client.send_goal_async(goal, feedback_callback=feedback), GOAL_RESPONSE_S,
                      f"{endpoint.name} goal")
    if not handle.accepted:
        raise endpoint.unavailable("it refused the goal (not active)")
    try:
        return wait_for(handle.get_result_async(), timeout_s, endpoint.name).result
    except BaseException:
        handle.cancel_goal_async()
        raise


def call(client: Client, request: Any, endpoint: Endpoint, timeout_s: float) -> Any:
    """Call a service and wait up to ``timeout_s`` for the response."""
    if not client.wait_for_service(timeout_sec=endpoint.server_wait_s):
        raise endpoint.unavailable()
    return wait_for(client.call_async(request), timeout_s, endpoint.name)


# -- asyncio (the REST bridge) ---------------------------------------------------------------
def to_asyncio(future: Future, loop: asyncio.AbstractEventLoop) -> asyncio.Future:
    """An asyncio future that settles, on ``loop``, when the rclpy ``future`` does."""
    aio = loop.create_future()

    def settle(_: Future) -> None:
        if aio.done():
            return
        exception = future.exception()
        if exception is not None:
            aio.set_exception(exception)
        else:
            aio.set_result(future.result())

    def hand_over(done: Future) -> None:
        try:
            loop.call_soon_threadsafe(settle, done)
        except RuntimeError:
            pass   # the loop has closed: nobody waits for this answer any more

    future.add_done_callback(hand_over)
    return aio


async def wait_for_async(future: Future, timeout_s: float, what: str,
                         server: ActionClient | Client | None = None, endpoint: Endpoint | None = None) -> Any:
    """The future's result; GraphTimeout after ``timeout_s``. With ``server`` and ``endpoint``,
    a server that leaves the graph meanwhile (its process died) ends the wait at once with
    GraphUnavailable, the 503 of a node that is restarting, not a 504 much later."""
    aio = to_asyncio(future, asyncio.get_running_loop())
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        try:
            return await asyncio.wait_for(asyncio.shield(aio), min(left, SERVER_CHECK_S) if server else left)
        except TimeoutError as exc:
            if time.monotonic() >= deadline:
                aio.cancel()
                raise GraphTimeout(f"{what} did not answer within {timeout_s:.0f} s") from exc
            if server is not None and endpoint is not None and not _ready(server):
                aio.cancel()
                raise endpoint.unavailable("it left the graph before answering") from exc


def _ready(server: ActionClient | Client) -> bool:
    return server.server_is_ready() if isinstance(server, ActionClient) else server.service_is_ready()


async def require_async(client: ActionClient | Client | None, endpoint: Endpoint) -> None:
    """Wait briefly for discovery without blocking the loop; GraphUnavailable if still absent.
    ``client`` is None when its interface is not built in this install."""
    if client is None:
        raise endpoint.unavailable("its interface is not built in this install")
    deadline = time.monotonic() + endpoint.server_wait_s
    while not _ready(client):
        if time.monotonic() > deadline:
            raise endpoint.unavailable()
        await asyncio.sleep(0.05)


async def send_goal_async(client: ActionClient | None, goal: Any, endpoint: Endpoint,
                          feedback: Feedback | None = None) -> Any:
    """The accepted goal's handle (for callers that stream or keep it)."""
    await require_async(client, endpoint)
    assert client is not None
    handle = await wait_for_async(client.send_goal_async(goal, feedback_callback=feedback), GOAL_RESPONSE_S,
                                  f"{endpoint.name} goal", client, endpoint)
    if not handle.accepted:
        raise endpoint.unavailable("it refused the goal (not active)")
    return handle


async def run_goal_async(client: ActionClient | None, goal: Any, endpoint: Endpoint, timeout_s: float,
                         feedback: Feedback | None = None) -> Any:
    handle = await send_goal_async(client, goal, endpoint, feedback)
    try:
        return (await wait_for_async(handle.get_result_async(), timeout_s, endpoint.name, client, endpoint)).result
    except BaseException:
        handle.cancel_goal_async()   # a timeout, or an HTTP client that went away, stops the work
        raise


async def call_async(client: Client | None, request: Any, endpoint: Endpoint, timeout_s: float) -> Any:
    await require_async(client, endpoint)
    assert client is not None
    return await wait_for_async(client.call_async(request), timeout_s, endpoint.name, client, endpoint)
