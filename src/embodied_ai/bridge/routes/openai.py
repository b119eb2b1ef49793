"""OpenAI-compatible /v1/chat/completions over the experts, so chat clients (the openai package,
chat UIs) work unchanged. The model "auto" lets the router choose. OpenAI's /v1/models is
routes.models' list, which the model registry's clients read too."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from embodied_ai.bridge.errors import describe, embodied_error_response, error_body, error_responses
from embodied_ai.bridge.events import EventHub
from embodied_ai.bridge.metrics import BridgeMetrics
from embodied_ai.bridge.ports.inference import GenerateChunk, GenerateRequest, InferencePort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.routes.inference import record
from embodied_ai.bridge.schemas.openai import (
    ROUTER_MODEL,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    ChunkChoice,
    Delta,
    Usage,
)
from embodied_ai.bridge.security import authorize
from embodied_ai.errors import EmbodiedError

router = APIRouter(prefix=deps.API_PREFIX, tags=["openai"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 422, 429, 503, 504))
Inference = Annotated[InferencePort, Depends(deps.inference)]
Metrics = Annotated[BridgeMetrics, Depends(deps.metrics)]
Hub = Annotated[EventHub, Depends(deps.hub)]
SYSTEM_ROLES = {"system", "developer"}


def generate_request(body: ChatCompletionRequest) -> GenerateRequest:
    """The generate action takes one prompt and a system prompt: earlier turns are rendered
    into the prompt as a plain transcript (the experts node applies the chat template)."""
    system = "\n\n".join(m.content for m in body.messages if m.role in SYSTEM_ROLES)
    turns: list[ChatMessage] = [m for m in body.messages if m.role not in SYSTEM_ROLES]
    if len(turns) == 1:
        prompt = turns[0].content
    else:
        prompt = "\n".join(f"{m.role.capitalize()}: {m.content}" for m in turns) + "\nAssistant:"
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    return GenerateRequest(prompt=prompt, expert="" if body.model == ROUTER_MODEL else body.model, system=system,
                           max_tokens=body.max_completion_tokens or body.max_tokens or 0,
                           temperature=body.temperature or 0.0, top_p=body.top_p or 0.0, stop=stop)


@router.post("/chat/completions", summary="OpenAI chat completions (stream=true for SSE chunks)",
             response_model=ChatCompletion, responses={200: {"content": {"text/event-stream": {}}}})
async def chat_completions(body: ChatCompletionRequest, inference: Inference, metrics: Metrics,
                           hub: Hub) -> ChatCompletion | Response:
    request = generate_request(body)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if not body.stream:
        outcome = await inference.generate(request)
        record(outcome, metrics, hub)
        return ChatCompletion(
            id=completion_id, created=created, model=outcome.expert or body.model,
            choices=[Choice(message=AssistantMessage(content=outcome.text), finish_reason=outcome.finish_reason)],
            usage=Usage(prompt_tokens=outcome.prompt_tokens, completion_tokens=outcome.completion_tokens,
                        total_tokens=outcome.prompt_tokens + outcome.completion_tokens))

    stream = inference.generate_stream(request)
    try:
        first = await anext(stream)
    except EmbodiedError as exc:
        await stream.aclose()
        return embodied_error_response(exc)

    def chunk(delta: Delta, finish_reason: str | None = None, model: str = body.model) -> ServerSentEvent:
        return ServerSentEvent(data=ChatCompletionChunk(
            id=completion_id, created=created, model=model,
            choices=[ChunkChoice(delta=delta, finish_reason=finish_reason)]).model_dump_json(exclude_none=True))

    async def events() -> AsyncIterator[ServerSentEvent]:
        event = first
        try:
            yield chunk(Delta(role="assistant", content=""))
            while isinstance(event, GenerateChunk):
                yield chunk(Delta(content=event.text))
                event = await anext(stream)
            record(event, metrics, hub)
            yield chunk(Delta(), event.finish_reason, event.expert or body.model)
        except EmbodiedError as exc:
            error = error_body(int(exc.code), describe(exc.code), exc.message)
            yield ServerSentEvent(data=json.dumps(error, default=str))
        finally:
            await stream.aclose()
        yield ServerSentEvent(data="[DONE]")

    return EventSourceResponse(events(), ping=15)
