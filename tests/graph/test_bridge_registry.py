"""The expert registry, datasets, training jobs, resize and router retraining, live: HTTP →
bridge → the experts node's services and the jobs node's training jobs → the core → back, with the
Robot API's shapes and codes; then the same ROS interfaces from a plain rclpy client, as
`ros2 service call` or `ros2 action send_goal` would use them.

Training is kept tiny: a few rows, LoRA for two steps, or a from-scratch model of d_model 64
(a step takes milliseconds; its ONNX export ~10-30 s on the loaded 2-core machine).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from embodied_interfaces.action import TrainExpert
from embodied_interfaces.srv import AddDataset, GetExpert, GetTrainingStatus, ListExperts

from tests.conftest import REPO
from tests.graph.bridge_helpers import BridgeProcess, assert_envelope_error
from tests.graph.bridge_helpers import base_url as base_url_fixture  # noqa: F401 (a fixture)
from tests.graph.bridge_helpers import http as http_fixture  # noqa: F401 (a fixture)
from tests.graph.test_bridge_streams import ws_messages

EXPERTS_START_S = 300.0  # the experts node loads the base and the router first
JOB_S = 900.0  # a training job on the shared, loaded machine (generous; typically well under a minute)
# A retrain answers when the gate is trained (every prompt embedded first): the bridge waits up
# to its retrain_s (600 s), and so does the test, however slow the machine.
RETRAIN_S = 600.0
TINY_SHAPE = {"d_model": 64, "n_layers": 1, "n_heads": 2}


def rows(count: int, offset: int = 0) -> bytes:
    return "".join(json.dumps({"prompt": f"what is {i} plus 1", "completion": str(i + 1)}) + "\n"
                   for i in range(offset, offset + count)).encode()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def registry(client, http) -> None:
    """The experts node's registry services and the jobs node's training are up (they start slower
    than the bridge)."""
    client.wait_until(lambda: client.node.count_services("/list_experts") > 0
                      and client.node.count_services("/train_expert/_action/send_goal") > 0
                      and client.node.count_services("/add_dataset") > 0,
                      EXPERTS_START_S, "the experts node's registry services and the jobs node's training")


UNFINISHED = ("queued", "running", "stopping", "registering")


def wait_for_job(http, job_id: int, done=lambda s: s["status"] not in UNFINISHED,
                 timeout: float = JOB_S) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        response = http.get(f"/v1/training/{job_id}/status")
        assert response.status_code == 200, response.text
        status = response.json()["data"]
        if done(status):
            return status
        assert time.monotonic() < deadline, f"job {job_id} still {status['status']} after {timeout} s: {status}"
        time.sleep(0.5)


def create(http, name: str, **fields) -> int:
    response = http.post("/v1/experts/create", json={"name": name, "domain": "Arithmetic", "category": "math",
                                                     **fields})
    assert response.status_code == 201, response.text
    return response.json()["data"]["expert_id"]


def upload(http, expert: int | str, data: bytes, filename: str = "d.jsonl"):
    return http.post("/v1/datasets/upload", files={"file": (filename, data, "application/octet-stream")},
                     data={"expert_id": str(expert), "name": "Sums"})


def test_list_and_get_the_default_experts(http, registry):
    page = http.get("/v1/experts/list", params={"status": "ready", "limit": 50})
    assert page.status_code == 200, page.text
    data = page.json()["data"]
    general = next(e for e in data["experts"] if e["name"] == "general")
    assert general["status"] == "ready" and general["total_params"] > 100e6 and data["total"] >= 1
    assert data["limit"] == 50 and data["offset"] == 0
    detail = http.get(f"/v1/experts/{general['id']}").json()["data"]
    assert detail["name"] == "general" and detail["current_version"] >= 1 and "total_calls" in detail["usage_stats"]
    assert http.get("/v1/experts/general").json()["data"]["id"] == general["id"]  # by name too
    none = http.get("/v1/experts/list", params={"category": "no_such_category"}).json()["data"]
    assert none["experts"] == [] and none["total"] == 0
    assert_envelope_error(http.get("/v1/experts/no_such_expert"), 404, 1000)
    assert_envelope_error(http.get("/v1/experts/list", params={"sort_by": "colour"}), 400, 400)


def test_create_update_and_delete(http, registry):
    name = unique("rust_expert")
    created = http.post("/v1/experts/create", json={"name": name, "domain": "Rust", "category": "programming"})
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["status"] == "initializing" and 0 < data["estimated_size_gb"] < 0.01  # a LoRA adapter
    expert_id = data["expert_id"]
    assert_envelope_error(http.post("/v1/experts/create", json={"name": name, "domain": "Rust"}), 422, 1002)
    odd = http.post("/v1/experts/create", json={"name": unique("odd"), "domain": "x", "d_model": 100, "n_layers": 2,
                                                "n_heads": 3})
    assert "heads" in assert_envelope_error(odd, 422, 1002)["details"]

    updated = http.put(f"/v1/experts/{expert_id}", json={"domain": "Rust Programming Advanced"})
    assert updated.status_code == 200 and updated.json()["data"]["domain"] == "Rust Programming Advanced"
    assert_envelope_error(http.put(f"/v1/experts/{expert_id}", json={"status": "ready"}), 503, 1001)  # untrained
    assert_envelope_error(http.put("/v1/experts/no_such_expert", json={"domain": "x"}), 404, 1000)

    soft = http.delete(f"/v1/experts/{expert_id}")
    assert soft.status_code == 200 and soft.json()["data"] == {"expert_id": expert_id, "hard_delete": False,
                                                               "status": "deleted"}
    assert_envelope_error(http.get(f"/v1/experts/{expert_id}"), 404, 1000)
    assert name not in {e["name"] for e in http.get("/v1/experts/list").json()["data"]["experts"]}
    hard = http.delete(f"/v1/experts/{expert_id}", params={"hard_delete": "true"})
    assert hard.status_code == 200 and hard.json()["data"]["status"] == "hard_deleted"
    assert_envelope_error(http.delete(f"/v1/experts/{expert_id}", params={"hard_delete": "true"}), 404, 1000)


def test_dataset_upload_keeps_good_rows_and_names_bad_ones(http, graph, registry):
    expert = create(http, unique("sums"))
    response = upload(http, expert, rows(5) + b'{"prompt": "no completion"}\n' + rows(1))
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["num_samples"], data["invalid_rows"], data["duplicates_removed"]) == (5, 1, 1)
    assert data["status"] == "ready" and data["dataset_id"] > 0 and data["row_errors"][0].startswith("row 6:")

    uploads = graph.bridge_state_dir / "datasets" / "uploads"
    before = set(uploads.glob("*"))
    bad = assert_envelope_error(upload(http, expert, b'{oops\n{"prompt": 3, "completion": "x"}\n'), 400, 2001)
    assert "row 1:" in bad["details"] and "row 2:" in bad["details"]
    assert set(uploads.glob("*")) == before  # a refused upload leaves nothing behind
    assert_envelope_error(upload(http, "no_such_expert", rows(2)), 404, 1000)
    assert_envelope_error(upload(http, expert, b"prompt,completion\n", "d.csv"), 400, 2001)


@dataclass(frozen=True)
class FinishedJob:
    expert: int
    job_id: int
    started: dict
    events: list[dict]  # the job's messages on the WebSocket training channel, in order
    status: dict        # GET /v1/training/{id}/status once it ended


@pytest.fixture(scope="module")
def finished_lora_job(http, base_url, registry) -> FinishedJob:
    """A tiny LoRA job run to its end through the bridge, watched on the WebSocket."""
    expert = create(http, unique("lora_sums"))
    dataset = upload(http, expert, rows(4)).json()["data"]["dataset_id"]
    started: dict = {}

    def start() -> None:
        response = http.post("/v1/training/start", json={"expert_id": expert, "dataset_id": dataset, "num_epochs": 1,
                                                          "batch_size": 2, "learning_rate": 1e-3})
        assert response.status_code == 201, response.text
        started.update(response.json()["data"])

    def finished(messages: list[dict]) -> bool:
        return any(m.get("channel") == "training" and m.get("event") in ("completed", "failed", "stopped")
                   and m["data"]["job_id"] == started.get("job_id") for m in messages)

    messages = asyncio.run(ws_messages(base_url, [{"action": "subscribe", "channels": ["training"]}], finished,
                                       timeout=JOB_S, during=start))
    job_id = started["job_id"]
    events = [m for m in messages if m.get("channel") == "training" and m["data"].get("job_id") == job_id]
    return FinishedJob(expert, job_id, started, events, wait_for_job(http, job_id))


def test_lora_training_reports_progress_on_the_websocket_and_registers_a_version(
        http, finished_lora_job: FinishedJob):
    job = finished_lora_job
    assert job.started["status"] in ("queued", "running")
    progress = [m["data"] for m in job.events if m["event"] == "progress"]
    assert progress[-1]["step"] == 2 and progress[-1]["total_steps"] == 2 and progress[-1]["loss"] > 0
    assert any(m["event"] == "epoch_completed" and m["data"]["epoch"] == 1 for m in job.events)
    assert job.events[-1]["event"] == "completed" and job.events[-1]["data"]["version"] == 1, job.events[-1]

    status = job.status
    assert status["status"] == "completed" and status["version"] == 1 and status["current_step"] == 2
    assert status["current_epoch"] == status["total_epochs"] == 1 and len(status["train_loss"]) == 2
    assert any("completed 2 steps" in line for line in status["recent_logs"])
    detail = http.get(f"/v1/experts/{job.expert}").json()["data"]
    assert detail["status"] == "ready" and detail["kind"] == "adapter" and detail["current_version"] == 1
    assert "train_loss" in detail["metrics"]
    answer = http.post("/v1/inference/generate", json={"prompt": "what is 2 plus 1", "expert_id": str(job.expert),
                                                       "max_tokens": 4})
    assert answer.status_code == 200 and answer.json()["data"]["expert_used"] == detail["name"], answer.text
    assert_envelope_error(http.post(f"/v1/training/{job.job_id}/stop"), 422, 2000)  # it has ended


def test_a_new_bridge_process_reads_the_same_job_status(graph, finished_lora_job: FinishedJob):
    """Job status lives with the jobs node (the job's record and its run's status file), not in a
    bridge: a bridge started after the job ended (as after a restart) answers the same."""
    bridge = BridgeProcess("rest_bridge_restarted", state_dir=str(graph.bridge_state_dir))
    try:
        with httpx.Client(base_url=bridge.url(), timeout=60) as fresh:
            deadline = time.monotonic() + 30  # the new bridge discovers the jobs node first
            while (response := fresh.get(f"/v1/training/{finished_lora_job.job_id}/status")).status_code == 503:
                assert time.monotonic() < deadline, response.text
                time.sleep(0.5)
            assert response.status_code == 200, response.text
            assert response.json()["data"] == finished_lora_job.status
    finally:
        assert bridge.stop() == 0


def test_training_refusals_carry_seed_codes(http, registry):
    missing = http.post("/v1/training/start", json={"expert_id": 999999, "dataset_id": 1})
    assert_envelope_error(missing, 404, 1000)
    expert = create(http, unique("no_data"))
    assert_envelope_error(http.post("/v1/training/start", json={"expert_id": expert, "dataset_id": 999999}), 400, 2001)
    assert_envelope_error(http.post("/v1/training/start", json={"expert_id": expert, "dataset_id": 0}), 400, 2001)
    assert_envelope_error(http.get("/v1/training/999999/status"), 404, 404)
    assert_envelope_error(http.post("/v1/training/999999/stop"), 404, 404)
    assert_envelope_error(http.post("/v1/training/start", json={"expert_id": expert, "dataset_id": 1,
                                                                "batch_size": 0}), 400, 400)


def test_stop_keeps_a_checkpoint_then_resize_makes_a_new_version_of_another_size(http, registry):
    expert = create(http, unique("scratch"), **TINY_SHAPE)
    dataset = upload(http, expert, rows(6)).json()["data"]["dataset_id"]
    # Thousands of millisecond steps: a job that is surely still running when stopped.
    start = http.post("/v1/training/start", json={"expert_id": expert, "dataset_id": dataset, "use_lora": False,
                                                  "num_epochs": 1000, "batch_size": 1})
    assert start.status_code == 201, start.text
    job_id = start.json()["data"]["job_id"]
    running = wait_for_job(http, job_id, done=lambda s: s["current_step"] >= 2 or s["status"] not in
                           ("queued", "running"))
    assert running["status"] == "running" and running["total_steps"] == 6000
    stopped = http.post(f"/v1/training/{job_id}/stop")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["data"] == {"status": "stopped", "checkpoint_saved": True}
    after = http.get(f"/v1/training/{job_id}/status").json()["data"]
    assert after["status"] == "stopped" and after["checkpoint_saved"] and 2 <= after["current_step"] < 6000
    assert any("checkpoint saved" in line for line in after["recent_logs"])
    assert http.get(f"/v1/experts/{expert}").json()["data"]["status"] == "initializing"  # never completed

    assert_envelope_error(http.post(f"/v1/experts/{expert}/resize", json={"d_model": 100, "n_layers": 1,
                                                                          "n_heads": 3}), 422, 1002)
    assert_envelope_error(http.post("/v1/experts/no_such_expert/resize", json=TINY_SHAPE), 404, 1000)
    resized = http.post(f"/v1/experts/{expert}/resize", json={"d_model": 96, "n_layers": 1, "n_heads": 2})
    assert resized.status_code == 201, resized.text
    data = resized.json()["data"]
    assert data["expert_id"] == expert and data["status"] == "training" and data["job_id"] > job_id
    status = wait_for_job(http, data["job_id"])
    assert status["status"] == "completed" and status["version"] == 1, status
    detail = http.get(f"/v1/experts/{expert}").json()["data"]
    assert detail["kind"] == "model" and detail["config"]["d_model"] == 96 and detail["status"] == "ready"
    answer = http.post("/v1/inference/generate", json={"prompt": "what is 2 plus 1", "expert_id": str(expert),
                                                       "max_tokens": 4})
    assert answer.status_code == 200 and answer.json()["data"]["tokens_generated"] > 0, answer.text


@pytest.fixture
def shipped_gate_restored(http, graph, registry) -> Iterator[Path]:
    """The datasets directory of the graph's experts node; whatever a test retrains, the graph
    gets back a gate trained on the shipped set afterwards, also when the test failed half-way,
    so later tests route as the shipped router does."""
    datasets = graph.bridge_state_dir / "datasets"
    datasets.mkdir(exist_ok=True)
    yield datasets
    (datasets / "router_full.jsonl").write_text((REPO / "models" / "router" / "data" / "train.jsonl").read_text())
    restored = http.post("/v1/router/retrain", json={"training_data_path": "router_full.jsonl"}, timeout=RETRAIN_S)
    assert restored.status_code == 200, restored.text


def test_router_retrain_swaps_the_gate_or_refuses_bad_data(http, registry, shipped_gate_restored):
    per_expert: dict[str, list[str]] = {}
    for line in (REPO / "models" / "router" / "data" / "train.jsonl").read_text().splitlines():
        row = json.loads(line)
        if len(per_expert.setdefault(row["expert"], [])) < 60:
            per_expert[row["expert"]].append(line)
    datasets = shipped_gate_restored
    (datasets / "router_no_general.jsonl").write_text(
        "\n".join(line for name, lines in per_expert.items() if name != "general" for line in lines) + "\n")
    refused = http.post("/v1/router/retrain", json={"training_data_path": "router_no_general.jsonl", "num_epochs": 5},
                        timeout=RETRAIN_S)
    assert "fallback expert 'general'" in assert_envelope_error(refused, 400, 2001)["details"]

    (datasets / "router.jsonl").write_text("\n".join(line for lines in per_expert.values() for line in lines)
                                           + "\nnot json\n")
    retrained = http.post("/v1/router/retrain", json={"training_data_path": "router.jsonl", "num_epochs": 40},
                          timeout=RETRAIN_S)
    assert retrained.status_code == 200, retrained.text
    data = retrained.json()["data"]
    assert data["status"] == "completed" and "gate version" in data["message"]
    assert f"row {sum(map(len, per_expert.values())) + 1}:" in data["message"]  # the bad row, by number
    routed = http.post("/v1/router/route", json={"prompt": "close your left hand"}).json()["data"]
    assert routed["expert"] == "robot_control"


def test_the_ros_interfaces_answer_a_plain_rclpy_client(client, http, graph, registry):
    listed = client.call(ListExperts, "/list_experts", ListExperts.Request(status="ready", sort_by="name"))
    assert listed.success and "general" in [e.name for e in listed.experts] and listed.total >= 1
    general = next(e for e in listed.experts if e.name == "general")
    assert general.current_version >= 1 and json.loads(general.config_json)["base_model"]
    missing = client.call(GetExpert, "/get_expert", GetExpert.Request(expert="no_such_expert"))
    assert not missing.success and missing.error_code == 1000 and "does not exist" in missing.message
    outside = client.call(AddDataset, "/add_dataset", AddDataset.Request(path="/etc/passwd", filename="passwd.txt"))
    assert not outside.success and outside.error_code == 400 and "outside" in outside.problems[0]

    refused = client.run(TrainExpert, "/train_expert", TrainExpert.Goal(expert="no_such_expert"), timeout=60)
    assert not refused.result.success and refused.result.error_code == 1000

    expert = create(http, unique("ros_scratch"), **TINY_SHAPE)
    dataset = upload(http, expert, rows(6)).json()["data"]["dataset_id"]
    feedback: list = []
    handle = client.send_goal(TrainExpert, "/train_expert", TrainExpert.Goal(
        expert=str(expert), dataset_id=dataset, use_lora=False, num_epochs=1000.0, batch_size=1), feedback)
    assert handle.accepted
    client.wait_until(lambda: any(f.current_step >= 2 for f in feedback), JOB_S, "training feedback")
    job_id = feedback[0].job_id
    status = client.call(GetTrainingStatus, "/training_status", GetTrainingStatus.Request(job_id=job_id))
    assert status.success and status.status == "running" and status.current_step >= 2
    cancel = handle.cancel_goal_async()
    client._wait_future(cancel, 10, "cancel response")
    result = client.result(handle, timeout=JOB_S)
    assert result.result.status == "stopped" and result.result.checkpoint_saved and result.result.job_id == job_id
    final = client.call(GetTrainingStatus, "/training_status", GetTrainingStatus.Request(job_id=job_id))
    assert final.status == "stopped" and final.checkpoint_saved
    # The bridge reads the same job from the jobs node.
    assert http.get(f"/v1/training/{job_id}/status").json()["data"]["status"] == "stopped"
