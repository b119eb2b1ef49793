"""Batch inference as a job: prompts (a list, or an uploaded dataset's prompt column) through the real
experts service, one completion per line; a refused prompt gets its error and the batch goes on; a
job whose process was killed resumes after the last complete line; bad configs are refused at submit."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai.datasets import DatasetStore
from embodied_ai.errors import InvalidRequest, NotFound
from embodied_ai.experts.batch_jobs import BATCH_INFERENCE_JOB, OUTPUT_FILE, BatchInference, Completion
from embodied_ai.experts.engine import GenerationRequest
from embodied_ai.experts.service import ExpertService
from embodied_ai.jobs import Job, JobRunner, JobStatus, JobStore

pytestmark = pytest.mark.timeout(1500)  # the first test may build the base into the cache


@pytest.fixture
def datasets(service: ExpertService) -> Iterator[DatasetStore]:
    store = DatasetStore(service.state_dir / "operations.sqlite", service.state_dir / "datasets")
    yield store
    store.close()


@pytest.fixture
def batch(service: ExpertService, datasets: DatasetStore, tmp_path: Path) -> BatchInference:
    def generate(prompt: str, expert: str, system: str, max_tokens: int, temperature: float) -> Completion:
        served = service.generate(GenerationRequest(prompt, system=system, max_tokens=max_tokens,
                                                    temperature=temperature), expert)
        return Completion(served.result.text, served.result.expert or "", served.result.finish_reason,
                          served.result.completion_tokens)

    return BatchInference(tmp_path / "work", generate,
                          lambda i: (datasets.file(i), datasets.get(i).analysis.get("text_column")))


def run(store: JobStore, batch: BatchInference, config: dict) -> Job:
    runner = JobRunner(store, {BATCH_INFERENCE_JOB: batch.kind()}, poll_s=0.05)
    runner.start()
    try:
        job = runner.submit(BATCH_INFERENCE_JOB, config)
        deadline = time.monotonic() + 600
        while not (job := store.get(job.id)).status.terminal:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return job
    finally:
        runner.stop()


def test_prompts_are_answered_in_order_and_a_refused_one_does_not_stop_the_batch(
        batch: BatchInference, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "operations.sqlite")
    job = run(store, batch, {"prompts": ["Say hello.", "What is 2 + 2?"], "expert": "general", "max_tokens": 4})
    assert job.status is JobStatus.COMPLETED, job.error
    assert job.result is not None and (job.result["count"], job.result["failed"]) == (2, 0)
    rows = [json.loads(line) for line in Path(job.result["output_file"]).read_text().splitlines()]
    assert [r["index"] for r in rows] == [0, 1] and all(r["text"] and r["expert"] == "general" for r in rows)
    refused = run(store, batch, {"prompts": ["hello"], "expert": "no_such_expert", "max_tokens": 2})
    assert refused.status is JobStatus.COMPLETED and refused.result is not None
    assert refused.result["failed"] == 1 and refused.result["outputs"][0]["error"]["code"] == 1000
    store.close()


def test_a_killed_job_resumes_after_its_last_complete_line(batch: BatchInference, datasets: DatasetStore,
                                                           tmp_path: Path) -> None:
    dataset = datasets.add(b"question,answer\nSay hi,hi\nSay yes,yes\nSay no,no\n", "q.csv")
    store = JobStore(tmp_path / "operations.sqlite")
    job = store.submit(BATCH_INFERENCE_JOB, {"dataset_id": dataset.id, "expert": "general", "max_tokens": 2})
    folder = tmp_path / "work" / f"job-{job.id}"   # what a killed attempt left: one line, half a second
    folder.mkdir(parents=True)
    (folder / OUTPUT_FILE).write_text(json.dumps({"index": 0, "prompt": "Say hi", "text": "hi", "expert": "general",
                                                  "finish_reason": "stop", "completion_tokens": 1}) + '\n{"index": 1')
    runner = JobRunner(store, {BATCH_INFERENCE_JOB: batch.kind()}, poll_s=0.05)
    runner.start()
    try:
        deadline = time.monotonic() + 600
        while not (job := store.get(job.id)).status.terminal:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        runner.stop()
    assert job.status is JobStatus.COMPLETED and job.result is not None and job.result["count"] == 3
    rows = [json.loads(line) for line in (folder / OUTPUT_FILE).read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["Say hi", "Say yes", "Say no"] and rows[0]["text"] == "hi"  # kept
    store.close()


def test_bad_configs_are_refused_at_submit(batch: BatchInference, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "operations.sqlite")
    runner = JobRunner(store, {BATCH_INFERENCE_JOB: batch.kind()})
    for config in ({}, {"prompts": []}, {"prompts": ["x"], "dataset_id": 1}, {"prompts": ["  "]},
                   {"prompts": ["x"], "temperature": 9}):
        with pytest.raises(InvalidRequest):
            runner.submit(BATCH_INFERENCE_JOB, config)
    with pytest.raises(NotFound):
        runner.submit(BATCH_INFERENCE_JOB, {"dataset_id": 999})
    assert store.list()[1] == 0
    store.close()
