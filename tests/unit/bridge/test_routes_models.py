"""The Models API over HTTP, over a real model registry in this process (ModelsService on SQLite and
files, its serving engine's protocol over the real expert registry, webhooks to a loopback receiver):
OpenAI's and the seeds' shapes of GET /v1/models, details, cards, serving figures, downloads, loading."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import openai
import pytest
from fastapi.testclient import TestClient

from embodied_ai.bridge.app import create_app
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.errors import ErrorCode, GraphUnavailable
from embodied_ai.model_registry import ModelVersion
from embodied_ai.model_registry.store import tree_sha256
from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph
from tests.unit.bridge.local_jobs import LocalJobs
from tests.unit.model_registry.serving import Registries
from tests.unit.webhooks.conftest import Receiver


@pytest.fixture
def state(fake: FakeGraph) -> Registries:
    """The registries behind the app: a ready expert 'math' (an ONNX model folder, mirrored as math:1) and a
    pipeline output 'chef' with gguf and onnx_adapter exports (chef:1, not served yet)."""
    registries = cast(LocalJobs, fake.job_system).model_registries
    registries.model_expert("math")
    registries.service.sync()
    chef = registries.models.register("chef", "pipeline_output", base_model="SmolLM2-135M-Instruct",
                                      training_config={"method": "lora", "lora_r": 8},
                                      metrics={"perplexity": 3.5}, description="Cooks.")
    for format, name in (("gguf", "model.gguf"), ("onnx_adapter", "adapter.onnx_adapter")):
        export = registries.state / "exports" / format / name
        export.parent.mkdir(parents=True)
        export.write_bytes(f"chef {format} ".encode() * 64)
        registries.models.add_artefact(chef.id, format, export)
    return registries


def _model(state: Registries, key: str) -> ModelVersion:
    return state.models.get(key)


def test_the_list_answers_openai_clients_and_the_seeds_clients(client: TestClient, state: Registries) -> None:
    answer = client.get("/v1/models")
    body = answer.json()
    assert answer.status_code == 200 and body["object"] == "list" and body["success"] is True
    assert body["error"] is None and body["timestamp"]
    assert (body["total"], body["limit"], body["offset"], body["has_more"]) == (2, 20, 0, False)
    assert answer.headers["X-Total-Count"] == "2" and "Link" not in answer.headers
    # The served names first ("math" is shown by its servable registry version), then the registry, newest first.
    assert [(m["id"], m["servable"]) for m in body["data"]] == [
        ("auto", True), ("general", True), ("chef", False), ("math", True)]
    assert all(m["object"] == "model" and m["owned_by"] == "embodied" and m["created"] > 0 for m in body["data"])
    assert set(body["data"][0]) == {"id", "object", "created", "owned_by", "servable"}
    chef = body["data"][2]
    assert chef["model_id"] == _model(state, "chef").id and chef["model_name"] == "chef"
    assert (chef["version"], chef["status"], chef["kind"], chef["type"]) == (1, "trained", "pipeline_output",
                                                                             "pipeline_output")
    assert chef["exports"] == ["gguf", "onnx_adapter"] and chef["metrics"] == {"perplexity": 3.5}
    assert chef["base_model"] == "SmolLM2-135M-Instruct" and chef["created_at"].endswith("Z")

    sdk = openai.OpenAI(api_key="unused", base_url=f"{client.base_url}/v1", http_client=client, max_retries=0)
    assert [m.id for m in sdk.models.list()] == ["auto", "general", "chef", "math"]
    retrieved = sdk.models.retrieve("math")
    assert (retrieved.id, retrieved.object, retrieved.owned_by) == ("math", "model", "embodied")


def test_filters_and_paging_apply_to_the_registry(client: TestClient, state: Registries) -> None:
    models = client.get("/v1/models", params={"kind": "expert_model"}).json()
    assert [m["id"] for m in models["data"]] == ["math"] and models["total"] == 1   # no served names when filtered
    first = client.get("/v1/models", params={"limit": 1})
    # math's servable version is on the next page: its name is listed among the served names here
    assert [m["id"] for m in first.json()["data"]] == ["auto", "general", "math", "chef"]
    assert first.headers["X-Total-Count"] == "2" and first.json()["has_more"] is True
    assert 'rel="next"' in first.headers["Link"] and "offset=1" in first.headers["Link"]
    second = client.get("/v1/models", params={"page": 2, "per_page": 1}).json()    # seed 001's paging
    assert [m["id"] for m in second["data"]] == ["math"] and (second["offset"], second["has_more"]) == (1, False)
    assert client.get("/v1/models", params={"status": "deployed"}).json()["data"] == []

    refused = error(client.get("/v1/models", params={"kind": "robot", "status": "lost"}), 400, 400)
    assert len(refused["details"]["problems"]) == 2
    error(client.get("/v1/models", params={"limit": 5, "page": 2}), 400, 400)


class AbsentRegistry:
    """The models port while the jobs node is not in the graph."""

    def __getattr__(self, name: str) -> Any:
        async def absent(*args: object) -> None:
            raise GraphUnavailable("list_models", ErrorCode.TRAINING_FAILED, "the jobs node is not running")
        return absent


def test_chat_clients_keep_their_names_while_the_registry_is_away(fake: FakeGraph, settings: BridgeSettings) -> None:
    app = create_app(replace(fake.ports(), models=AbsentRegistry()), settings)
    with TestClient(app) as client:
        body = client.get("/v1/models").json()
        assert [m["id"] for m in body["data"]] == ["auto", "general", "math"]
        assert body["registry_available"] is False and body["total"] == 0
        error(client.get("/v1/models", params={"kind": "policy"}), 503, 2000)   # a registry query needs it
        fake.fail("router_statistics", GraphUnavailable("router_statistics", ErrorCode.EXPERT_NOT_READY, "no router"))
        error(client.get("/v1/models"), 503, 1001)                              # nothing to list


def test_details_card_and_serving_figures(client: TestClient, state: Registries) -> None:
    chef = _model(state, "chef")
    detail = client.get(f"/v1/models/{chef.id}").json()
    assert detail["success"] is True and (detail["id"], detail["object"]) == ("chef", "model")
    info = detail["data"]
    assert info["model_id"] == chef.id and info["model_name"] == "chef" and info["servable"] is False
    assert info["training_config"] == {"method": "lora", "lora_r": 8} and info["metrics"] == {"perplexity": 3.5}
    assert info["exports"] == {f: f"/v1/models/{chef.id}/download?format={f}" for f in ("gguf", "onnx_adapter")}
    assert info["artefacts"]["gguf"]["sha256"] == state.models.artefact(chef.id, "gguf").sha256
    assert data(client.get("/v1/models/chef:1"))["model_id"] == chef.id == data(client.get("/v1/models/chef"))[
        "model_id"]
    assert "does not exist" in error(client.get("/v1/models/chef:7"), 404, 404)["details"]

    card = data(client.get("/v1/models/chef/card"))
    assert card["model_id"] == chef.id and "# chef" in card["card"] and "| perplexity | 3.5 |" in card["card"]
    markdown = client.get("/v1/models/chef/card", headers={"Accept": "text/markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown") and markdown.text == card["card"]

    for latency in (100.0, 300.0):
        state.performance.record(chef.id, latency, success=True, memory_mb=300.0)
    figures = data(client.get(f"/v1/models/{chef.id}/performance"))
    assert figures["model_id"] == chef.id and figures["performance_metrics"]["requests_total"] == 2
    assert figures["performance_metrics"]["avg_response_time"] == pytest.approx(0.2)
    assert figures["performance_metrics"]["success_rate"] == 100.0 and figures["resource_usage"]["memory_mb"] == 300.0
    series = data(client.get(f"/v1/models/{chef.id}/metrics", params={"interval": "1h"}))
    assert series["interval"] == "1h" and len(series["buckets"]) == 60
    assert sum(b["requests"] for b in series["buckets"]) == 2
    assert series["metrics"]["latency"]["values"][-1] == pytest.approx(0.2)     # seed 001's series, in seconds
    assert series["metrics"]["throughput"]["timestamps"] == [b["timestamp"] for b in series["buckets"]]
    refused = error(client.get(f"/v1/models/{chef.id}/metrics", params={"start_time": "yesterday",
                                                                        "end_time": "2024-01-01T00:00:00"}), 400, 400)
    assert len(refused["details"]["problems"]) == 2
    error(client.get(f"/v1/models/{chef.id}/metrics", params={"interval": "2m"}), 400, 400)


def test_downloads_send_the_recorded_bytes(client: TestClient, state: Registries, tmp_path: Path) -> None:
    chef = _model(state, "chef")
    gguf = client.get(f"/v1/models/{chef.id}/download", params={"format": "gguf"})
    assert gguf.status_code == 200 and gguf.headers["content-type"] == "application/octet-stream"
    assert hashlib.sha256(gguf.content).hexdigest() == state.models.artefact(chef.id, "gguf").sha256
    assert gguf.headers["X-Artefact-SHA256"] == state.models.artefact(chef.id, "gguf").sha256
    assert 'filename="chef-v1-gguf.gguf"' in gguf.headers["content-disposition"]

    missing = error(client.get(f"/v1/models/{chef.id}/download", params={"format": "merged"}), 404, 404)
    assert "formats it has: gguf, onnx_adapter" in missing["details"]
    which = error(client.get(f"/v1/models/{chef.id}/download"), 400, 400)
    assert "gguf, onnx_adapter" in which["details"]["problems"][0]
    error(client.get(f"/v1/models/{chef.id}/download", params={"format": "../x"}), 400, 400)

    math = _model(state, "math")
    folder = client.get("/v1/models/math/download")         # its one export: no format needed
    assert folder.headers["content-type"] == "application/x-tar" and "X-Artefact-SHA256" not in folder.headers
    assert 'filename="math-v1-onnx_model.tar"' in folder.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(folder.content)) as archive:
        archive.extractall(tmp_path / "math")
    assert tree_sha256(tmp_path / "math")[1] == state.models.artefact(math.id, "onnx_model").sha256


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_load_and_unload_announce_and_change_the_status(client: TestClient, state: Registries,
                                                        receiver: Receiver) -> None:
    hook = data(client.post("/v1/webhooks", json={"url": receiver.url(), "events": ["model.registered", "model.loaded"],
                                                  "secret": "your_webhook_secret"}))
    chef = _model(state, "chef")
    loaded = data(client.post(f"/v1/models/{chef.id}/load", json={"force_reload": False, "gpu_device": 0}))
    assert (loaded["model_id"], loaded["status"], loaded["loaded"]) == (chef.id, "deployed", True)
    assert loaded["model"]["servable"] is True and loaded["model"]["loaded_at"]
    assert state.serving.loaded == {"chef@v1"} and state.experts.get("chef").status == "ready"
    [request] = receiver.wait_for(1)
    body = request.verify(b"your_webhook_secret")
    assert body["type"] == "model.loaded" and body["data"]["model_id"] == chef.id
    assert body["data"]["status"] == "deployed" and body["data"]["model_url"] == f"/v1/models/{chef.id}"
    listed = client.get("/v1/models", params={"status": "deployed"}).json()["data"]
    assert [(m["id"], m["servable"]) for m in listed] == [("chef", True)]

    unloaded = data(client.post("/v1/models/chef/unload"))
    assert (unloaded["status"], unloaded["loaded"]) == ("trained", False) and state.serving.loaded == set()
    assert "not loaded" in error(client.post("/v1/models/chef/unload"), 409, 409)["details"]

    policy = state.models.register("reach", "policy")   # announced: model.registered
    assert "serves experts only" in error(client.post(f"/v1/models/{policy.id}/load"), 409, 409)["details"]
    registered = receiver.wait_for(2)[1].verify(b"your_webhook_secret")
    assert registered["type"] == "model.registered" and registered["data"]["model_name"] == "reach"
    assert data(client.get(f"/v1/webhooks/{hook['webhook_id']}/deliveries"))["total"] == 2
    error(client.post("/v1/models/chef/load", json={"gpu_device": -1}), 400, 400)

