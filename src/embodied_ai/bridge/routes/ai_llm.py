"""Seed 002's LLM service: ``/v1/ai/llm/generate``, ``/chat`` and ``/models``.

The same engine as ``/v1/inference`` and OpenAI's ``/v1/chat/completions``: the experts node's generate action
through the inference port, with ``model`` an expert's name or ``auto`` (the router). Generations are counted
where those routes count theirs (``routes.inference.record``), and chat turns become one prompt the way the
OpenAI route renders them (``routes.openai.generate_request``), so the three APIs answer alike."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.events import EventHub
from embodied_ai.bridge.metrics import BridgeMetrics
from embodied_ai.bridge.ports.experts import ExpertFilter, ExpertRecord, ExpertsPort
from embodied_ai.bridge.ports.inference import GenerateOutcome, GenerateRequest, InferencePort
from embodied_ai.bridge.routes import deps, openai
from embodied_ai.bridge.routes.inference import record
from embodied_ai.bridge.schemas.ai_llm import (
    MAX_GENERATED_TOKENS,
    ChatReply,
    GenerationMetadata,
    LlmChatBody,
    LlmChatReply,
    LlmChoice,
    LlmGenerateBody,
    LlmGenerated,
    LlmModel,
    LlmModels,
    LlmUsage,
)
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.openai import ROUTER_MODEL, ChatCompletionRequest, ChatMessage
from embodied_ai.bridge.security import authorize
from embodied_ai.errors import GraphUnavailable

router = APIRouter(prefix=f"{deps.API_PREFIX}/ai/llm", tags=["ai-llm"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 429, 503, 504))
Inference = Annotated[InferencePort, Depends(deps.inference)]
Experts = Annotated[ExpertsPort, Depends(deps.experts)]
Metrics = Annotated[BridgeMetrics, Depends(deps.metrics)]
Hub = Annotated[EventHub, Depends(deps.hub)]
CAPABILITIES = ["text_generation", "chat", "completion"]
REGISTRY_PAGE = 500   # every expert in one page (as /v1/monitoring/metrics counts them)


def request_id() -> str:
    return f"req_{uuid.uuid4().hex[:16]}"


def expert_of(model: str) -> str:
    """The generate action's expert: "" lets the router choose."""
    return "" if model == ROUTER_MODEL else model


async def run(request: GenerateRequest, inference: InferencePort, metrics: BridgeMetrics,
              hub: EventHub) -> GenerateOutcome:
    outcome = await inference.generate(request)
    record(outcome, metrics, hub)
    return outcome


@router.post("/generate", summary="Generate text with an expert, or `auto` (seed 002)")
async def generate(body: LlmGenerateBody, inference: Inference, metrics: Metrics, hub: Hub) -> Envelope[LlmGenerated]:
    parameters = body.parameters
    outcome = await run(GenerateRequest(prompt=body.prompt, expert=expert_of(body.model), system=body.system,
                                        max_tokens=body.max_tokens or 0, temperature=body.temperature,
                                        top_p=parameters.top_p, stop=list(parameters.stop)), inference, metrics, hub)
    return ok(LlmGenerated(
        request_id=request_id(), model=outcome.expert, generated_text=outcome.text,
        metadata=GenerationMetadata(
            tokens_used=outcome.prompt_tokens + outcome.completion_tokens, prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.completion_tokens, processing_time=outcome.inference_time_ms / 1000.0,
            cost=0.0, finish_reason=outcome.finish_reason, route_confidence=outcome.route_confidence,
            routed_to_fallback=outcome.routed_to_fallback)))


@router.post("/chat", summary="Answer a conversation of {role, content} messages (seed 002)")
async def chat(body: LlmChatBody, inference: Inference, metrics: Metrics, hub: Hub) -> Envelope[LlmChatReply]:
    completion = ChatCompletionRequest(
        model=body.model, messages=[ChatMessage(role=m.role, content=m.content) for m in body.messages],
        max_tokens=body.max_tokens, temperature=body.temperature, top_p=body.top_p, stop=list(body.stop))
    outcome = await run(openai.generate_request(completion), inference, metrics, hub)
    return ok(LlmChatReply(
        request_id=request_id(), model=outcome.expert,
        choices=[LlmChoice(message=ChatReply(content=outcome.text), finish_reason=outcome.finish_reason)],
        usage=LlmUsage(prompt_tokens=outcome.prompt_tokens, completion_tokens=outcome.completion_tokens,
                       total_tokens=outcome.prompt_tokens + outcome.completion_tokens)))


def _status(record: ExpertRecord | None, registry_available: bool) -> str:
    if not registry_available:
        return "unknown"
    if record is None:
        return "unregistered"
    return "available" if record.status == "ready" else record.status


def _default_max_tokens(record: ExpertRecord | None) -> int | None:
    value = None if record is None else record.config.get("max_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@router.get("/models", summary="`auto` and the experts the router knows, with their state (seed 002)")
async def models(inference: Inference, experts: Experts) -> Envelope[LlmModels]:
    names = inference.router_statistics().experts
    try:
        page = await experts.list_experts(ExpertFilter(limit=REGISTRY_PAGE))
        records, registry_available = {e.name: e for e in page.experts}, True
    except GraphUnavailable:
        records, registry_available = {}, False
    listed = [LlmModel(id=name, name=name, description=records[name].domain if name in records else "",
                       max_tokens=MAX_GENERATED_TOKENS, default_max_tokens=_default_max_tokens(records.get(name)),
                       cost_per_token=0.0, capabilities=CAPABILITIES,
                       status=_status(records.get(name), registry_available))
              for name in names]
    auto = LlmModel(id=ROUTER_MODEL, name="Router", description="the router chooses the expert for each prompt",
                    max_tokens=MAX_GENERATED_TOKENS, default_max_tokens=None, cost_per_token=0.0,
                    capabilities=[*CAPABILITIES, "routing"],
                    status="available" if any(m.status == "available" for m in listed) else
                    "unknown" if not registry_available else "unavailable")
    return ok(LlmModels(models=[auto, *listed]))
