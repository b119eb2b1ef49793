"""Pipelines as a DAG of agents (seed 004): a ``pipeline_config`` validated whole before it runs, agents
that read, validate and preprocess datasets and call the model services, run as a resumable job.

    services = PipelineServices(datasets_dir=..., work_root=..., train=..., evaluate=..., export=...,
                                register=..., resolve_dataset=...)
    runner = JobRunner(store, {PIPELINE_JOB: pipeline_job_kind(services)})
    job = runner.submit(PIPELINE_JOB, {"pipeline_config": {...}})
"""

from embodied_ai.pipelines.agents import (
    Agent,
    AgentConfig,
    AgentContext,
    AttemptReplaced,
    DatasetRef,
    Inputs,
    upstream,
    upstream_dataset,
)
from embodied_ai.pipelines.config import (
    EdgeSpec,
    GlobalConfig,
    NodeSpec,
    Pipeline,
    PipelineConfig,
    PipelineNode,
    validate_pipeline,
)
from embodied_ai.pipelines.data_agents import (
    DatasetAgent,
    DatasetAgentConfig,
    PreprocessingAgent,
    PreprocessingAgentConfig,
    ValidationAgent,
    ValidationAgentConfig,
)
from embodied_ai.pipelines.model_agents import (
    EvaluationAgent,
    EvaluationAgentConfig,
    ExportAgent,
    ExportAgentConfig,
    RegisterAgent,
    RegisterAgentConfig,
    TrainingAgent,
    TrainingAgentConfig,
)
from embodied_ai.pipelines.registry import AGENT_CLASSES, with_agents
from embodied_ai.pipelines.runner import (
    PIPELINE_JOB,
    StepFailed,
    pipeline_job_kind,
    pipeline_progress,
    pipeline_request,
    run_pipeline,
)
from embodied_ai.pipelines.services import PipelineServices

__all__ = [
    "AGENT_CLASSES", "PIPELINE_JOB", "Agent", "AgentConfig", "AgentContext", "AttemptReplaced", "DatasetAgent",
    "DatasetAgentConfig", "DatasetRef", "EdgeSpec", "EvaluationAgent", "EvaluationAgentConfig", "ExportAgent",
    "ExportAgentConfig", "GlobalConfig", "Inputs", "NodeSpec", "Pipeline", "PipelineConfig", "PipelineNode",
    "PipelineServices", "PreprocessingAgent", "PreprocessingAgentConfig", "RegisterAgent", "RegisterAgentConfig",
    "StepFailed", "TrainingAgent", "TrainingAgentConfig", "ValidationAgent", "ValidationAgentConfig",
    "pipeline_job_kind", "pipeline_progress", "pipeline_request", "run_pipeline", "upstream", "upstream_dataset",
    "validate_pipeline", "with_agents",
]
