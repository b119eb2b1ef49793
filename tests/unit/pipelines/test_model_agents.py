"""The model agents: their configs are validated like the data agents', and each calls its service."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from embodied_ai.errors import InvalidRequest
from embodied_ai.pipelines import (
    AgentContext,
    EvaluationAgent,
    EvaluationAgentConfig,
    ExportAgent,
    ExportAgentConfig,
    PipelineServices,
    RegisterAgent,
    RegisterAgentConfig,
    TrainingAgent,
    TrainingAgentConfig,
    upstream,
)

MakeContext = Callable[..., AgentContext]
AGENTS = [(TrainingAgent, TrainingAgentConfig(), "train"), (EvaluationAgent, EvaluationAgentConfig(), "evaluate"),
          (ExportAgent, ExportAgentConfig(formats=["adapter", "gguf"]), "export"),
          (RegisterAgent, RegisterAgentConfig(name="qa-model", expert="qa"), "register")]


@pytest.mark.parametrize(("cls", "config", "service"), AGENTS)
def test_each_model_agent_calls_its_service(cls: Any, config: BaseModel, service: str, services: PipelineServices,
                                            agent_ctx: MakeContext) -> None:
    calls: list[tuple[str, BaseModel, Any]] = []

    def fn(ctx: AgentContext, given: BaseModel, inputs: Any) -> dict[str, Any]:
        calls.append((ctx.agent_name, given, upstream(inputs, "model")))
        return {"model": "m2", "metrics": {"loss": 0.5}}
    provided = dataclasses.replace(services, **{service: fn})
    inputs = {"train": {"model": "m1"}}
    assert cls(config).run(agent_ctx("node", cls.__name__, on=provided), inputs) == {
        "model": "m2", "metrics": {"loss": 0.5}}
    assert calls == [("node", config, "m1")]
    assert cls.check(config, provided) == []


@pytest.mark.parametrize(("cls", "config", "service"), AGENTS)
def test_a_missing_service_is_a_clear_error(cls: Any, config: BaseModel, service: str, services: PipelineServices,
                                            agent_ctx: MakeContext) -> None:
    with pytest.raises(InvalidRequest, match=f"{cls.__name__} cannot run: no .* service") as caught:
        cls(config).run(agent_ctx("node"), {})
    assert caught.value.problems[0].startswith("node: this runtime provides no ")
    assert cls.check(config, services)[0].startswith(f"{cls.__name__} cannot run here")


def test_a_service_must_return_outputs(services: PipelineServices, agent_ctx: MakeContext) -> None:
    provided = dataclasses.replace(services, train=lambda ctx, config, inputs: None)
    with pytest.raises(TypeError, match="the training service returned NoneType"):
        TrainingAgent(TrainingAgentConfig()).run(agent_ctx(on=provided), {})


@pytest.mark.parametrize(("model", "config", "message"), [
    (TrainingAgentConfig, {"mode": "qlora"}, "Input should be 'lora' or 'full'"),
    (TrainingAgentConfig, {"learning_rate": 0}, "greater than 0"),
    (TrainingAgentConfig, {"epochs": 0}, "greater than or equal to 1"),
    (TrainingAgentConfig, {"batch_size": 2000}, "less than or equal to 1024"),
    (TrainingAgentConfig, {"lora_r": 0}, "greater than or equal to 1"),
    (TrainingAgentConfig, {"max_steps": 0}, "greater than or equal to 1"),
    (EvaluationAgentConfig, {"metrics": []}, "at least 1 item"),
    (EvaluationAgentConfig, {"metrics": ["loss", "loss"]}, "metric 'loss' given more than once"),
    (EvaluationAgentConfig, {"metrics": ["f1"]}, "'loss', 'perplexity' or 'exact_match'"),
    (ExportAgentConfig, {"formats": ["gguf", "gguf"]}, "format 'gguf' given more than once"),
    (ExportAgentConfig, {"formats": ["zip"]}, "'adapter', 'merged', 'gguf' or 'onnx_adapter'"),
    (RegisterAgentConfig, {}, "Field required"),
    (RegisterAgentConfig, {"name": "m", "expert": "12"}, "not all digits"),
    (RegisterAgentConfig, {"name": "m", "expert": "a b"}, "letters, digits"),
    (RegisterAgentConfig, {"name": "m", "extra": 1}, "Extra inputs are not permitted"),
])
def test_model_agent_configs_refuse_bad_values(model: type[BaseModel], config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        model.model_validate(config)


def test_model_agent_config_defaults() -> None:
    assert TrainingAgentConfig().model_dump() == {
        "mode": "lora", "base_model": None, "lora_r": 8, "lora_alpha": 16, "epochs": 1, "batch_size": 4,
        "learning_rate": 2e-4, "max_steps": None, "validation_fraction": 0.1, "seed": 0}
    assert EvaluationAgentConfig().metrics == ["loss", "perplexity"]
    assert ExportAgentConfig().formats == ["adapter"]
