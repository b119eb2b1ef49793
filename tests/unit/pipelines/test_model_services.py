"""The model services, real, on a tiny llama: a whole pipeline (dataset -> preprocessing -> LoRA training ->
evaluation -> export -> registration with an expert) run by real job runners on a real SQLite store,
stopped mid-training and resumed by a second runner; a cancel mid-training; full training from scratch;
and the clear refusals (exact_match on plain text, adapter formats of a fully trained model)."""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from embodied_ai.errors import InvalidRequest
from embodied_ai.experts.registry import ExpertRegistry
from embodied_ai.jobs import Job, JobContext, JobRunner, JobStatus, JobStore, LogLevel
from embodied_ai.model_registry import ModelKind, ModelRegistry
from embodied_ai.model_registry.store import file_sha256, tree_sha256
from embodied_ai.pipelines import (
    PIPELINE_JOB,
    AgentContext,
    DatasetAgent,
    DatasetAgentConfig,
    DatasetRef,
    EvaluationAgentConfig,
    ExportAgentConfig,
    PipelineServices,
    RegisterAgentConfig,
    TrainingAgentConfig,
    pipeline_job_kind,
)
from embodied_ai.pipelines.model_services import ModelBackends, model_services
from embodied_ai.pipelines.training_data import prepare_training_data
from tests.unit.jobs.conftest import Recorder
from tests.unit.pipelines.conftest import write_dataset
from tests.unit.tiny_models import tiny_lora_inputs

WAIT_S = 60.0
BASE_NAME = "tiny-llama"
ROBOT_QA = [
    {"question": "pick up the red cube", "answer": "the robot picks up the red cube"},
    {"question": "put it in the box", "answer": "it puts the cube in the box"},
    {"question": "move forward", "answer": "move forward one metre"},
    {"question": "turn left", "answer": "turn left"},
    {"question": "what is 12 + 30?", "answer": "42"},
    {"question": "say hello", "answer": "hello world"},
    {"question": "add a and b", "answer": "return a + b"},
    {"question": "where is the cube?", "answer": "in the box"},
]
TRAIN = {"mode": "lora", "lora_r": 4, "lora_alpha": 8, "batch_size": 2, "max_steps": 4, "learning_rate": 0.01,
         "validation_fraction": 0.25, "seed": 3}
# A model trained from scratch, small enough to train in a blink.
FULL_SHAPE = {"d_model": 32, "n_layers": 1, "n_heads": 2, "d_ff": 64}
MakeContext = Callable[..., AgentContext]


def chain(nodes: list[dict[str, Any]], run_id: str = "qa-run") -> dict[str, Any]:
    """A pipeline job's config: ``nodes`` in a line."""
    edges = [{"from_agent": a["agent_name"], "to_agent": b["agent_name"]} for a, b in zip(nodes, nodes[1:])]
    return {"pipeline_config": {"run_id": run_id, "nodes": nodes, "edges": edges,
                                "global_config": {"max_retries": 0}}}


def node(agent_name: str, agent_class: str, **config: Any) -> dict[str, Any]:
    return {"agent_name": agent_name, "agent_class": agent_class, "config": config}


DATA_NODES = [node("dataset", "DatasetAgent", file_path="robot.csv"),
              node("preprocessing", "PreprocessingAgent", template="chatml",
                   template_mapping={"instruction": "question", "output": "answer"})]
LORA_PIPELINE = chain([
    *DATA_NODES, node("train", "TrainingAgent", **TRAIN),
    node("evaluate", "EvaluationAgent", metrics=["loss", "perplexity", "exact_match"]),
    node("export", "ExportAgent", formats=["adapter", "merged", "gguf"]),
    node("register", "RegisterAgent", name="qa-model", description="robot commands", expert="robot_qa")])


def backends_on(tiny_base: Path, models: ModelRegistry, experts: ExpertRegistry | None = None) -> ModelBackends:
    return ModelBackends(base_hf_dir=lambda: tiny_base, base_name=BASE_NAME, models=models,
                         base_inputs=tiny_lora_inputs, experts=experts, full_shape=FULL_SHAPE, max_length=128)


def runner_on(store: JobStore, services: PipelineServices) -> JobRunner:
    return JobRunner(store, {PIPELINE_JOB: pipeline_job_kind(services, retry_delay_s=0.0)}, poll_s=0.2)


def in_step(job: Job, index: int, total: int) -> bool:
    """Whether the job's progress lies inside step ``index`` (0-based) of ``total``: the step reported some."""
    return index / total < job.progress < (index + 1) / total


def train_steps(store: JobStore, job_id: int) -> list[int | None]:
    return [line.step for line in store.logs(job_id, limit=1000)
            if line.agent == "train" and line.level is LogLevel.METRIC and line.loss is not None]


@dataclasses.dataclass(frozen=True)
class FinishedRun:
    store: JobStore
    job: Job
    services: PipelineServices
    models: ModelRegistry
    experts: ExpertRegistry
    messages: list[str]


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path) -> Iterator[FinishedRun]:
    """LORA_PIPELINE run by a runner that is stopped after the first logged training step (as when the jobs
    node shuts down), then resumed to the end by a second runner on the same database."""
    root = tmp_path_factory.mktemp("lora-run")
    write_dataset(root / "datasets", "csv", ROBOT_QA, name="robot")
    store = JobStore(root / "state" / "operations.sqlite")
    models = ModelRegistry(root / "state" / "operations.sqlite")
    experts = ExpertRegistry(root / "experts")
    services = PipelineServices(datasets_dir=root / "datasets", work_root=root / "work",
                                **model_services(backends_on(tiny_base, models, experts)))
    events = Recorder()
    store.on_event(events)
    first, second = runner_on(store, services), runner_on(store, services)
    stopper: list[threading.Thread] = []

    def stop_while_training(job: Job, event: str) -> None:
        if event == "job.progress" and in_step(job, 2, 6) and not stopper:
            generation = store.work_generation
            stopper.append(threading.Thread(target=first.stop, kwargs={"timeout": WAIT_S}))
            stopper[0].start()
            assert store.wait_for_work(generation, WAIT_S)     # stop() has raised the runner's flag
    store.on_event(stop_while_training)
    first.start()
    job = first.submit(PIPELINE_JOB, LORA_PIPELINE)
    events.wait(job.id, "job.requeued", WAIT_S)
    stopper[0].join(WAIT_S)
    assert list(store.finished_steps(job.id)) == ["dataset", "preprocessing"]
    second.start()
    events.wait(job.id, "job.completed", WAIT_S)
    messages = [line.message for line in store.logs(job.id, limit=1000)]
    yield FinishedRun(store, store.get(job.id), services, models, experts, messages)
    second.stop(timeout=WAIT_S)
    store.close()
    models.close()
    experts.close()


def test_a_pipeline_stopped_mid_training_resumes_and_completes(lora_run: FinishedRun) -> None:
    job = lora_run.job
    assert (job.status, job.attempts, job.progress) == (JobStatus.COMPLETED, 2, 1.0)
    assert job.result is not None
    assert [(s["agent_name"], s["attempts"]) for s in job.result["steps"]] == [
        ("dataset", 0), ("preprocessing", 0), ("train", 1), ("evaluate", 1), ("export", 1), ("register", 1)]
    # Each optimiser step logged once, with its loss: the second attempt went on from the checkpoint.
    assert train_steps(lora_run.store, job.id) == [1, 2, 3, 4]
    assert "Resuming training from checkpoint-2" in lora_run.messages
    assert "paused: the job runner stopped; the job resumes when it starts again" in lora_run.messages
    assert "step 'preprocessing' already finished: skipped" in lora_run.messages
    train = job.result["outputs"]["train"]
    assert (train["model"]["mode"], train["model"]["train_rows"], train["model"]["held_out_rows"]) == ("lora", 6, 2)
    assert Path(train["model"]["adapter_dir"], "adapter_model.safetensors").is_file()
    assert (train["metrics"]["step"], train["metrics"]["epoch"]) == (4, 1.333)
    assert math.isfinite(train["metrics"]["train_loss"])
    assert train["training_config"] == {**TRAIN, "epochs": 1, "base_model": BASE_NAME, "max_length": 128,
                                        "warmup_steps": 0, "lora_layers": [0, 1]}


def test_evaluation_measures_the_held_out_rows(lora_run: FinishedRun) -> None:
    assert lora_run.job.result is not None
    outputs = lora_run.job.result["outputs"]["evaluate"]
    metrics = outputs["metrics"]
    assert metrics["eval_examples"] == 2 and metrics["eval_tokens"] > 2
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["eval_loss"]), rel=1e-3)
    assert 0.0 <= metrics["exact_match"] <= 1.0
    assert len(outputs["exact_match_failures"]) == round(2 * (1 - metrics["exact_match"]))
    line = next(line for line in lora_run.store.logs(lora_run.job.id, limit=1000)
                if line.agent == "evaluate" and line.level is LogLevel.METRIC)
    assert line.values == metrics


def test_the_registered_model_has_every_export_and_the_expert(lora_run: FinishedRun) -> None:
    assert lora_run.job.result is not None
    outputs = lora_run.job.result["outputs"]
    model = lora_run.models.get("qa-model")
    assert outputs["register"] == {"model_id": model.id, "name": "qa-model", "version": 1,
                                   "expert": {"name": "robot_qa", "id": 1, "version": 1}}
    assert (model.kind, model.base_model, model.description) == (ModelKind.PIPELINE_OUTPUT, BASE_NAME,
                                                                 "robot commands")
    assert (model.source.job_id, model.source.run_id, model.source.dataset_id) == (lora_run.job.id, "qa-run", None)
    assert (model.source.expert_id, model.source.expert_version) == (1, 1)
    assert model.training_config == outputs["train"]["training_config"]
    assert model.metrics == {**outputs["train"]["metrics"], **outputs["evaluate"]["metrics"]}
    assert model.formats == ["adapter", "gguf", "merged", "onnx_adapter"]
    for artefact in model.artefacts:
        measured = tree_sha256(artefact.path) if artefact.is_dir else (artefact.path.stat().st_size,
                                                                       file_sha256(artefact.path))
        assert (artefact.bytes, artefact.sha256) == measured
    exports = outputs["export"]["exports"]
    assert lora_run.models.artefact(model.id, "gguf").sha256 == exports["gguf"]["sha256"]   # the exporter computed it
    checks = exports["gguf"]["checks"]
    assert checks["tokenizer_match"] is True and checks["max_abs_logit_diff"] <= checks["tolerance"]
    assert exports["merged"]["checks"]["max_abs_logit_diff"] <= exports["merged"]["checks"]["tolerance"]

    expert = lora_run.experts.get("robot_qa")
    assert (expert.status, expert.current_version, expert.config) == (
        "ready", 1, {"base_model": BASE_NAME, "max_tokens": 128})
    kind, path = lora_run.experts.artifact("robot_qa")
    assert kind == "adapter" and path is not None
    assert file_sha256(path) == lora_run.models.artefact(model.id, "onnx_adapter").sha256


def test_registering_again_finds_the_earlier_registration(lora_run: FinishedRun) -> None:
    """What a re-run of the register step after a crash (before its step was recorded) does."""
    store, job = lora_run.store, lora_run.job
    ctx = AgentContext(JobContext(store, job, threading.Event()), "register", "RegisterAgent", lora_run.services)
    finished = store.finished_steps(job.id)
    inputs = {name: finished[name] for name in ("dataset", "preprocessing", "train", "evaluate", "export")}
    config = RegisterAgentConfig(name="qa-model", description="robot commands", expert="robot_qa")
    assert lora_run.services.register is not None
    assert lora_run.services.register(ctx, config, inputs) == finished["register"]
    assert lora_run.models.list(name="qa-model")[1] == 1
    assert [v.version for v in lora_run.experts.get("robot_qa").versions] == [1]


def test_a_cancel_mid_training_stops_it_with_a_checkpoint(store: JobStore, services: PipelineServices,
                                                          tiny_base: Path, tmp_path: Path) -> None:
    write_dataset(services.datasets_dir, "csv", ROBOT_QA, name="robot")
    models = ModelRegistry(store.db_path)
    provided = dataclasses.replace(services, **model_services(backends_on(tiny_base, models)))
    events = Recorder()
    store.on_event(events)

    def cancel_while_training(job: Job, event: str) -> None:      # what DELETE /jobs/{id} does
        if event == "job.progress" and in_step(job, 2, 3) and not job.cancel_requested:
            store.request_cancel(job.id)
    store.on_event(cancel_while_training)
    runner = runner_on(store, provided)
    runner.start()
    try:
        job = runner.submit(PIPELINE_JOB, chain([*DATA_NODES, node("train", "TrainingAgent", **TRAIN)]))
        events.wait(job.id, "job.cancelled", WAIT_S)
    finally:
        runner.stop(timeout=WAIT_S)
        models.close()
    assert list(store.finished_steps(job.id)) == ["dataset", "preprocessing"]
    assert train_steps(store, job.id) == [1, 2]
    folder = services.work_dir(job.id) / "train"
    assert json.loads((folder / "status.json").read_text())["status"] == "stopped"
    assert (folder / "checkpoints" / "checkpoint-2" / "adapter_model.safetensors").is_file()
    assert not (folder / "output").exists()


def test_full_training_from_scratch_and_what_it_cannot_do(agent_ctx: MakeContext, services: PipelineServices,
                                                          store: JobStore, tiny_base: Path) -> None:
    (services.datasets_dir / "notes.txt").write_text("".join(f"{row['answer']}\n" for row in ROBOT_QA))
    models, experts = ModelRegistry(store.db_path), ExpertRegistry(services.work_root.parent / "experts")
    no_base = dataclasses.replace(backends_on(tiny_base, models, experts), base_inputs=None)   # no ONNX base served
    provided = dataclasses.replace(services, **model_services(no_base))
    assert provided.train and provided.evaluate and provided.export and provided.register
    inputs: dict[str, dict[str, Any]] = {
        "dataset": DatasetAgent(DatasetAgentConfig(file_path="notes.txt")).run(agent_ctx("dataset", on=provided), {})}
    inputs["train"] = provided.train(agent_ctx("train", on=provided), TrainingAgentConfig(
        mode="full", max_steps=2, batch_size=2, validation_fraction=0.25), inputs)
    model = inputs["train"]["model"]
    assert (model["mode"], model["train_rows"], model["held_out_rows"]) == ("full", 6, 2)
    assert json.loads(Path(model["model_dir"], "config.json").read_text())["hidden_size"] == 32
    recorded = inputs["train"]["training_config"]
    assert (recorded["shape"], recorded["base_model"], recorded["tokenizer"]) == (FULL_SHAPE, None, BASE_NAME)

    loss = provided.evaluate(agent_ctx("evaluate", on=provided), EvaluationAgentConfig(max_samples=1), inputs)
    assert loss["metrics"]["eval_examples"] == 1 and math.isfinite(loss["metrics"]["eval_loss"])
    with pytest.raises(InvalidRequest, match="exact_match needs rows with an answer") as caught:
        provided.evaluate(agent_ctx("evaluate", on=provided), EvaluationAgentConfig(metrics=["exact_match"]), inputs)
    assert "the held-out rows are plain text" in caught.value.problems[0]

    with pytest.raises(InvalidRequest, match="cannot export this model in every format asked") as caught:
        provided.export(agent_ctx("export", on=provided), ExportAgentConfig(formats=["gguf", "onnx_adapter"]), inputs)
    assert caught.value.problems == [
        "formats: 'onnx_adapter' needs a LoRA adapter, and this model was fully trained (mode full); export 'merged' "
        "or 'gguf'",
        "formats: 'onnx_adapter' is checked against the served ONNX base's LoRA inputs, and this runtime serves "
        "no base"]
    exports_dir = agent_ctx().work_dir / "exports"
    assert not exports_dir.exists()                 # refused before anything was written
    inputs["export"] = provided.export(agent_ctx("export", on=provided), ExportAgentConfig(formats=["gguf"]), inputs)
    assert inputs["export"]["exports"]["gguf"]["checks"]["tokenizer_match"] is True

    with pytest.raises(InvalidRequest, match="cannot make expert 'notes' of this model") as caught:
        provided.register(agent_ctx("register", on=provided), RegisterAgentConfig(name="notes", expert="notes"),
                          inputs)
    assert caught.value.problems == [
        "expert: 'notes' would serve the model as an adapter on the shared base, and this model was fully trained "
        "(mode full); register it without expert", "expert: this runtime serves no ONNX base for the expert's adapter"]
    assert models.list() == ([], 0)
    registered = provided.register(agent_ctx("register", on=provided), RegisterAgentConfig(name="notes"), inputs)
    assert models.get("notes").base_model == "" and registered["version"] == 1
    models.close()
    experts.close()


def test_exact_match_counts_the_answers_a_model_gives(agent_ctx: MakeContext, services: PipelineServices,
                                                     store: JobStore, tiny_base: Path, tmp_path: Path) -> None:
    """A small model that learnt two answers by heart is asked them again, one with another answer expected;
    case and spacing do not count."""
    learnt = [{"question": "say hello", "answer": "hello world"}, {"question": "turn left", "answer": "turn left now"}]
    path = write_dataset(tmp_path, "jsonl", learnt)
    models = ModelRegistry(store.db_path)
    provided = dataclasses.replace(services, **model_services(backends_on(tiny_base, models)))
    assert provided.train and provided.evaluate
    inputs: dict[str, dict[str, Any]] = {
        "dataset": {"dataset": DatasetRef(str(path), "jsonl", 2, ["question", "answer"]).to_dict()}}
    trained = provided.train(agent_ctx("train", on=provided), TrainingAgentConfig(
        mode="full", max_steps=60, batch_size=2, learning_rate=0.02, validation_fraction=0.0), inputs)
    asked = tmp_path / "asked.jsonl"
    asked.write_text(json.dumps({"prompt": "say hello", "completion": "  Hello   WORLD "}) + "\n"
                     + json.dumps({"prompt": "turn left", "completion": "turn right"}) + "\n")
    inputs["train"] = {"model": {**trained["model"], "held_out": str(asked), "held_out_rows": 2}}
    outputs = provided.evaluate(agent_ctx("evaluate", on=provided), EvaluationAgentConfig(
        metrics=["loss", "exact_match"]), inputs)
    assert outputs["metrics"]["exact_match"] == 0.5
    assert outputs["exact_match_failures"] == [
        {"prompt": "turn left", "expected": "turn right", "got": "turn left now"}]
    models.close()


def test_services_need_a_trained_model_upstream(agent_ctx: MakeContext, services: PipelineServices,
                                                store: JobStore, tiny_base: Path) -> None:
    models = ModelRegistry(store.db_path)
    provided = dataclasses.replace(services, **model_services(backends_on(tiny_base, models)))
    assert provided.evaluate is not None
    with pytest.raises(InvalidRequest, match="evaluate has no trained model") as caught:
        provided.evaluate(agent_ctx("evaluate", on=provided), EvaluationAgentConfig(), {"dataset": {}})
    assert caught.value.problems == [
        "evaluate: no node upstream of it trains a model; add an edge from a TrainingAgent"]
    models.close()


@pytest.mark.parametrize(("rows", "text_column", "expected"), [
    ([{"instruction": "Name a colour", "input": "", "output": "red"},
      {"instruction": "Translate", "input": "cat", "output": "chat"}], None,
     [{"prompt": "Name a colour", "completion": "red"}, {"prompt": "Translate\n\ncat", "completion": "chat"}]),
    ([{"question": "2 + 2?", "answer": 4, "topic": "math"}], "question", [{"prompt": "2 + 2?", "completion": "4"}]),
    ([{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}], None,
     [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]),
    ([{"body": "move forward one metre", "id": 7}], "body", [{"text": "move forward one metre"}]),
])
def test_a_table_becomes_training_rows(tmp_path: Path, rows: list[dict[str, Any]], text_column: str | None,
                                       expected: list[dict[str, Any]]) -> None:
    path = write_dataset(tmp_path, "jsonl", rows)
    ref = DatasetRef(path=str(path), format="jsonl", rows=len(rows), columns=list(rows[0]), text_column=text_column)
    data, errors = prepare_training_data(ref, tmp_path / "train.jsonl", tmp_path / "held_out.jsonl", 0.0, 0)
    assert errors == [] and (data.train_rows, data.held_out_rows) == (len(expected), 0)
    assert [json.loads(line) for line in data.train.read_text().splitlines()] == expected


def test_rows_without_an_answer_are_left_out_by_their_row(tmp_path: Path) -> None:
    rows = [{"question": f"q{i}", "answer": "" if i == 2 else f"a{i}"} for i in range(5)]
    path = write_dataset(tmp_path, "csv", rows)
    ref = DatasetRef(path=str(path), format="csv", rows=5, columns=["question", "answer"])
    data, errors = prepare_training_data(ref, tmp_path / "train.jsonl", tmp_path / "held_out.jsonl", 0.25, 1)
    assert [str(e) for e in errors] == ["row 4: field 'completion' is empty"]      # the CSV's row 4 (1: the header)
    assert (data.train_rows, data.held_out_rows) == (3, 1)
