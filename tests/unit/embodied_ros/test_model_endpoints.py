"""The model registry's services on a node in this process (no graph): the expert versions found at the
start are mirrored, reads answer JSON, a download names its file, refusals answer their code, reason and
problems, and a load without the experts node says that it is missing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from embodied_interfaces.srv import GetModel, GetModelArtefact, ListModels, LoadModel
from rclpy.context import Context
from rclpy.node import Node

from embodied_ai.experts.registry import ExpertRegistry
from embodied_ai.model_registry import ModelRegistry, PerformanceLog
from embodied_ai.model_registry.service import ModelsService
from embodied_ros.model_endpoints import ExpertsServing, ModelEndpoints
from tests.unit.model_registry.serving import Registries

SERVICES = {"list_models": ListModels, "get_model": GetModel, "get_model_artefact": GetModelArtefact,
            "load_model": LoadModel}


@pytest.fixture
def events() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def node(context: Context, tmp_path: Path, events: list[tuple[str, str]]) -> Iterator[Node]:
    before = Registries.open(tmp_path)        # what the experts node trained before the jobs node started
    before.model_expert("math")
    before.close()
    node = Node("jobs", context=context, start_parameter_services=False)
    models, performance = ModelRegistry(tmp_path / "operations.sqlite", tmp_path), PerformanceLog(
        tmp_path / "operations.sqlite")
    experts = ExpertRegistry(tmp_path)
    models.on_event(lambda model, event: events.append((model.ref, event)))
    service = ModelsService(models, performance, experts, ExpertsServing(node))
    service.sync()   # as the job system does at its start
    ModelEndpoints(node, service)
    yield node
    node.destroy_node()
    for opened in (performance, models, experts):
        opened.close()


def call(node: Node, name: str, **fields: Any) -> Any:
    service = next(s for s in node.services if s.srv_name == name)
    kind = SERVICES[name]
    return service.callback(kind.Request(**fields), kind.Response())


def test_reads_and_a_download(node: Node, events: list[tuple[str, str]]) -> None:
    assert {s.srv_name for s in node.services} >= set(SERVICES)
    assert events == [("math:1", "model.registered")]           # mirrored at the start
    listed = call(node, "list_models", kind="expert_model")
    [math] = json.loads(listed.models_json)
    assert listed.success and listed.total == 1 and math["ref"] == "math:1" and math["servable"] is True
    info = call(node, "get_model", model="math")
    assert json.loads(info.result_json)["model_id"] == math["model_id"]
    card = json.loads(call(node, "get_model", model="math:1", what="card").result_json)
    assert card["model_name"] == "math" and "# math" in card["card"]
    series = json.loads(call(node, "get_model", model="math", what="metrics", interval="1h").result_json)
    assert series["interval"] == "1h" and len(series["buckets"]) == 60
    figures = json.loads(call(node, "get_model", model="math", what="performance").result_json)
    assert figures["performance_metrics"]["requests_total"] == 0
    download = call(node, "get_model_artefact", model=math["model_id"], format="onnx_model")
    assert download.success and download.filename == "math-v1-onnx_model.tar"
    assert Path(download.path).is_file() and download.size_bytes == Path(download.path).stat().st_size


def test_refusals_answer_their_code_and_problems(node: Node) -> None:
    bad = call(node, "list_models", kind="robot", status="lost")
    assert (bad.success, bad.error_code, len(bad.problems)) == (False, 400, 2)
    what = call(node, "get_model", model="math", what="everything")
    assert (what.success, what.error_code) == (False, 400) and "what" in what.problems[0]
    metrics = call(node, "get_model", model="math", what="metrics", start_time="yesterday", interval="2m")
    assert metrics.error_code == 400 and len(metrics.problems) == 2
    assert call(node, "get_model", model="math:9").error_code == 404
    missing = call(node, "get_model_artefact", model="math", format="gguf")
    assert missing.error_code == 404 and "formats it has: onnx_model" in missing.message
    assert call(node, "load_model", model="math", loaded=False).error_code == 409     # not loaded


def test_a_load_without_the_experts_node_says_so(node: Node) -> None:
    refused = call(node, "load_model", model="math", loaded=True)
    assert (refused.success, refused.error_code) == (False, 1001)
    assert "the experts node is not running" in refused.message and "set_expert_loaded" in refused.message
    assert json.loads(call(node, "get_model", model="math").result_json)["status"] == "trained"
