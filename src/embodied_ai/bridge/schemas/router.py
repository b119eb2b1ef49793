"""Router API (the Robot API): statistics from the experts node's router_statistics topic."""

from __future__ import annotations

from pydantic import BaseModel, Field

from embodied_ai.bridge.schemas.common import Strict


class ExpertRouting(BaseModel):
    expert_name: str
    selections: int
    avg_confidence: float | None = Field(description="null while the expert was never selected")
    accuracy: float | None = Field(description="against feedback; null while the expert has none")


class RouterIssue(BaseModel):
    message: str = Field(description="as the router reported it, e.g. \"expert 'math' never selected\"")


class RouterStats(BaseModel):
    total_requests: int
    fallback_rate: float
    stats: list[ExpertRouting]
    issues: list[RouterIssue]


class RouterRetrain(Strict):
    training_data_path: str = Field(
        min_length=1, max_length=255,
        description="a JSONL file of labelled prompts, relative to the state directory's datasets/ folder")
    num_epochs: int = Field(default=10, ge=1, le=1000)


class Routed(BaseModel):
    expert: str
    confidence: float
    fallback: bool
    candidates: list[str]
    scores: list[float]


class RouteBody(Strict):
    prompt: str = Field(min_length=1, max_length=100_000)
