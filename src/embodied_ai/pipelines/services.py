"""What the running system lends a pipeline: where datasets and work files live, how a dataset id is found,
and the model operations (train, evaluate, export, register) that the model agents call.

The caller (the ``jobs`` node) builds one ``PipelineServices`` for its pipelines. A model service is a
function ``fn(ctx, config, inputs) -> outputs``: ``ctx`` is the agent's `AgentContext` (log and METRIC
lines, progress, cancel flag, checkpoint, work directory), ``config`` the agent's validated config model,
``inputs`` the outputs of the nodes upstream (`upstream_dataset(inputs, ...)` finds the table to train
on; ``upstream(inputs, "model")`` what a TrainingAgent returned). Its outputs must be JSON; a ``metrics``
object in them is logged as a METRIC line. A service that is not provided makes pipelines that need it
fail at submit time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embodied_ai.errors import InvalidRequest
from embodied_ai.experts.datasets import DEFAULT_MAX_DATASET_BYTES

if TYPE_CHECKING:
    from embodied_ai.pipelines.agents import AgentContext, Inputs
    from embodied_ai.pipelines.model_agents import (
        EvaluationAgentConfig,
        ExportAgentConfig,
        RegisterAgentConfig,
        TrainingAgentConfig,
    )


@dataclass(frozen=True)
class PipelineServices:
    datasets_dir: Path                                  # a DatasetAgent's file_path must be inside it
    work_root: Path                                     # each job writes under work_root/job-<id>
    # A registered dataset's file from its id (seed 004's dataset_id); raises NotFound for an unknown id.
    resolve_dataset: Callable[[str], Path] | None = None
    max_dataset_bytes: int = DEFAULT_MAX_DATASET_BYTES
    train: Callable[[AgentContext, TrainingAgentConfig, Inputs], dict[str, Any]] | None = None
    evaluate: Callable[[AgentContext, EvaluationAgentConfig, Inputs], dict[str, Any]] | None = None
    export: Callable[[AgentContext, ExportAgentConfig, Inputs], dict[str, Any]] | None = None
    register: Callable[[AgentContext, RegisterAgentConfig, Inputs], dict[str, Any]] | None = None

    def work_dir(self, job_id: int) -> Path:
        return self.work_root / f"job-{job_id}"

    def dataset_path(self, dataset_id: str) -> Path:
        """The file of a registered dataset; NotFound (from the resolver) for an unknown id."""
        if self.resolve_dataset is None:
            raise InvalidRequest("datasets are not registered here", [
                "dataset_id: this runtime has no dataset registry; give file_path instead"])
        return self.resolve_dataset(dataset_id)
