"""The agent classes a pipeline's ``agent_class`` may name (seed 004), by that name."""

from __future__ import annotations

from collections.abc import Mapping

from embodied_ai.pipelines.agents import Agent
from embodied_ai.pipelines.data_agents import DatasetAgent, PreprocessingAgent, ValidationAgent
from embodied_ai.pipelines.model_agents import EvaluationAgent, ExportAgent, RegisterAgent, TrainingAgent

AGENT_CLASSES: Mapping[str, type[Agent]] = {
    cls.__name__: cls for cls in (DatasetAgent, ValidationAgent, PreprocessingAgent, TrainingAgent, EvaluationAgent,
                                  ExportAgent, RegisterAgent)
}


def with_agents(*classes: type[Agent], base: Mapping[str, type[Agent]] = AGENT_CLASSES) -> dict[str, type[Agent]]:
    """``base`` with more agent classes (another issue's kinds of step), each under its class name."""
    return {**base, **{cls.__name__: cls for cls in classes}}
