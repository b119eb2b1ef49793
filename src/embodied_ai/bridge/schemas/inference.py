"""Inference API (the Robot API): generate, its SSE stream, and batches, over the experts' generate action."""

from __future__ import annotations

from pydantic import BaseModel, Field

from embodied_ai.bridge.schemas.common import ErrorInfo, Strict

MAX_PROMPT_CHARS = 100_000  # longer prompts are refused here, before they cross the graph
ExpertRef = int | str | None


class GenerateBody(Strict):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, examples=["Write a Python function to sort a list"])
    expert_id: ExpertRef = Field(default=None, description="expert id or name; omitted = the router chooses",
                                 examples=[5])
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, allow_inf_nan=False)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0, allow_inf_nan=False)
    stop_sequences: list[str] = Field(default_factory=list, max_length=8)
    system: str = Field(default="", max_length=MAX_PROMPT_CHARS)


class Generated(BaseModel):
    text: str
    tokens_generated: int
    inference_time_ms: float
    expert_used: str
    finish_reason: str
    route_confidence: float
    routed_to_fallback: bool
    time_to_first_token_ms: float
    tokens_per_second: float


class StreamToken(BaseModel):
    """One SSE ``message`` event of /inference/generate/stream (the Robot API reads ``data.token``)."""

    token: str
    tokens_generated: int


class BatchItem(Strict):
    id: str = Field(min_length=1, max_length=128)
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    expert_id: ExpertRef = None


class BatchBody(Strict):
    requests: list[BatchItem] = Field(min_length=1, max_length=32)
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, allow_inf_nan=False)


class BatchResult(BaseModel):
    id: str
    text: str | None = None
    expert_used: str | None = None
    inference_time_ms: float
    error: ErrorInfo | None = None


class BatchResults(BaseModel):
    results: list[BatchResult]
    total_time_ms: float
