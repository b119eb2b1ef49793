"""Seed 002's LLM service (``/v1/ai/llm/...``): generate, chat and the model list, over the same experts and
router as the Robot API's inference and OpenAI's chat completions.

``model`` is an expert's name or ``auto`` (the router chooses). The experts run on this machine: ``cost`` is 0.
Sampling options the experts' decoder does not have (frequency and presence penalties) are accepted only at 0,
so that a request is never answered as if they had been applied."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from embodied_ai.bridge.schemas.common import Strict
from embodied_ai.bridge.schemas.inference import MAX_PROMPT_CHARS
from embodied_ai.bridge.schemas.openai import ROUTER_MODEL

MAX_GENERATED_TOKENS = 4096   # as /v1/inference/generate and /v1/chat/completions
ModelName = Field(default=ROUTER_MODEL, min_length=1, max_length=128,
                  description="an expert's name, or `auto`: the router chooses")


class SamplingParameters(Strict):
    top_p: float = Field(default=1.0, gt=0.0, le=1.0, allow_inf_nan=False)
    frequency_penalty: float = Field(default=0.0, ge=0.0, le=0.0, description="only 0: the decoder has no penalty")
    presence_penalty: float = Field(default=0.0, ge=0.0, le=0.0, description="only 0: the decoder has no penalty")
    stop: list[str] = Field(default_factory=list, max_length=8)


class LlmGenerateBody(Strict):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, examples=["Explain quantum computing"])
    model: str = ModelName
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_GENERATED_TOKENS, description="default: the expert's")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, allow_inf_nan=False)
    system: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    parameters: SamplingParameters = Field(default_factory=SamplingParameters)


class GenerationMetadata(BaseModel):
    tokens_used: int = Field(description="prompt and completion tokens")
    prompt_tokens: int
    completion_tokens: int
    processing_time: float = Field(description="seconds")
    cost: float = Field(description="0: the experts run on this machine")
    finish_reason: str
    route_confidence: float
    routed_to_fallback: bool


class LlmGenerated(BaseModel):
    request_id: str
    model: str = Field(description="the expert that answered")
    generated_text: str
    metadata: GenerationMetadata
    status: Literal["completed"] = "completed"


class LlmMessage(Strict):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=MAX_PROMPT_CHARS)


class LlmChatBody(Strict):
    messages: list[LlmMessage] = Field(min_length=1, max_length=256)
    model: str = ModelName
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_GENERATED_TOKENS, description="default: the expert's")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, allow_inf_nan=False)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, allow_inf_nan=False,
                                description="default: the expert's, as /v1/chat/completions")
    stop: list[str] = Field(default_factory=list, max_length=8)


class ChatReply(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class LlmChoice(BaseModel):
    message: ChatReply
    finish_reason: str


class LlmUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class LlmChatReply(BaseModel):
    request_id: str
    model: str = Field(description="the expert that answered")
    choices: list[LlmChoice]
    usage: LlmUsage


class LlmModel(BaseModel):
    id: str = Field(description="what `model` accepts")
    name: str
    description: str
    max_tokens: int = Field(description="the most tokens one request may generate")
    default_max_tokens: int | None = Field(description="what the expert generates when max_tokens is not given")
    cost_per_token: float = Field(description="0: the experts run on this machine")
    capabilities: list[str]
    status: str = Field(description="available (ready to answer) | initializing | training | disabled | "
                                    "unregistered (the router knows it, the registry does not)")


class LlmModels(BaseModel):
    models: list[LlmModel]
