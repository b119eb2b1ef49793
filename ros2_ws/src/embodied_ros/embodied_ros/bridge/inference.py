"""The inference port over rclpy: the experts node's generate action (whole, or streamed from
its feedback), its route service and router_statistics topic, and its retrain_router action."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from embodied_ai.bridge.ports.inference import (
    GenerateChunk,
    GenerateEvent,
    GenerateOutcome,
    GenerateRequest,
    RouteOutcome,
    RouterRetrained,
    RouterStatistics,
)
from embodied_ai.bridge.settings import BridgeTimeouts
from embodied_ai.errors import ErrorCode, GraphTimeout, GraphUnavailable
from embodied_ros.bridge.plumbing import Action, Events, Graph, Latest, Service, finite, optional_interface
from embodied_ros.kit.goal_client import Endpoint, check, to_asyncio
from embodied_ros.kit.qos import STATE

Generate = optional_interface("embodied_interfaces.action", "Generate")
Route = optional_interface("embodied_interfaces.srv", "Route")
RetrainRouter = optional_interface("embodied_interfaces.action", "RetrainRouter")
RouterStatisticsMsg = optional_interface("embodied_interfaces.msg", "RouterStatistics")

EXPERTS_NODE = "the experts node is not running"
ROUTER = "the experts node's router is not running"
# A failed generation or routing without a code of its own is an inference failure (a missing
# server is EXPERT_NOT_READY, 503).
GENERATE_FAILED = Endpoint("generate", ErrorCode.INFERENCE_FAILED, EXPERTS_NODE, server="experts")
ROUTE_FAILED = Endpoint("route", ErrorCode.INFERENCE_FAILED, ROUTER, server="experts")


def generate_goal(request: GenerateRequest) -> dict[str, Any]:
    return {"prompt": request.prompt, "expert": request.expert, "system": request.system,
            "max_tokens": request.max_tokens, "temperature": request.temperature, "top_p": request.top_p,
            "stop": list(request.stop)}


class RosInference:
    def __init__(self, graph: Graph, events: Events, timeouts: BridgeTimeouts) -> None:
        self._events, self._timeouts = events, timeouts
        self._generate = Action(graph, Generate, Endpoint("generate", ErrorCode.EXPERT_NOT_READY, EXPERTS_NODE,
                                                          server="experts"))
        self._route = Service(graph, Route, Endpoint("route", ErrorCode.EXPERT_NOT_READY, ROUTER, server="experts"))
        self._retrain = Action(graph, RetrainRouter, Endpoint("retrain_router", ErrorCode.TRAINING_FAILED, ROUTER,
                                                              server="experts"))
        self._statistics = Latest()
        graph.subscribe(RouterStatisticsMsg, "router_statistics", self._on_router_statistics, STATE)

    def _on_router_statistics(self, msg: Any) -> None:
        self._statistics.set(msg)
        self._events.emit("inference", "router_statistics", {
            "total_requests": int(msg.total_requests), "fallback_rate": float(msg.fallback_rate),
            "experts": list(msg.experts), "selections": [int(s) for s in msg.selections]})

    def _outcome(self, result: Any, started: float) -> GenerateOutcome:
        check(result, GENERATE_FAILED)
        return GenerateOutcome(
            text=result.text, expert=result.expert, route_confidence=float(result.route_confidence),
            routed_to_fallback=result.routed_to_fallback, finish_reason=result.finish_reason or "stop",
            prompt_tokens=int(result.prompt_tokens), completion_tokens=int(result.completion_tokens),
            time_to_first_token_ms=float(result.time_to_first_token_ms),
            tokens_per_second=float(result.tokens_per_second),
            inference_time_ms=(time.perf_counter() - started) * 1e3)

    async def generate(self, request: GenerateRequest) -> GenerateOutcome:
        started = time.perf_counter()
        result = await self._generate.run(self._timeouts.generate_s, **generate_goal(request))
        return self._outcome(result, started)

    async def generate_stream(self, request: GenerateRequest) -> AsyncGenerator[GenerateEvent, None]:
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[GenerateChunk] = asyncio.Queue()

        def on_feedback(message: Any) -> None:
            chunk = GenerateChunk(message.feedback.text, int(message.feedback.completion_tokens))
            loop.call_soon_threadsafe(chunks.put_nowait, chunk)

        started = time.perf_counter()
        handle = await self._generate.send(on_feedback, **generate_goal(request))
        result = to_asyncio(handle.get_result_async(), loop)
        gap = self._timeouts.token_gap_s
        finished = False
        try:
            while True:
                next_chunk = asyncio.ensure_future(chunks.get())
                done, _ = await asyncio.wait({next_chunk, result}, timeout=gap, return_when=asyncio.FIRST_COMPLETED)
                if next_chunk in done:
                    yield next_chunk.result()
                    continue
                next_chunk.cancel()
                if not done:
                    raise GraphTimeout(f"generate sent nothing for {gap:.0f} s")
                # Feedback delivered before the result is already queued: flush it first.
                while not chunks.empty():
                    yield chunks.get_nowait()
                finished = True
                yield self._outcome(result.result().result, started)
                return
        finally:
            if not finished:
                handle.cancel_goal_async()  # a timeout, or an HTTP client that went away, stops the work

    async def route(self, prompt: str) -> RouteOutcome:
        response = await self._route.call(self._timeouts.route_s, prompt=prompt)
        check(response, ROUTE_FAILED)
        return RouteOutcome(response.expert, float(response.confidence), response.fallback,
                            list(response.candidates), [float(s) for s in response.scores])

    def router_statistics(self) -> RouterStatistics:
        msg = self._statistics.msg
        if msg is None:
            raise GraphUnavailable("router_statistics", ErrorCode.EXPERT_NOT_READY,
                                   "the experts node has not published router statistics")
        return RouterStatistics(int(msg.total_requests), float(msg.fallback_rate), list(msg.experts),
                                [int(s) for s in msg.selections], [float(c) for c in msg.average_confidence],
                                [float(a) for a in msg.feedback_accuracy], list(msg.issues), self._statistics.age())

    async def retrain_router(self, training_data: Path, num_epochs: int) -> RouterRetrained:
        self._events.emit("training", "router_retraining", {"training_data_path": training_data.name})
        result = check(await self._retrain.run(self._timeouts.retrain_s, training_data_path=str(training_data),
                                               num_epochs=num_epochs), self._retrain.endpoint)
        retrained = RouterRetrained(result.message, int(result.gate_version), list(result.experts),
                                    finite(result.validation_accuracy), list(result.row_errors))
        self._events.emit("training", "router_retrained", {"gate_version": retrained.gate_version,
                                                           "experts": retrained.experts,
                                                           "validation_accuracy": retrained.validation_accuracy})
        return retrained

    def components(self) -> dict[str, str]:
        return {"experts": self._generate.readiness(), "router": self._route.readiness()}
