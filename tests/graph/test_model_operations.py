"""Model operations live, as a client written from seed 004 uses them: upload a dataset, run a
dataset → validation → preprocessing → training → evaluation → export → register pipeline with
tiny settings, follow its log, download the adapter, the merged model and the GGUF, read the card,
and receive a signed job.completed webhook on a loopback receiver. Then a training job whose jobs
node is killed mid-run (SIGKILL) resumes from its checkpoint when the launcher restarts the node.

The training runs LoRA on the real shared base for two steps (the top layer only); the exports
check themselves (the merged model's and the GGUF's logits against the adapted model's).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import tarfile
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.graph.bridge_helpers import base_url, http  # noqa: F401  (fixtures)
from tests.graph.conftest import LaunchedGraph
from tests.unit.webhooks.conftest import Receiver

JOB_S = 900.0   # a pipeline with exports on the shared, loaded 2-core machine (typically 1-3 min)
QA = [("What is 2 + 2?", "4"), ("Name a colour", "red"), ("Capital of France?", "Paris"),
      ("What is 3 + 3?", "6"), ("Opposite of up?", "down"), ("What is 5 - 1?", "4"),
      ("Colour of the sky?", "blue"), ("What is 10 / 2?", "5")]


@pytest.fixture(autouse=True, scope="module")
def jobs_node(client) -> None:
    client.wait_until(lambda: client.node.count_services("/submit_job") > 0
                      and client.node.count_services("/add_dataset") > 0
                      and client.node.count_services("/list_experts") > 0, 300, "the jobs and experts nodes")


def node(agent_name: str, agent_class: str, **config: Any) -> dict[str, Any]:
    return {"agent_name": agent_name, "agent_class": agent_class, "config": config}


def fine_tuning(dataset_id: int, model_name: str) -> dict[str, Any]:
    names = ["dataset", "validation", "preprocessing", "training", "evaluation", "export", "register"]
    return {"name": "graph fine-tuning", "pipeline_config": {
        "run_id": f"run-{model_name}",
        "nodes": [node("dataset", "DatasetAgent", dataset_id=str(dataset_id)),
                  node("validation", "ValidationAgent", required_columns=["question", "answer"]),
                  node("preprocessing", "PreprocessingAgent", template="alpaca",
                       template_mapping={"instruction": "question", "output": "answer"}),
                  node("training", "TrainingAgent", mode="lora", lora_r=4, lora_alpha=8, epochs=1, batch_size=2,
                       max_steps=2, learning_rate=1e-3, validation_fraction=0.25),
                  node("evaluation", "EvaluationAgent", metrics=["loss", "perplexity"]),
                  node("export", "ExportAgent", formats=["adapter", "merged", "gguf"]),
                  node("register", "RegisterAgent", name=model_name, description="graph test")],
        "edges": [{"from_agent": a, "to_agent": b} for a, b in zip(names, names[1:])],
        "global_config": {"max_retries": 1}}}


def follow_log(http: httpx.Client, job_id: int) -> list[dict[str, Any]]:  # noqa: F811
    """The job's log lines over SSE until the stream's end event."""
    lines: list[dict[str, Any]] = []
    with http.stream("GET", f"/v1/logs/stream/{job_id}", timeout=JOB_S) as stream:
        event: dict[str, str] = {}
        for raw in stream.iter_lines():
            if raw:
                key, _, value = raw.partition(": ")
                event[key] = value
                continue
            if event.get("event") == "end":
                return lines
            if "data" in event and event.get("event", "message") == "message":
                lines.append(json.loads(event["data"]))
            event = {}
    raise AssertionError(f"the log stream of job {job_id} closed without its end event")


def test_a_seed_004_client_fine_tunes_downloads_and_is_told(http: httpx.Client) -> None:  # noqa: F811
    csv = "question,answer\n" + "".join(f'"{q}",{a}\n' for q, a in QA)
    uploaded = http.post("/v1/datasets/upload", files={"file": ("qa.csv", csv.encode(), "text/csv")})
    assert uploaded.status_code in (200, 201), uploaded.text
    dataset = uploaded.json()["data"]
    assert dataset["rows"] == len(QA) and dataset["columns"] == ["question", "answer"]
    assert http.get(f"/v1/datasets/{dataset['dataset_id']}/preview", params={"limit": 2}).status_code == 200

    receiver = Receiver()
    hook = http.post("/v1/webhooks", json={"url": receiver.url(), "events": ["job.completed", "job.failed"]})
    assert hook.status_code == 201, hook.text
    secret = hook.json()["data"]["secret"]
    model_name = f"qa-{uuid.uuid4().hex[:6]}"
    try:
        submitted = http.post("/v1/jobs", json=fine_tuning(dataset["dataset_id"], model_name))
        assert submitted.status_code == 201, submitted.text
        job_id = submitted.json()["data"]["job_id"]
        lines = follow_log(http, job_id)
        done = http.get(f"/v1/jobs/{job_id}").json()["data"]
        assert done["status"] == "completed", done
        losses = [line for line in lines if line["level"] == "METRIC" and line["agent"] == "training"]
        assert [line["step"] for line in losses if line["loss"] is not None][-1] == 2
        [delivery] = receiver.wait_for(1, timeout_s=30)
        body = delivery.verify(secret)   # raises unless the Standard Webhooks signature holds
        assert body["type"] == "job.completed" and body["data"]["job_id"] == job_id
    finally:
        receiver.close()
        http.delete(f"/v1/webhooks/{hook.json()['data']['webhook_id']}")

    listed = http.get("/v1/models", params={"name": model_name}).json()
    [model] = [m for m in listed["data"] if m.get("model_name") == model_name]
    assert model["status"] == "trained" and {"adapter", "merged", "gguf"} <= set(model["exports"])
    assert {"eval_loss", "perplexity"} <= set(model["metrics"])
    model_id = model["model_id"]
    detail = http.get(f"/v1/models/{model_id}").json()["data"]
    assert detail["model_id"] == model_id and detail["run_id"] == f"run-{model_name}"
    gguf = http.get(f"/v1/models/{model_id}/download", params={"format": "gguf"})
    assert gguf.status_code == 200 and gguf.content[:4] == b"GGUF"
    assert hashlib.sha256(gguf.content).hexdigest() == detail["artefacts"]["gguf"]["sha256"]
    for format, expected in (("adapter", "adapter_config.json"), ("merged", "config.json")):
        download = http.get(f"/v1/models/{model_id}/download", params={"format": format})
        assert download.status_code == 200, download.text
        with tarfile.open(fileobj=io.BytesIO(download.content)) as archive:
            assert any(name.endswith(expected) for name in archive.getnames()), archive.getnames()
    missing = http.get(f"/v1/models/{model_id}/download", params={"format": "onnx_adapter"})
    assert missing.status_code in (400, 404) and "gguf" in missing.text   # the formats it has are named
    card = http.get(f"/v1/models/{model_id}/card", headers={"Accept": "text/markdown"})
    assert card.status_code == 200 and "perplexity" in card.text and model_name in card.text


def wait_for_status(http: httpx.Client, job_id: int, done: Any, timeout_s: float) -> dict[str, Any]:  # noqa: F811
    """Seed 000's status of a training job until ``done(status)``. While the killed jobs node restarts the
    bridge answers 503, or 504 while the dead process still looks alive to DDS (its participant lease)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = http.get(f"/v1/training/{job_id}/status")
        if response.status_code == 200 and done(status := response.json()["data"]):
            return status
        assert response.status_code in (200, 503, 504), response.text
        assert time.monotonic() < deadline, f"job {job_id}: {response.text}"
        time.sleep(0.3)


def test_a_training_job_resumes_after_its_node_is_killed(graph: LaunchedGraph, http: httpx.Client,  # noqa: F811
                                                         client) -> None:
    expert = http.post("/v1/experts/create", json={"name": f"resume_{uuid.uuid4().hex[:6]}", "domain": "Sums"})
    assert expert.status_code == 201, expert.text
    expert_id = expert.json()["data"]["expert_id"]
    rows = "".join(json.dumps({"prompt": f"what is {i} plus 1", "completion": str(i + 1)}) + "\n" for i in range(8))
    dataset = http.post("/v1/datasets/upload", files={"file": ("sums.jsonl", rows.encode(), "application/jsonl")},
                        data={"expert_id": str(expert_id), "name": "sums"})
    assert dataset.status_code in (200, 201), dataset.text
    job = http.post("/v1/jobs", json={"type": "training", "parameters": {
        "expert_id": expert_id, "dataset_id": dataset.json()["data"]["dataset_id"], "max_steps": 14,
        "save_steps": 2, "batch_size": 1, "learning_rate": 1e-3}})
    assert job.status_code == 201, job.text
    job_id = job.json()["data"]["job_id"]
    before = wait_for_status(http, job_id, lambda s: s["current_step"] >= 4 or s["status"] not in ("queued", "running"),
                             JOB_S)
    assert before["status"] == "running", before

    [*_, pid] = graph.node_pids("jobs")
    os.kill(pid, signal.SIGKILL)
    client.wait_until(lambda: graph.node_pids("jobs")[-1] != pid, 60, "the launcher restarting the jobs node")
    after = wait_for_status(http, job_id, lambda s: s["status"] not in ("queued", "running", "stopping",
                                                                         "registering"), JOB_S)
    assert after["status"] == "completed" and after["version"] == 1 and after["current_step"] == 14, after
    assert any(line.startswith("resumed from checkpoint-") for line in after["recent_logs"]), after["recent_logs"]
    record = http.get(f"/v1/jobs/{job_id}").json()["data"]
    assert record["attempts"] == 2, record
    history = http.get(f"/v1/logs/history/{job_id}", params={"limit": 1000}).json()["data"]["logs"]
    steps = [line["step"] for line in history if line["level"] == "METRIC"]
    assert steps.count(1) == 1 and steps[-1] == 14   # the second attempt went on from the checkpoint
    assert any("resumed" in line["message"] for line in history)
    assert http.get(f"/v1/experts/{expert_id}").json()["data"]["status"] == "ready"


def test_batch_inference_runs_prompts_through_the_experts_node(http: httpx.Client) -> None:  # noqa: F811
    submitted = http.post("/v1/jobs", json={"type": "batch_inference", "parameters": {
        "prompts": ["Say hello.", "What is 2 + 2?"], "expert": "general", "max_tokens": 4}})
    assert submitted.status_code == 201, submitted.text
    job_id = submitted.json()["data"]["job_id"]
    deadline = time.monotonic() + JOB_S
    while (job := http.get(f"/v1/jobs/{job_id}").json()["data"])["status"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.3)
    assert job["status"] == "completed", job
    outputs = job["result"]["outputs"]
    assert [o["index"] for o in outputs] == [0, 1] and all(o["text"] and o["expert"] == "general" for o in outputs)
