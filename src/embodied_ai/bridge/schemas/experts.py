"""Expert Management API (the Robot API). The expert registry belongs to the experts node; these
models are the HTTP contract the bridge answers with once the registry is reachable."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from embodied_ai.bridge.schemas.common import Strict

ExpertStatus = Literal["initializing", "training", "ready", "disabled"]
Quantization = Literal["Q4", "Q8", "FP16"]
Name = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class ExpertQuery(Strict):
    category: str | None = Field(default=None, max_length=64)
    status: Literal["ready", "training", "disabled", "initializing"] | None = None
    sort_by: Literal["name", "accuracy", "speed"] = "name"
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class ExpertSummary(BaseModel):
    id: int
    name: str
    domain: str
    category: str
    status: ExpertStatus
    total_params: int | None = None
    quantization: str | None = None
    accuracy: float | None = None
    inference_speed: float | None = None
    total_calls: int = 0
    created_at: datetime | None = None


class ExpertPage(BaseModel):
    experts: list[ExpertSummary]
    total: int
    limit: int
    offset: int


class ExpertDetail(BaseModel):
    id: int
    name: str
    domain: str
    category: str
    status: ExpertStatus
    config: dict[str, object]
    metrics: dict[str, float | None]
    performance: dict[str, float | None]
    usage_stats: dict[str, object]
    quantization: str | None = None
    total_params: int | None = None
    kind: str | None = Field(default=None, description="adapter (LoRA on the shared base) | model (its own) | base; "
                                               "null until a first version is trained")
    current_version: int = 0
    created_at: datetime | None = None


class ExpertCreate(Strict):
    name: str = Name
    domain: str = Field(min_length=1, max_length=256)
    category: str = Field(default="general", min_length=1, max_length=64)
    size: Literal["small", "medium", "large"] | None = Field(default=
        None, description="a size preset (the Robot API's SDK example) instead of d_model/n_layers/n_heads")
    d_model: int | None = Field(default=None, ge=64, le=8192)
    n_layers: int | None = Field(default=None, ge=1, le=64)
    n_heads: int | None = Field(default=None, ge=1, le=128)
    quantization: Quantization = "Q8"
    base_model: str | None = Field(default=None, max_length=256)


class ExpertCreated(BaseModel):
    expert_id: int
    status: str
    estimated_size_gb: float | None = None
    message: str
    job_id: int | None = Field(default=None, description="resize: the training job that makes the new version")

    @property
    def id(self) -> int:
        """The Robot API's SDK example reads ``expert.id``."""
        return self.expert_id


class ExpertUpdate(Strict):
    domain: str | None = Field(default=None, min_length=1, max_length=256)
    category: str | None = Field(default=None, min_length=1, max_length=64)
    status: Literal["ready", "disabled"] | None = None


class ExpertResize(Strict):
    """A new version of the expert as its own model of this shape, trained from scratch on the
    expert's latest dataset (a training job; the created answer names it)."""

    d_model: int = Field(ge=64, le=8192)
    n_layers: int = Field(ge=1, le=64)
    n_heads: int = Field(ge=1, le=128)


class ExpertDeleted(BaseModel):
    expert_id: int
    hard_delete: bool
    status: str
