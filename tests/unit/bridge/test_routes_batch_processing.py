"""Seed 002's ``POST /jobs`` with ``type: batch_processing``, as POST /v1/jobs takes it: the seed's body
(name, type, service, parameters, priority, scheduled_at) runs a batch over a real job system, followed with
GET /v1/jobs/{id}; the seed's own example (object detection over an s3:// folder) is refused with every problem."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.batch_jobs import Completion
from embodied_ai.jobs import JobRunner
from embodied_ai.jobs.service import JobsService
from embodied_ai.services.batch_jobs import BATCH_PROCESSING_JOB, BatchProcessing
from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph
from tests.unit.bridge.local_jobs import LocalJobs

REPORT = ("The robot arm picked up the red cup. The arm then placed the cup on the shelf. "
          "Operators watched the arm work for an hour. Nobody had to stop the arm.")


def no_experts(prompt: str, expert: str, system: str, max_tokens: int, temperature: float) -> Completion:
    raise EmbodiedError("no experts serve here", ErrorCode.EXPERT_NOT_READY)


class BatchJobs(LocalJobs):
    """LocalJobs whose jobs are batch processing jobs over its datasets folder (as the jobs node runs them)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        store = self.dataset_store
        kind = BatchProcessing(directory / "job_work", directory / "datasets", lambda i: (
            store.file(i), store.get(i).analysis.get("text_column")), no_experts).kind()
        self.batch_runner = JobRunner(self.store, {BATCH_PROCESSING_JOB: kind}, poll_s=0.05)
        self.service = JobsService(self.store, self.batch_runner)
        self.batch_runner.start()

    def close(self) -> None:
        self.batch_runner.stop(timeout=5.0)
        super().close()


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeGraph]:
    jobs = BatchJobs(tmp_path)
    notes = tmp_path / "datasets" / "notes"
    notes.mkdir(parents=True)
    (notes / "a.txt").write_text(REPORT)
    (notes / "b.txt").write_text(REPORT)
    yield FakeGraph(jobs, jobs.webhooks, jobs.operations)
    jobs.close()


def test_seed_002s_body_runs_a_batch_followed_to_its_results(client: TestClient) -> None:
    job = data(client.post("/v1/jobs", json={
        "name": "Batch Text Summaries", "type": "batch_processing", "service": "nlp",
        "parameters": {"operation": "summarize", "input_source": "notes", "max_length": 12, "output_format": "json"},
        "priority": "high"}))
    assert job["name"] == "Batch Text Summaries" and job["type"] == "batch_processing" and job["priority"] == 10
    deadline = time.monotonic() + 30
    while (done := data(client.get(f"/v1/jobs/{job['job_id']}")))["status"] != "completed":
        assert done["status"] in ("queued", "running") and time.monotonic() < deadline, done
        time.sleep(0.05)
    result = done["result"]
    assert done["progress"]["percentage"] == 100.0 and (result["count"], result["failed"]) == (2, 0)
    assert [o["file"] for o in result["outputs"]] == ["notes/a.txt", "notes/b.txt"]
    assert all(o["summary_length"] <= 12 for o in result["outputs"]) and result["output_file"].endswith(".jsonl")
    download = client.get(f"/v1/jobs/{job['job_id']}/results")   # seed 002's results to download
    assert download.status_code == 200 and download.headers["content-type"] == "application/x-ndjson"
    assert f"job-{job['job_id']}-results.jsonl" in download.headers["content-disposition"]
    assert [json.loads(line) for line in download.text.splitlines()] == result["outputs"]
    # As the SDK's jobs.submit(type=..., parameters=...) sends it: the service among the parameters.
    later = data(client.post("/v1/jobs", json={"type": "batch_processing",
                                               "parameters": {"service": "nlp", "input_source": "notes"},
                                               "scheduled_at": "2999-01-01T12:00:00Z"}))
    assert later["status"] == "pending" and later["scheduled_at"].startswith("2999-01-01T12:00:00")
    error(client.get(f"/v1/jobs/{later['job_id']}/results"), 409, 409)   # not completed yet


def test_seed_002s_example_is_refused_with_every_problem(client: TestClient) -> None:
    refused = error(client.post("/v1/jobs", json={
        "name": "Batch Image Analysis", "type": "batch_processing", "service": "vision",
        "parameters": {"input_source": "s3://bucket/images/", "analysis_type": "object_detection",
                       "model": "yolo-v8", "output_format": "json"},
        "priority": "normal", "scheduled_at": "2024-01-01T12:00:00Z"}), 400, 400)
    problems = refused["details"]["problems"]
    assert len(problems) == 3 and any("perception node" in p for p in problems)
    assert any("s3://" in p for p in problems) and any("yolo-v8" in p for p in problems)
    assert data(client.get("/v1/jobs"))["jobs"] == []
