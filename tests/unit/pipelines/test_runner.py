"""Pipelines run as jobs on a real SQLite store with real worker threads: dataset -> validation ->
preprocessing end to end on real files, retries, a resume after the job's process "died", cancel between
steps, refusal at submit, and each step's state for the DAG view."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from embodied_ai.errors import EmbodiedError, ErrorCode, InvalidRequest
from embodied_ai.experts.datasets import load_dataset
from embodied_ai.jobs import INTERNAL_ERROR, JobRunner, JobStatus, JobStore
from embodied_ai.pipelines import (
    PIPELINE_JOB,
    AgentContext,
    ExportAgentConfig,
    Inputs,
    PipelineServices,
    TrainingAgentConfig,
    pipeline_job_kind,
    pipeline_progress,
    upstream_dataset,
    validate_pipeline,
)
from tests.unit.jobs.conftest import Recorder
from tests.unit.pipelines.conftest import write_dataset

WAIT_S = 5.0
DATA_STEPS = ("dataset", "validation", "preprocessing")


def pipeline_config(file_path: str = "qa.csv", train: bool = False, max_retries: int = 2) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"agent_name": "dataset", "agent_class": "DatasetAgent", "config": {"file_path": file_path}},
        {"agent_name": "validation", "agent_class": "ValidationAgent",
         "config": {"required_columns": ["question"], "min_rows": 2}},
        {"agent_name": "preprocessing", "agent_class": "PreprocessingAgent",
         "config": {"template": "alpaca", "template_mapping": {"instruction": "question", "output": "answer"}}},
    ]
    edges = [{"from_agent": "dataset", "to_agent": "validation"},
             {"from_agent": "validation", "to_agent": "preprocessing"}]
    if train:
        nodes.append({"agent_name": "train", "agent_class": "TrainingAgent", "config": {"epochs": 2}})
        edges.append({"from_agent": "preprocessing", "to_agent": "train"})
    return {"pipeline_config": {"run_id": "abc123", "nodes": nodes, "edges": edges,
                                "global_config": {"max_retries": max_retries}}}


@pytest.fixture
def events(store: JobStore) -> Recorder:
    recorder = Recorder()
    store.on_event(recorder)
    return recorder


@pytest.fixture
def runners(store: JobStore) -> Iterator[Callable[..., JobRunner]]:
    """Makes pipeline runners (on ``store`` unless told otherwise) and stops them all at the end."""
    made: list[JobRunner] = []

    def make(services: PipelineServices, on: JobStore | None = None, start: bool = True) -> JobRunner:
        runner = JobRunner(on or store, {PIPELINE_JOB: pipeline_job_kind(services, retry_delay_s=0.0)}, poll_s=0.2)
        made.append(runner)
        if start:
            runner.start()
        return runner
    yield make
    for runner in made:
        runner.stop(timeout=WAIT_S)


def log_of(store: JobStore, job_id: int) -> list[tuple[str, str, str]]:
    return [(line.level.value, line.agent, line.message) for line in store.logs(job_id, limit=1000)]


def test_dataset_validation_preprocessing_end_to_end(store: JobStore, events: Recorder, services: PipelineServices,
                                                     runners: Callable[..., JobRunner]) -> None:
    write_dataset(services.datasets_dir, "csv")
    runner = runners(services)
    job = runner.submit(PIPELINE_JOB, pipeline_config())
    events.wait(job.id, "job.completed")
    done = store.get(job.id)
    assert (done.status, done.progress, done.attempts) == (JobStatus.COMPLETED, 1.0, 1)
    assert done.result is not None
    assert [(s["agent_name"], s["agent_class"], s["state"], s["attempts"]) for s in done.result["steps"]] == [
        ("dataset", "DatasetAgent", "completed", 1), ("validation", "ValidationAgent", "completed", 1),
        ("preprocessing", "PreprocessingAgent", "completed", 1)]
    outputs = done.result["outputs"]
    assert outputs["validation"]["invalid_rows"] == 0
    assert outputs["preprocessing"]["stats"]["output_rows"] == 3
    written = Path(outputs["preprocessing"]["dataset"]["path"])
    assert written == services.work_dir(job.id) / "preprocessing.jsonl"
    assert load_dataset(written).stats.rows == 3
    assert store.finished_steps(job.id) == outputs

    lines = log_of(store, job.id)
    assert lines[0] == ("INFO", "", "Pipeline abc123: 3 steps, dataset, validation, preprocessing")
    for name, cls in zip(DATA_STEPS, ("DatasetAgent", "ValidationAgent", "PreprocessingAgent")):
        mine = [message for _, agent, message in lines if agent == name]
        assert mine[0] == f"Starting {cls}" and mine[-1].startswith(f"{cls} finished in ")
    assert ("INFO", "dataset", "Dataset loaded: 5 rows") in lines
    assert lines[-1] == ("INFO", "", "completed")
    assert events.of(job.id).count("job.progress") == 3


def test_a_bad_pipeline_is_refused_at_submit_with_every_problem(store: JobStore, services: PipelineServices,
                                                                runners: Callable[..., JobRunner]) -> None:
    runner = runners(services, start=False)
    config = pipeline_config(file_path="../outside.csv", train=True)
    config["pipeline_config"]["edges"].append({"from_agent": "train", "to_agent": "dataset"})
    config["pipeline_config"]["nodes"][1]["agent_class"] = "ValidatorAgent"
    config["priority"] = 3
    with pytest.raises(InvalidRequest) as caught:
        runner.submit(PIPELINE_JOB, config)
    assert caught.value.code is ErrorCode.BAD_REQUEST
    assert caught.value.problems == [
        "priority: unknown field (a pipeline job has only pipeline_config and name)",
        "nodes[1] (validation).agent_class: unknown agent class 'ValidatorAgent' (known: DatasetAgent, "
        "ValidationAgent, PreprocessingAgent, TrainingAgent, EvaluationAgent, ExportAgent, RegisterAgent)",
        "edges: cycle dataset -> validation -> preprocessing -> train -> dataset",
        "nodes[0] (dataset): config.file_path: '../outside.csv' leads outside the datasets directory; only files "
        "inside it are read",
        "nodes[3] (train): TrainingAgent cannot run here: this runtime provides no training service"]
    with pytest.raises(InvalidRequest, match="invalid pipeline job") as caught:
        runner.submit(PIPELINE_JOB, {})
    assert caught.value.problems == ["pipeline_config: field required"]
    assert store.list() == ([], 0)


def test_a_failed_step_is_retried_with_a_warning(store: JobStore, events: Recorder, services: PipelineServices,
                                                 runners: Callable[..., JobRunner]) -> None:
    write_dataset(services.datasets_dir, "jsonl")
    calls: list[int] = []

    def train(ctx: AgentContext, config: TrainingAgentConfig, inputs: Inputs) -> dict[str, Any]:
        calls.append(config.epochs)
        rows = upstream_dataset(inputs, ctx.agent_name).rows
        if len(calls) == 1:
            raise RuntimeError("CUDA out of memory")
        ctx.metric("Training step completed", step=1, epoch=1.0, loss=1.85)
        return {"model": {"rows": rows}, "metrics": {"loss": 0.42, "step": 10, "epoch": 2.0}}
    runner = runners(dataclasses.replace(services, train=train))
    job = runner.submit(PIPELINE_JOB, pipeline_config(file_path="qa.jsonl", train=True))
    events.wait(job.id, "job.completed")
    result = store.get(job.id).result
    assert result is not None
    assert calls == [2, 2]
    assert result["outputs"]["train"]["model"] == {"rows": 3}
    assert [s["attempts"] for s in result["steps"]] == [1, 1, 1, 2]
    train_lines = [(level, message) for level, agent, message in log_of(store, job.id) if agent == "train"]
    assert train_lines[:3] == [
        ("INFO", "Starting TrainingAgent"),
        ("WARN", "TrainingAgent failed: RuntimeError: CUDA out of memory; retry 1 of 2"),
        ("INFO", "Starting TrainingAgent (retry 1 of 2)")]
    assert train_lines[3:5] == [("METRIC", "Training step completed"), ("METRIC", "TrainingAgent metrics")]
    metric = [line for line in store.logs(job.id) if line.agent == "train" and line.level.value == "METRIC"][-1]
    assert (metric.step, metric.epoch, metric.loss, metric.values) == (
        10, 2.0, 0.42, {"loss": 0.42, "step": 10, "epoch": 2.0})


@pytest.mark.parametrize(("error", "code", "message"), [
    (RuntimeError("disk full"), INTERNAL_ERROR,
     "internal error: StepFailed: step 'train' (TrainingAgent) failed after 3 attempts: RuntimeError: disk full"),
    (EmbodiedError("loss diverged", ErrorCode.TRAINING_FAILED), int(ErrorCode.TRAINING_FAILED),
     "step 'train' (TrainingAgent) failed after 3 attempts: loss diverged"),
])
def test_a_step_that_keeps_failing_fails_the_job(store: JobStore, events: Recorder, services: PipelineServices,
                                                 runners: Callable[..., JobRunner], error: Exception, code: int,
                                                 message: str) -> None:
    write_dataset(services.datasets_dir, "csv")
    tries: list[int] = []

    def train(ctx: AgentContext, config: TrainingAgentConfig, inputs: Inputs) -> dict[str, Any]:
        tries.append(1)
        raise error
    runner = runners(dataclasses.replace(services, train=train))
    job = runner.submit(PIPELINE_JOB, pipeline_config(train=True))
    events.wait(job.id, "job.failed")
    failed = store.get(job.id)
    assert failed.error == {"code": code, "message": message}
    assert len(tries) == 3
    levels = [level for level, agent, _ in log_of(store, job.id) if agent == "train"]
    assert levels == ["INFO", "WARN", "INFO", "WARN", "INFO", "ERROR"]
    assert failed.config == pipeline_config(train=True)
    pipeline = validate_pipeline(failed.config["pipeline_config"])
    progress = pipeline_progress(pipeline, failed.status, store.finished_steps(job.id))
    assert [s["state"] for s in progress["steps"]] == ["completed", "completed", "completed", "failed"]


def test_bad_data_is_not_retried(store: JobStore, events: Recorder, services: PipelineServices,
                                 runners: Callable[..., JobRunner]) -> None:
    (services.datasets_dir / "qa.parquet").write_text("question,answer\nq,a\n")
    runner = runners(services)
    job = runner.submit(PIPELINE_JOB, pipeline_config(file_path="qa.parquet"))
    events.wait(job.id, "job.failed")
    failed = store.get(job.id)
    assert failed.error == {"code": int(ErrorCode.DATASET_INVALID), "message": (
        "step 'dataset' (DatasetAgent) failed: qa.parquet is not a Parquet file: a Parquet file starts and ends "
        "with the bytes 'PAR1'")}
    assert [level for level, agent, _ in log_of(store, job.id) if agent == "dataset"] == ["INFO", "INFO", "ERROR"]
    progress = pipeline_progress(validate_pipeline(failed.config["pipeline_config"]), failed.status,
                                 store.finished_steps(job.id))
    assert [s["state"] for s in progress["steps"]] == ["failed", "skipped", "skipped"]


def test_a_resumed_job_does_not_run_finished_steps_again(store: JobStore, services: PipelineServices,
                                                         runners: Callable[..., JobRunner]) -> None:
    """The job's process "dies" while training (its runner is abandoned with the step stuck); a new store and
    runner on the same database resume the job from the training step."""
    write_dataset(services.datasets_dir, "csv")
    stuck, release = threading.Event(), threading.Event()
    seen: list[tuple[int, str]] = []

    def train(ctx: AgentContext, config: TrainingAgentConfig, inputs: Inputs) -> dict[str, Any]:
        attempt = ctx.job.job.attempts
        seen.append((attempt, upstream_dataset(inputs, ctx.agent_name).path))
        if attempt == 1:            # the first process dies here
            ctx.checkpoint({"epoch": 1})
            stuck.set()
            release.wait(WAIT_S)
        return {"model": "m", "resumed_from": ctx.last_checkpoint()}
    with_train = dataclasses.replace(services, train=train)
    first = runners(with_train)
    job = first.submit(PIPELINE_JOB, pipeline_config(train=True))
    assert stuck.wait(WAIT_S)
    assert first.stop(timeout=0.05) is False                 # the body did not stop: the job stays running

    second_store = JobStore(store.db_path)
    events = Recorder()
    second_store.on_event(events)
    second = runners(with_train, on=second_store, start=False)
    assert [(j.id, j.status) for j in second.start()] == [(job.id, JobStatus.QUEUED)]
    events.wait(job.id, "job.completed")
    done = second_store.get(job.id)
    assert done.result is not None and done.attempts == 2
    assert done.result["outputs"]["train"] == {"model": "m", "resumed_from": {"epoch": 1}}
    assert [s["attempts"] for s in done.result["steps"]] == [0, 0, 0, 1]      # 0: recorded, not run again
    preprocessed = str(services.work_dir(job.id) / "preprocessing.jsonl")
    assert seen == [(1, preprocessed), (2, preprocessed)]     # the recorded outputs were fed downstream
    messages = [message for _, _, message in log_of(second_store, job.id)]
    assert messages.count("Dataset loaded: 5 rows") == 1
    for name in DATA_STEPS:
        assert f"step '{name}' already finished: skipped" in messages

    # The abandoned body ends late: its attempt is stale and writes nothing.
    release.set()
    assert first.stop(timeout=WAIT_S) is True
    assert second_store.get(job.id) == done
    assert second_store.finished_steps(job.id)["train"] == done.result["outputs"]["train"]
    second_store.close()


def test_a_cancel_is_honoured_between_steps(store: JobStore, events: Recorder, services: PipelineServices,
                                            runners: Callable[..., JobRunner]) -> None:
    """A client cancels while training runs; the step finishes, and the export after it never starts."""
    write_dataset(services.datasets_dir, "csv")
    exported: list[str] = []

    def train(ctx: AgentContext, config: TrainingAgentConfig, inputs: Inputs) -> dict[str, Any]:
        store.request_cancel(ctx.job.job.id)         # what DELETE /jobs/{id} does, mid-step
        return {"model": "m"}

    def export(ctx: AgentContext, config: ExportAgentConfig, inputs: Inputs) -> dict[str, Any]:
        exported.append(ctx.agent_name)
        return {}
    runner = runners(dataclasses.replace(services, train=train, export=export))
    config = pipeline_config(train=True)
    config["pipeline_config"]["nodes"].append({"agent_name": "export", "agent_class": "ExportAgent"})
    config["pipeline_config"]["edges"].append({"from_agent": "train", "to_agent": "export"})
    job = runner.submit(PIPELINE_JOB, config)
    events.wait(job.id, "job.cancelled")
    assert exported == []
    cancelled = store.get(job.id)
    assert list(store.finished_steps(job.id)) == [*DATA_STEPS, "train"]
    progress = pipeline_progress(validate_pipeline(cancelled.config["pipeline_config"]), cancelled.status,
                                 store.finished_steps(job.id))
    assert [s["state"] for s in progress["steps"]] == ["completed"] * 4 + ["skipped"]


def test_step_states_for_the_dag_view() -> None:
    pipeline = validate_pipeline(pipeline_config()["pipeline_config"])
    done = {"dataset": {}}
    running = pipeline_progress(pipeline, "running", done)
    assert {k: running[k] for k in ("completed_agents", "current_agent", "total_agents")} == {
        "completed_agents": ["dataset"], "current_agent": "validation", "total_agents": 3}
    assert running["steps"] == [
        {"agent_name": "dataset", "agent_class": "DatasetAgent", "state": "completed", "upstream": []},
        {"agent_name": "validation", "agent_class": "ValidationAgent", "state": "running", "upstream": ["dataset"]},
        {"agent_name": "preprocessing", "agent_class": "PreprocessingAgent", "state": "pending",
         "upstream": ["validation"]}]
    assert running["edges"] == [{"from_agent": "dataset", "to_agent": "validation"},
                                {"from_agent": "validation", "to_agent": "preprocessing"}]
    states = {status: [s["state"] for s in pipeline_progress(pipeline, status, done)["steps"]]
              for status in ("queued", "failed", "cancelled")}
    assert states == {"queued": ["completed", "pending", "pending"], "failed": ["completed", "failed", "skipped"],
                      "cancelled": ["completed", "skipped", "skipped"]}
    finished = pipeline_progress(pipeline, JobStatus.COMPLETED, dict.fromkeys(DATA_STEPS, {}))
    assert (finished["current_agent"], [s["state"] for s in finished["steps"]]) == (None, ["completed"] * 3)
    assert json.loads(json.dumps(finished)) == finished
