"""The inference port: the experts' generate action (whole or streamed), the router's
decisions and statistics, and retraining the router."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class GenerateRequest:
    prompt: str
    expert: str = ""  # "" lets the router choose
    system: str = ""
    max_tokens: int = 0  # 0 = the expert's default
    temperature: float = 0.0
    top_p: float = 0.0
    stop: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GenerateOutcome:
    text: str
    expert: str
    route_confidence: float
    routed_to_fallback: bool
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    time_to_first_token_ms: float
    tokens_per_second: float
    inference_time_ms: float


@dataclass(frozen=True)
class GenerateChunk:
    """One feedback message of the generate action: new text since the previous one."""

    text: str
    completion_tokens: int


# A stream yields chunks, then exactly one GenerateOutcome.
GenerateEvent = GenerateChunk | GenerateOutcome


@dataclass(frozen=True)
class RouteOutcome:
    expert: str
    confidence: float
    fallback: bool
    candidates: list[str]
    scores: list[float]


@dataclass(frozen=True)
class RouterStatistics:
    total_requests: int
    fallback_rate: float
    experts: list[str]
    selections: list[int]
    average_confidence: list[float]  # NaN while an expert was never selected
    feedback_accuracy: list[float]  # NaN while an expert has no feedback
    issues: list[str]
    age_s: float


@dataclass(frozen=True)
class RouterRetrained:
    message: str
    gate_version: int
    experts: list[str]
    validation_accuracy: float | None  # None without held-out examples
    row_errors: list[str]  # "row N: why" for the rows left out


class InferencePort(Protocol):
    async def generate(self, request: GenerateRequest) -> GenerateOutcome: ...

    def generate_stream(self, request: GenerateRequest) -> AsyncGenerator[GenerateEvent, None]:
        """An async generator: closing it early cancels the generation."""
        ...

    async def route(self, prompt: str) -> RouteOutcome: ...

    def router_statistics(self) -> RouterStatistics: ...

    async def retrain_router(self, training_data: Path, num_epochs: int) -> RouterRetrained:
        """Answers when the new gate is in service."""
        ...
