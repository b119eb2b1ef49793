"""Inference API: generate, its SSE token stream, and batches, over the experts' generate action."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from embodied_ai.bridge.errors import describe, embodied_error_response, error_body, error_responses, http_status
from embodied_ai.bridge.events import EventHub
from embodied_ai.bridge.metrics import BridgeMetrics
from embodied_ai.bridge.ports.common import GraphEvent
from embodied_ai.bridge.ports.inference import GenerateChunk, GenerateOutcome, GenerateRequest, InferencePort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, ErrorInfo, ok
from embodied_ai.bridge.schemas.inference import (
    BatchBody,
    BatchResult,
    BatchResults,
    ExpertRef,
    GenerateBody,
    Generated,
    StreamToken,
)
from embodied_ai.bridge.security import authorize
from embodied_ai.errors import EmbodiedError, GraphUnavailable

router = APIRouter(prefix=f"{deps.API_PREFIX}/inference", tags=["inference"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 422, 429, 503, 504))
Inference = Annotated[InferencePort, Depends(deps.inference)]
Metrics = Annotated[BridgeMetrics, Depends(deps.metrics)]
Hub = Annotated[EventHub, Depends(deps.hub)]


def expert_name(ref: ExpertRef) -> str:
    return "" if ref is None else str(ref)


def generate_request(body: GenerateBody) -> GenerateRequest:
    return GenerateRequest(prompt=body.prompt, expert=expert_name(body.expert_id), system=body.system,
                           max_tokens=body.max_tokens or 0, temperature=body.temperature,
                           top_p=body.top_p, stop=list(body.stop_sequences))


def generated(outcome: GenerateOutcome) -> Generated:
    return Generated(text=outcome.text, tokens_generated=outcome.completion_tokens,
                     inference_time_ms=outcome.inference_time_ms, expert_used=outcome.expert,
                     finish_reason=outcome.finish_reason, route_confidence=outcome.route_confidence,
                     routed_to_fallback=outcome.routed_to_fallback,
                     time_to_first_token_ms=outcome.time_to_first_token_ms,
                     tokens_per_second=outcome.tokens_per_second)


def record(outcome: GenerateOutcome, metrics: BridgeMetrics, hub: EventHub) -> None:
    """Count a finished generation and tell the WebSocket's inference channel."""
    metrics.inference.record(outcome.inference_time_ms)
    metrics.generated_tokens.labels(outcome.expert or "unknown").inc(outcome.completion_tokens)
    hub.publish(GraphEvent("inference", "generation_completed", {
        "expert": outcome.expert, "tokens_generated": outcome.completion_tokens,
        "inference_time_ms": outcome.inference_time_ms, "finish_reason": outcome.finish_reason}))


@router.post("/generate", summary="Generate text with an expert (or let the router choose)")
async def generate(body: GenerateBody, inference: Inference, metrics: Metrics, hub: Hub) -> Envelope[Generated]:
    outcome = await inference.generate(generate_request(body))
    record(outcome, metrics, hub)
    return ok(generated(outcome))


@router.post("/generate/stream", summary="Generate with Server-Sent Events",
             response_description="`message` events with `{token, tokens_generated}`, then one `done` event "
                                  "with the full result (or one `error` event with the envelope)",
             responses={200: {"content": {"text/event-stream": {}}}})
async def generate_stream(body: GenerateBody, inference: Inference, metrics: Metrics, hub: Hub) -> Response:
    stream = inference.generate_stream(generate_request(body))
    try:
        # Wait for the first event here so that a missing experts node is a plain 503
        # answer, not a stream that fails.
        first = await anext(stream)
    except EmbodiedError as exc:
        await stream.aclose()
        return embodied_error_response(exc)

    async def events() -> AsyncIterator[ServerSentEvent]:
        event = first
        try:
            while True:
                if isinstance(event, GenerateChunk):
                    token = StreamToken(token=event.text, tokens_generated=event.completion_tokens)
                    yield ServerSentEvent(data=token.model_dump_json())
                else:
                    record(event, metrics, hub)
                    yield ServerSentEvent(data=generated(event).model_dump_json(), event="done")
                    return
                event = await anext(stream)
        except EmbodiedError as exc:
            yield ServerSentEvent(data=json.dumps(error_body(int(exc.code), describe(exc.code), exc.message),
                                                  default=str), event="error")
        finally:
            await stream.aclose()  # a client that hangs up cancels the generation

    return EventSourceResponse(events(), ping=15)


@router.post("/batch", summary="Several prompts, one after another")
async def batch(body: BatchBody, inference: Inference, metrics: Metrics, hub: Hub) -> Envelope[BatchResults]:
    started = time.perf_counter()
    results: list[BatchResult] = []
    for item in body.requests:
        item_started = time.perf_counter()
        request = GenerateRequest(prompt=item.prompt, expert=expert_name(item.expert_id),
                                  max_tokens=body.max_tokens or 0, temperature=body.temperature)
        try:
            outcome = await inference.generate(request)
        except GraphUnavailable:
            raise  # nothing in the batch can run: answer 503 for all of it
        except EmbodiedError as exc:
            results.append(BatchResult(
                id=item.id, inference_time_ms=(time.perf_counter() - item_started) * 1000.0,
                error=ErrorInfo(code=int(exc.code), message=describe(exc.code),
                                details=f"{exc.message} (HTTP {http_status(exc)} alone)")))
            continue
        record(outcome, metrics, hub)
        results.append(BatchResult(id=item.id, text=outcome.text, expert_used=outcome.expert,
                                   inference_time_ms=outcome.inference_time_ms))
    return ok(BatchResults(results=results, total_time_ms=(time.perf_counter() - started) * 1000.0))
