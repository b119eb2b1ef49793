"""The Jobs and Logs APIs over a real job system in this process: submit (both seeds' bodies),
follow, page, cancel, and the logs as history and as a resumable stream; bad input refused with
every problem."""

from __future__ import annotations

import json
import time

from fastapi.testclient import TestClient


def wait_for(client: TestClient, job_id: int, status: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while (job := client.get(f"/v1/jobs/{job_id}").json()["data"])["status"] != status:
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def submit(client: TestClient, **body: object) -> dict:
    response = client.post("/v1/jobs", json={"type": "count", **body})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def test_a_job_runs_to_completion_with_progress_steps_and_result(client: TestClient) -> None:
    job = submit(client, name="three", parameters={"to": 3}, priority="high")
    assert isinstance(job["job_id"], int) and job["name"] == "three" and job["priority"] == 10
    done = wait_for(client, job["job_id"], "completed")
    assert done["result"] == {"counted": 3} and done["progress"]["percentage"] == 100.0
    assert done["progress"]["completed_agents"] == ["count_1", "count_2", "count_3"]
    assert done["started_at"] and done["completed_at"] and done["error"] is None


def test_lists_page_with_total_and_a_link_to_the_next_page(client: TestClient) -> None:
    ids = [submit(client, parameters={"to": 1})["job_id"] for _ in range(3)]
    response = client.get("/v1/jobs", params={"limit": 2, "type": "count"})
    page = response.json()["data"]
    assert response.headers["x-total-count"] == "3" and page["pagination"]["has_more"] is True
    assert [j["job_id"] for j in page["jobs"]] == sorted(ids, reverse=True)[:2]   # newest first
    assert 'rel="next"' in response.headers["link"] and "offset=2" in response.headers["link"]
    last = client.get("/v1/jobs", params={"limit": 2, "offset": 2, "type": "count"})
    assert "link" not in last.headers and len(last.json()["data"]["jobs"]) == 1


def test_cancel_a_scheduled_job_and_refuse_cancelling_an_ended_one(client: TestClient) -> None:
    later = submit(client, parameters={"to": 1}, scheduled_at="2999-01-01T00:00:00Z")
    assert later["status"] == "pending"
    assert client.delete(f"/v1/jobs/{later['job_id']}").json()["data"]["status"] == "cancelled"
    again = client.delete(f"/v1/jobs/{later['job_id']}")
    assert again.status_code == 409 and "cancelled" in again.json()["error"]["details"]


def test_bad_jobs_are_refused_with_every_problem(client: TestClient) -> None:
    unknown = client.post("/v1/jobs", json={"type": "teleport", "parameters": {}})
    assert unknown.status_code == 400
    details = unknown.json()["error"]["details"]
    assert "teleport" in details["reason"] and any("count" in p for p in details["problems"])
    assert unknown.json()["error"]["error_code"] == details["error_code"] == "VALIDATION_ERROR"   # seed 004's code
    pipeline = client.post("/v1/jobs", json={"pipeline_config": {"nodes": [], "edges": []}})
    assert pipeline.status_code == 400 and pipeline.json()["error"]["error_code"] == "CONFIG_ERROR"
    assert client.post("/v1/jobs", json={"type": "count", "pipeline_config": {}}).status_code == 400
    assert client.post("/v1/jobs", json={}).status_code == 400
    assert client.post("/v1/jobs", json={"type": "count", "scheduled_at": "2030-01-01T00:00:00"}).status_code == 400
    missing = client.get("/v1/jobs/424242")
    assert missing.status_code == 404 and missing.json()["error"]["error_code"] == "NOT_FOUND"
    assert client.get("/v1/jobs", params={"limit": 10_000}).status_code == 400
    assert client.get("/v1/jobs", params={"status": "sleeping"}).status_code == 400


def test_logs_as_history_and_as_a_stream_resumed_from_last_event_id(client: TestClient) -> None:
    job_id = submit(client, parameters={"to": 4, "slow": True})["job_id"]
    with client.stream("GET", f"/v1/logs/stream/{job_id}") as stream:
        events, event = [], {}
        for line in stream.iter_lines():
            if not line:
                if event:
                    events.append(event)
                event = {}
                continue
            key, _, value = line.partition(": ")
            event[key] = value
    metrics = [json.loads(e["data"]) for e in events if e.get("event", "message") == "message" and "id" in e]
    assert [m["message"] for m in metrics if m["level"] == "METRIC"] == [f"counted {n}" for n in range(1, 5)]
    assert [int(e["id"]) for e in events if "id" in e] == [m["seq"] for m in metrics]
    assert events[-1]["event"] == "end"
    third = metrics[2]["seq"]
    with client.stream("GET", f"/v1/logs/stream/{job_id}", headers={"Last-Event-ID": str(third)}) as resumed:
        ids = [int(line[4:]) for line in resumed.iter_lines() if line.startswith("id: ")]
    assert ids and min(ids) > third
    history = client.get(f"/v1/logs/history/{job_id}", params={"limit": 2}).json()["data"]
    assert [line["seq"] for line in history["logs"]] == [1, 2] and history["run_id"] == job_id
    assert client.get(f"/v1/logs/history/{job_id}", params={"limit": 10_000}).status_code == 400
    assert client.get("/v1/logs/stream/424242").status_code == 404
