"""The job system end to end: a client written from seed 004 registers a webhook on a loopback
receiver, submits a dataset -> validation -> preprocessing pipeline over HTTP, follows its log
live, reads the finished job and receives a correctly signed job.completed; a bad pipeline is
refused with every problem. The REST bridge and the jobs node of the session graph (same state
directory)."""

from __future__ import annotations

import asyncio
import csv
import json
import time

import httpx
import pytest
import websockets

from tests.graph.bridge_helpers import base_url, http  # noqa: F401  (fixtures)
from tests.graph.conftest import LaunchedGraph
from tests.unit.webhooks.conftest import Receiver

ROWS = [("What is 2 + 2?", "4"), ("Name a colour", "red"), ("What is 2 + 2?", "4"), ("Capital of France?", "Paris")]


def pipeline(file_path: str) -> dict:
    return {"pipeline_config": {
        "run_id": "graph-test",
        "nodes": [
            {"agent_name": "dataset", "agent_class": "DatasetAgent", "config": {"file_path": file_path}},
            {"agent_name": "validation", "agent_class": "ValidationAgent",
             "config": {"required_columns": ["question"]}},
            {"agent_name": "preprocessing", "agent_class": "PreprocessingAgent",
             "config": {"clean": True, "dedup": True, "template": "alpaca",
                        "template_mapping": {"instruction": "question", "output": "answer"}}},
        ],
        "edges": [{"from_agent": "dataset", "to_agent": "validation"},
                  {"from_agent": "validation", "to_agent": "preprocessing"}],
        "global_config": {"max_retries": 1}}}


@pytest.fixture(autouse=True, scope="module")
def jobs_node(client) -> None:
    """The jobs node (a process of its own, started with the graph) serves."""
    client.wait_until(lambda: client.node.count_services("/submit_job") > 0
                      and client.node.count_services("/register_webhook") > 0, 120, "the jobs node's services")


def test_a_pipeline_runs_and_its_log_streams_live(graph: LaunchedGraph, http: httpx.Client) -> None:  # noqa: F811
    datasets = graph.bridge_state_dir / "datasets"
    datasets.mkdir(parents=True, exist_ok=True)
    with open(datasets / "qa.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("question", "answer"), *ROWS])
    receiver = Receiver()
    hook = http.post("/v1/webhooks", json={"url": receiver.url(), "events": ["job.completed", "job.failed"]})
    assert hook.status_code == 201, hook.text
    secret = hook.json()["data"]["secret"]
    submitted = http.post("/v1/jobs", json=pipeline("qa.csv"))
    assert submitted.status_code == 201, submitted.text
    job = submitted.json()["data"]
    assert job["type"] == "pipeline" and job["progress"]["total_agents"] == 3
    lines, ended = [], False
    with http.stream("GET", f"/v1/logs/stream/{job['job_id']}", timeout=120) as stream:
        event: dict[str, str] = {}
        for raw in stream.iter_lines():
            if raw:
                key, _, value = raw.partition(": ")
                event[key] = value
                continue
            if event.get("event") == "end":
                ended = True
                break
            if "data" in event and event.get("event", "message") == "message":
                lines.append(json.loads(event["data"]))
            event = {}
    assert ended and lines and [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    assert {"dataset", "validation", "preprocessing"} <= {line["agent"] for line in lines}
    done = http.get(f"/v1/jobs/{job['job_id']}").json()["data"]
    assert done["status"] == "completed", done
    progress = done["progress"]
    assert progress["completed_agents"] == ["dataset", "validation", "preprocessing"]   # seed 004's progress
    assert progress["current_agent"] is None and progress["total_agents"] == 3
    assert [(s["agent_name"], s["state"]) for s in progress["steps"]] == [
        ("dataset", "completed"), ("validation", "completed"), ("preprocessing", "completed")]
    assert {"from_agent": "dataset", "to_agent": "validation"} in progress["edges"]
    history = http.get(f"/v1/logs/history/{job['job_id']}", params={"limit": 1000}).json()["data"]
    assert history["ended"] and [line["seq"] for line in history["logs"]] == [line["seq"] for line in lines]
    try:
        [delivery] = receiver.wait_for(1, timeout_s=15)
        body = delivery.verify(secret)   # raises unless the Standard Webhooks signature holds
        assert body["type"] == "job.completed" and body["data"]["job_id"] == job["job_id"]
    finally:
        receiver.close()
        http.delete(f"/v1/webhooks/{hook.json()['data']['webhook_id']}")


def test_a_bad_pipeline_is_refused_with_every_problem(http: httpx.Client) -> None:  # noqa: F811
    bad = pipeline("../../etc/passwd")
    bad["pipeline_config"]["nodes"][1]["agent_class"] = "ValidatorAgent"
    bad["pipeline_config"]["edges"].append({"from_agent": "preprocessing", "to_agent": "dataset"})
    response = http.post("/v1/jobs", json=bad)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["error_code"] == "CONFIG_ERROR"   # seed 004's code
    problems = response.json()["error"]["details"]["problems"]
    assert any("ValidatorAgent" in p for p in problems) and any("cycle" in p for p in problems)
    assert any("outside the datasets directory" in p for p in problems)
    assert http.get("/v1/jobs", params={"status": "running", "limit": 1000}).status_code == 200


def test_every_nodes_logs_are_kept_and_queried_by_node_and_level(http: httpx.Client) -> None:  # noqa: F811
    deadline = time.monotonic() + 30
    while True:
        page = http.get("/v1/ops/logs", params={"service": "experts", "level": "info", "limit": 1000}).json()
        messages = [line["message"] for line in page["data"]["logs"]]
        if any(m.startswith("ready: experts") for m in messages):
            break
        assert time.monotonic() < deadline, messages[:10]
        time.sleep(1.0)
    assert {line["service"] for line in page["data"]["logs"]} == {"experts"}
    assert all(line["level"] in ("INFO", "WARN", "ERROR", "FATAL") for line in page["data"]["logs"])
    assert http.get("/v1/ops/logs", params={"level": "loud"}).status_code == 400


def test_the_jobs_channel_carries_every_jobs_changes(graph: LaunchedGraph, http: httpx.Client,  # noqa: F811
                                                     base_url: str) -> None:  # noqa: F811
    datasets = graph.bridge_state_dir / "datasets"
    datasets.mkdir(parents=True, exist_ok=True)
    with open(datasets / "qa2.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("question", "answer"), *ROWS])

    async def follow() -> list[dict]:
        async with websockets.connect(base_url.replace("http", "ws", 1) + "/ws") as socket:
            await socket.send(json.dumps({"action": "subscribe", "channels": ["jobs"]}))
            assert json.loads(await socket.recv())["event"] == "subscribed"
            submitted = http.post("/v1/jobs", json=pipeline("qa2.csv"))   # after subscribing: nothing missed
            assert submitted.status_code == 201, submitted.text
            job_id = submitted.json()["data"]["job_id"]
            seen: list[dict] = []
            while not seen or seen[-1]["event"] not in ("completed", "failed", "cancelled"):
                message = json.loads(await asyncio.wait_for(socket.recv(), 60))
                if message.get("channel") == "jobs" and message["data"]["job_id"] == job_id:
                    seen.append(message)
            return seen

    events = asyncio.run(follow())
    assert events[-1]["event"] == "completed" and events[-1]["data"]["status"] == "completed"
    assert "started" in [e["event"] for e in events] and events[-1]["data"]["type"] == "pipeline"
