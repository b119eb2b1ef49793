"""validate_pipeline: seed 004's pipeline_config, every problem listed at once, the order nodes run in."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from embodied_ai.errors import ErrorCode, InvalidRequest
from embodied_ai.pipelines import (
    AGENT_CLASSES,
    DatasetAgentConfig,
    PipelineConfig,
    PipelineServices,
    PreprocessingAgent,
    TrainingAgentConfig,
    validate_pipeline,
)
from tests.unit.pipelines.conftest import write_dataset


def seed_pipeline() -> dict[str, Any]:
    """Seed 004's example request, with its dataset in the datasets directory instead of S3."""
    return {
        "run_id": "abc123",
        "nodes": [
            {"agent_name": "dataset", "agent_class": "DatasetAgent",
             "config": {"file_path": "training_data.csv", "format": "csv"}},
            {"agent_name": "validation", "agent_class": "ValidationAgent", "config": {}},
            {"agent_name": "preprocessing", "agent_class": "PreprocessingAgent",
             "config": {"base_model": "meta-llama/Llama-2-7b-hf", "clean": True, "dedup": True, "template": "alpaca",
                        "template_mapping": {"instruction": "question", "output": "answer"}}},
        ],
        "edges": [{"from_agent": "dataset", "to_agent": "validation"},
                  {"from_agent": "validation", "to_agent": "preprocessing"}],
        "global_config": {"max_retries": 3},
    }


def problems_of(config: Any, services: PipelineServices | None = None) -> list[str]:
    with pytest.raises(InvalidRequest) as caught:
        validate_pipeline(config, services=services)
    assert caught.value.code is ErrorCode.BAD_REQUEST
    return caught.value.problems


def test_the_seed_pipeline_is_valid_and_ordered() -> None:
    pipeline = validate_pipeline(seed_pipeline())
    assert pipeline.order == ("dataset", "validation", "preprocessing")
    assert (pipeline.run_id, pipeline.max_retries) == ("abc123", 3)
    dataset, validation, preprocessing = pipeline.nodes
    assert (validation.upstream, preprocessing.upstream, preprocessing.ancestors) == (
        ("dataset",), ("validation",), ("dataset", "validation"))
    assert isinstance(preprocessing.agent, PreprocessingAgent)
    assert preprocessing.agent.config.template_mapping == {"instruction": "question", "output": "answer"}
    assert isinstance(dataset.agent.config, DatasetAgentConfig) and dataset.agent.config.format == "csv"
    assert validate_pipeline(PipelineConfig.model_validate(seed_pipeline())).order == pipeline.order


def test_defaults_and_the_order_of_a_diamond() -> None:
    config = {
        "nodes": [
            {"agent_name": "train", "agent_class": "TrainingAgent"},
            {"agent_name": "b", "agent_class": "PreprocessingAgent"},
            {"agent_name": "a", "agent_class": "ValidationAgent"},
            {"agent_name": "data", "agent_class": "DatasetAgent", "config": {"dataset_id": "ds_1"}},
        ],
        "edges": [{"from_agent": "data", "to_agent": "a"}, {"from_agent": "data", "to_agent": "b"},
                  {"from_agent": "a", "to_agent": "train"}, {"from_agent": "b", "to_agent": "train"},
                  {"from_agent": "b", "to_agent": "train"}],
    }
    pipeline = validate_pipeline(config)
    # Dependencies first; among nodes ready together, the order they were given.
    assert pipeline.order == ("data", "b", "a", "train")
    assert pipeline.nodes[-1].upstream == ("b", "a") and pipeline.nodes[-1].ancestors == ("data", "b", "a")
    assert (pipeline.run_id, pipeline.max_retries) == (None, 3)
    assert pipeline.nodes[-1].agent.config == TrainingAgentConfig()


def test_every_problem_is_listed_at_once() -> None:
    config = seed_pipeline()
    config["nodes"] += [
        {"agent_name": "dataset", "agent_class": "FooAgent"},                           # both: name and class
        {"agent_name": "train", "agent_class": "TrainingAgent", "config": {"lora_r": 0, "bogus": 1}},
        {"agent_name": "export", "agent_class": "ExportAgent", "config": {"formats": ["zip"]}},
        {"agent_name": "register", "agent_class": "RegisterAgent", "config": {}},
        {"agent_name": "../x", "agent_class": "DatasetAgent"},
        "not a node",
    ]
    config["nodes"][2]["config"]["template"] = "llama"
    config["edges"] += [{"from_agent": "export", "to_agent": "register"},
                        {"from_agent": "register", "to_agent": "export"},
                        {"from_agent": "ghost", "to_agent": "train"}, {"from": "dataset"}]
    config["global_config"] = {"max_retries": 11}
    config["schedule"] = "now"
    assert problems_of(config) == [
        "schedule: unknown field (accepted: run_id, nodes, edges, global_config)",
        "nodes[2] (preprocessing).config.template: Input should be 'alpaca' or 'chatml'",
        "nodes[3] (dataset).agent_class: unknown agent class 'FooAgent' (known: DatasetAgent, ValidationAgent, "
        "PreprocessingAgent, TrainingAgent, EvaluationAgent, ExportAgent, RegisterAgent)",
        "nodes[3] (dataset).agent_name: 'dataset' is already the name of nodes[0]",
        "nodes[4] (train).config.lora_r: Input should be greater than or equal to 1",
        "nodes[4] (train).config.bogus: unknown field (accepted: mode, base_model, lora_r, lora_alpha, epochs, "
        "batch_size, learning_rate, max_steps, validation_fraction, seed)",
        "nodes[5] (export).config.formats[0]: Input should be 'adapter', 'merged', 'gguf' or 'onnx_adapter'",
        "nodes[6] (register).config.name: field required",
        "nodes[7] (../x).agent_name: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'",
        "nodes[8]: Input should be a valid dictionary or instance of NodeSpec",
        "edges[4].from_agent: 'ghost' is not the agent_name of a node",
        "edges[5].from_agent: field required",
        "edges[5].to_agent: field required",
        "edges[5].from: unknown field (accepted: from_agent, to_agent)",
        "global_config.max_retries: Input should be less than or equal to 10",
        "edges: cycle export -> register -> export",
        "nodes[4] (train): a TrainingAgent reads what an upstream node made: add an edge into it (from a "
        "DatasetAgent, for instance)",
    ]


def test_cycles_are_named_by_their_nodes() -> None:
    config = {
        "nodes": [{"agent_name": name, "agent_class": "ValidationAgent"} for name in ("a", "b", "c", "d", "e")]
        + [{"agent_name": "data", "agent_class": "DatasetAgent", "config": {"file_path": "x.csv"}}],
        "edges": [{"from_agent": s, "to_agent": t} for s, t in
                  (("data", "a"), ("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("e", "e"))],
    }
    assert problems_of(config) == ["edges: cycle a -> b -> c -> a", "edges: cycle e -> e"]


@pytest.mark.parametrize(("config", "expected"), [
    ([], ["pipeline_config: expected an object, got list"]),
    ({}, ["nodes: field required"]),
    ({"nodes": []}, ["nodes: List should have at least 1 item after validation, not 0"]),
    ({"nodes": "x", "edges": {}, "run_id": ""}, [
        "run_id: String should have at least 1 character", "nodes: Input should be a valid list",
        "edges: Input should be a valid list"]),
])
def test_a_malformed_pipeline_config(config: Any, expected: list[str]) -> None:
    assert problems_of(config) == expected


def test_the_running_system_is_checked_at_submit(services: PipelineServices, tmp_path: Path) -> None:
    config = seed_pipeline()
    assert problems_of(config, services) == [
        "nodes[0] (dataset): dataset file 'training_data.csv' does not exist in the datasets directory"]
    write_dataset(services.datasets_dir, "csv", name="training_data")
    assert validate_pipeline(config, services=services).order == ("dataset", "validation", "preprocessing")

    escaping = copy.deepcopy(config)
    escaping["nodes"][0]["config"]["file_path"] = "../../etc/passwd"
    escaping["nodes"].append({"agent_name": "train", "agent_class": "TrainingAgent"})
    escaping["edges"].append({"from_agent": "preprocessing", "to_agent": "train"})
    assert problems_of(escaping, services) == [
        "nodes[0] (dataset): config.file_path: '../../etc/passwd' leads outside the datasets directory; only files "
        "inside it are read",
        "nodes[3] (train): TrainingAgent cannot run here: this runtime provides no training service"]
    assert validate_pipeline(escaping).order[-1] == "train"       # without the services: the shape only


def test_the_registry_names_every_seed_agent() -> None:
    assert list(AGENT_CLASSES) == ["DatasetAgent", "ValidationAgent", "PreprocessingAgent", "TrainingAgent",
                                   "EvaluationAgent", "ExportAgent", "RegisterAgent"]
