"""The model agents of a pipeline: TrainingAgent, EvaluationAgent, ExportAgent, RegisterAgent.

Each declares its config (so a pipeline is validated whole before it runs) and calls the model service
the running system provides (`PipelineServices.train`, ``evaluate``, ``export``, ``register``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from embodied_ai.errors import InvalidRequest
from embodied_ai.pipelines.agents import Agent, AgentConfig, AgentContext, Inputs
from embodied_ai.pipelines.services import PipelineServices

EvaluationMetric = Literal["loss", "perplexity", "exact_match"]
ExportFormat = Literal["adapter", "merged", "gguf", "onnx_adapter"]
# As the experts' registry names experts: letters, digits, '_' and '-', not all digits, at most 64.
_NAME = re.compile(r"^(?![0-9]+$)[A-Za-z0-9_-]{1,64}$")


def _unique(values: list[str], what: str) -> list[str]:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what} {', '.join(map(repr, repeated))} given more than once")
    return values


def _default_metrics() -> list[EvaluationMetric]:
    return ["loss", "perplexity"]


def _default_formats() -> list[ExportFormat]:
    return ["adapter"]


class TrainingAgentConfig(AgentConfig):
    mode: Literal["lora", "full"] = Field(default="lora",
                                          description="a LoRA adapter on the shared base, or full training")
    base_model: str | None = Field(default=None, description="the model to start from; default: the shared base")
    lora_r: int = Field(default=8, ge=1, le=256, description="LoRA rank")
    lora_alpha: int = Field(default=16, ge=1, le=1024, description="LoRA scaling numerator")
    epochs: int = Field(default=1, ge=1, le=100, description="passes over the training rows")
    batch_size: int = Field(default=4, ge=1, le=1024, description="rows per optimiser step")
    learning_rate: float = Field(default=2e-4, gt=0.0, le=1.0, description="peak learning rate")
    max_steps: int | None = Field(default=None, ge=1, description="stop after this many optimiser steps")
    validation_fraction: float = Field(default=0.1, ge=0.0, lt=1.0, description="rows held out for evaluation")
    seed: int = Field(default=0, ge=0, description="seed of the split and the initialisation")


class EvaluationAgentConfig(AgentConfig):
    metrics: list[EvaluationMetric] = Field(default_factory=_default_metrics, min_length=1,
                                            description="held-out loss, perplexity, exact-match accuracy")
    max_samples: int | None = Field(default=None, ge=1, description="evaluate at most this many held-out rows")

    @field_validator("metrics")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        return _unique(value, "metric")


class ExportAgentConfig(AgentConfig):
    formats: list[ExportFormat] = Field(default_factory=_default_formats, min_length=1,
                                        description="adapter, merged, gguf, onnx_adapter")

    @field_validator("formats")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        return _unique(value, "format")


class RegisterAgentConfig(AgentConfig):
    name: str = Field(min_length=1, max_length=128, description="the model's name in the registry")
    description: str = Field(default="", max_length=2000)
    expert: str | None = Field(default=None, description="an expert to create or update with the model, for the router")

    @field_validator("expert")
    @classmethod
    def _expert_name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError("an expert name has letters, digits, '_' and '-' (not all digits), at most 64")
        return value


class _ServiceAgent(Agent):
    """An agent whose work is a service of the running system."""

    service: ClassVar[str]         # the PipelineServices field
    does: ClassVar[str]            # what the service does, for messages

    @classmethod
    def _service(cls, services: PipelineServices) -> Callable[..., dict[str, Any]] | None:
        fn: Callable[..., dict[str, Any]] | None = getattr(services, cls.service)
        return fn

    @classmethod
    def check(cls, config: AgentConfig, services: PipelineServices) -> list[str]:
        if cls._service(services) is None:
            return [f"{cls.__name__} cannot run here: this runtime provides no {cls.does} service"]
        return []

    def run(self, ctx: AgentContext, inputs: Inputs) -> dict[str, Any]:
        fn = self._service(ctx.services)
        if fn is None:
            raise InvalidRequest(f"{type(self).__name__} cannot run: no {self.does} service", [
                f"{ctx.agent_name}: this runtime provides no {self.does} service"])
        outputs = fn(ctx, self.config, inputs)
        if not isinstance(outputs, dict):
            raise TypeError(f"the {self.does} service returned {type(outputs).__name__}, not a dict of outputs")
        return outputs


class TrainingAgent(_ServiceAgent):
    config_model: ClassVar[type[AgentConfig]] = TrainingAgentConfig
    config: TrainingAgentConfig
    service = "train"
    does = "training"


class EvaluationAgent(_ServiceAgent):
    config_model: ClassVar[type[AgentConfig]] = EvaluationAgentConfig
    config: EvaluationAgentConfig
    service = "evaluate"
    does = "evaluation"


class ExportAgent(_ServiceAgent):
    config_model: ClassVar[type[AgentConfig]] = ExportAgentConfig
    config: ExportAgentConfig
    service = "export"
    does = "export"


class RegisterAgent(_ServiceAgent):
    config_model: ClassVar[type[AgentConfig]] = RegisterAgentConfig
    config: RegisterAgentConfig
    service = "register"
    does = "model registry"
