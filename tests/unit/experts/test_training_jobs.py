"""Training an expert as a job of the job system: a real JobRunner on SQLite, the real base, tiny
runs. The job registers a version the service then serves; progress becomes METRIC lines and
seed 000's status; a cancel stops with a checkpoint and releases the expert; a runner that stops
mid-run leaves the job queued and the next runner resumes it from its checkpoint; what would
fail is refused at submit time with the Robot API's codes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from embodied_ai.datasets import DatasetStore
from embodied_ai.errors import EmbodiedError, ErrorCode, InvalidRequest
from embodied_ai.experts.base_build import BuiltBase
from embodied_ai.experts.engine import GenerationRequest
from embodied_ai.experts.service import ExpertService
from embodied_ai.experts.training_jobs import TRAINING_JOB, ExpertTraining
from embodied_ai.jobs import Job, JobRunner, JobStatus, JobStore, LogLevel

pytestmark = pytest.mark.timeout(1500)  # the first test may build the base into the cache

# LoRA on the top layer only, short rows: a step takes about a second on one core.
QUICK = {"max_steps": 4, "batch_size": 2, "save_steps": 1, "warmup_steps": 0, "learning_rate": 1e-3}


@pytest.fixture
def datasets(service: ExpertService) -> Iterator[DatasetStore]:
    store = DatasetStore(service.state_dir / "operations.sqlite", service.state_dir / "datasets")
    yield store
    store.close()


def _dataset(datasets: DatasetStore, expert: str, rows: int = 8) -> int:
    data = "".join(json.dumps({"prompt": f"what is {i} plus 1", "completion": str(i + 1)}) + "\n" for i in range(rows))
    return datasets.add(data.encode(), "sums.jsonl", expert=expert).id


@pytest.fixture
def training(service: ExpertService, base: BuiltBase, datasets: DatasetStore) -> ExpertTraining:
    return ExpertTraining(service.state_dir, service.registry, lambda: base, datasets)


@pytest.fixture
def store(service: ExpertService) -> Iterator[JobStore]:
    store = JobStore(service.state_dir / "operations.sqlite")
    yield store
    store.close()


def _runner(store: JobStore, training: ExpertTraining) -> JobRunner:
    runner = JobRunner(store, {TRAINING_JOB: training.kind()}, poll_s=0.1)
    runner.start()
    return runner


def _wait(store: JobStore, job_id: int, until: object, timeout_s: float = 600) -> Job:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = store.get(job_id)
        if until(job):  # type: ignore[operator]
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} is still {store.get(job_id).status}")


def test_a_training_job_registers_a_version_that_is_served(service: ExpertService, training: ExpertTraining,
                                                           store: JobStore, datasets: DatasetStore) -> None:
    service.registry.create("tiny_math", "Arithmetic", "math", status="ready")
    dataset = _dataset(datasets, "tiny_math")
    runner = _runner(store, training)
    try:
        job = runner.submit(TRAINING_JOB, {"expert_id": "tiny_math", "dataset_id": dataset, **QUICK})
        seen = {training.status(_wait(store, job.id, lambda j: j.status is JobStatus.RUNNING)).status}
        while not (current := store.get(job.id)).status.terminal:
            seen.add(training.status(current).status)
            time.sleep(0.02)
    finally:
        runner.stop()
    job = store.get(job.id)
    assert job.status is JobStatus.COMPLETED, job.error
    status = training.status(job)
    assert (status.status, status.current_step, training.version_of(job)) == ("completed", 4, 1)
    assert "running" in seen and "completed" not in seen   # "completed" only once the version exists
    metrics = [line for line in store.logs(job.id, limit=1000) if line.level is LogLevel.METRIC]
    assert [line.step for line in metrics] == [1, 2, 3, 4] and all(line.loss is not None for line in metrics)
    assert job.result is not None and job.result["version"] == 1 and job.result["dataset_id"] == dataset
    expert = service.registry.get("tiny_math")
    assert expert.status == "ready" and expert.current is not None and expert.current.kind == "adapter"
    served = service.generate(GenerationRequest("what is 2 plus 1", max_tokens=4), "tiny_math")
    assert served.route.expert == "tiny_math" and served.result.completion_tokens > 0


def test_a_cancelled_job_stops_with_a_checkpoint_and_releases_the_expert(
        service: ExpertService, training: ExpertTraining, store: JobStore, datasets: DatasetStore) -> None:
    service.registry.create("tiny_math", "Arithmetic", "math")
    dataset = _dataset(datasets, "tiny_math")
    runner = _runner(store, training)
    try:
        job = runner.submit(TRAINING_JOB, {"expert_id": "tiny_math", "dataset_id": dataset, **QUICK,
                                           "max_steps": 50})
        _wait(store, job.id, lambda j: training.status(j).current_step >= 2)
        assert service.registry.get("tiny_math").status == "training"
        runner.cancel(job.id)
        job = _wait(store, job.id, lambda j: j.status.terminal)
    finally:
        runner.stop()
    status = training.status(job)
    assert job.status is JobStatus.CANCELLED and status.status == "stopped" and status.checkpoint
    assert 2 <= status.current_step < 50
    assert service.registry.get("tiny_math").status == "initializing"   # as before: it has no version


def test_a_job_paused_by_a_stopping_runner_resumes_from_its_checkpoint(
        service: ExpertService, training: ExpertTraining, store: JobStore, datasets: DatasetStore) -> None:
    service.registry.create("tiny_math", "Arithmetic", "math", status="ready")
    dataset = _dataset(datasets, "tiny_math")
    first = _runner(store, training)
    job = first.submit(TRAINING_JOB, {"expert_id": "tiny_math", "dataset_id": dataset, **QUICK, "max_steps": 6})
    _wait(store, job.id, lambda j: training.status(j).current_step >= 2)
    assert first.stop(timeout=120)
    paused = store.get(job.id)
    assert paused.status is JobStatus.QUEUED and service.registry.get("tiny_math").status == "training"
    reached = training.status(paused).current_step
    second = _runner(store, training)   # as the jobs node after a restart
    try:
        job = _wait(store, job.id, lambda j: j.status.terminal)
    finally:
        second.stop()
    status = training.status(job)
    assert job.status is JobStatus.COMPLETED, job.error
    assert status.current_step == 6 and any(line.startswith("resumed from checkpoint-") for line in status.recent_logs)
    steps = [line.step for line in store.logs(job.id, limit=1000) if line.level is LogLevel.METRIC]
    assert steps[-1] == 6 and steps.count(reached + 1) == 1   # it went on from the checkpoint, not from step 1
    assert service.registry.get("tiny_math").status == "ready"


def test_what_would_fail_is_refused_at_submit(service: ExpertService, training: ExpertTraining,
                                              store: JobStore, datasets: DatasetStore) -> None:
    service.registry.create("tiny_math", "Arithmetic", "math")
    runner = JobRunner(store, {TRAINING_JOB: training.kind()})
    cases = [({"expert_id": "nobody"}, ErrorCode.EXPERT_NOT_FOUND),
             ({"expert_id": "tiny_math"}, ErrorCode.DATASET_INVALID),                       # no dataset yet
             ({"expert_id": "tiny_math", "dataset_id": 999}, ErrorCode.DATASET_INVALID),    # no such dataset
             ({"expert_id": "tiny_math", "use_lora": False}, ErrorCode.TRAINING_FAILED),   # a LoRA expert, no shape
             ({"expert_id": "tiny_math", "use_lora": False, "d_model": 64, "n_layers": 1, "n_heads": 3},
              ErrorCode.EXPERT_CREATION_FAILED)]
    for config, code in cases:
        with pytest.raises(EmbodiedError) as refused:
            runner.submit(TRAINING_JOB, config)
        assert refused.value.code is code, config
    with pytest.raises(InvalidRequest) as bad:
        runner.submit(TRAINING_JOB, {"expert_id": "tiny_math", "batch_size": -1, "colour": "red"})
    assert len(bad.value.problems) == 2
    dataset = _dataset(datasets, "tiny_math")
    service.registry.set_status("tiny_math", "training")
    with pytest.raises(EmbodiedError) as busy:
        runner.submit(TRAINING_JOB, {"expert_id": "tiny_math", "dataset_id": dataset})
    assert busy.value.code is ErrorCode.EXPERT_NOT_READY
    assert store.list()[1] == 0   # nothing was stored


def test_experts_left_training_by_jobs_that_will_not_resume_are_released(
        service: ExpertService, training: ExpertTraining, store: JobStore) -> None:
    service.registry.create("orphan", "x", status="ready")
    service.registry.set_status("orphan", "training")
    service.registry.create("busy", "x", status="ready")
    service.registry.set_status("busy", "training")
    queued = store.submit(TRAINING_JOB, {"expert_id": "busy"})
    assert training.release_idle_experts([queued]) == ["orphan"]
    assert service.registry.get("orphan").status == "initializing"   # no version to serve
    assert service.registry.get("busy").status == "training"
