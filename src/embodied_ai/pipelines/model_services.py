"""The model services of the pipelines, real: training, evaluation, export and registration of a model,
for the TrainingAgent, EvaluationAgent, ExportAgent and RegisterAgent.

    backends = ModelBackends(base_hf_dir=lambda: built.train_hf_dir, base_name=BASE_MODEL, models=registry,
                             base_inputs=lambda: set(built.lora_inputs), experts=expert_registry)
    services = PipelineServices(datasets_dir=..., work_root=..., **model_services(backends))

- ``train``: the upstream table as training rows, ``validation_fraction`` of them held out
  (`training_data`), then a `TrainingJob` in ``<work_dir>/<agent_name>`` run by
  `training_runs.run_training`: METRIC lines per logged step, stopped with a checkpoint on a cancel, and
  resumed from its newest checkpoint when the step runs again. ``lora``: a LoRA adapter on the shared base
  (its top layers, as the experts train theirs); ``full``: a small llama trained from scratch with the
  base's tokenizer, of ``ModelBackends.full_shape``. Outputs ``model`` (what later steps read),
  ``metrics`` and ``training_config``.
- ``evaluate``: on the held-out rows: ``eval_loss`` (mean loss per answer token) and ``perplexity`` on the
  tokens training puts its loss on, and ``exact_match``: the greedy answer equals the expected one
  (normalised). Asking exact_match of rows without answers (plain text) is an error, not a silent null.
- ``export``: each format with `exports.export.export` into ``<work_dir>/exports/<agent_name>/<format>``;
  a format the model cannot have (an adapter format of a fully trained model, onnx_adapter without the
  served base's LoRA inputs) fails the step before anything is written.
- ``register``: a ``pipeline_output`` version in the model registry with the metrics of every step before
  it and the exports as artefacts, and with ``expert`` a new version of that expert (its onnx_adapter, so
  the router serves it). A step run again after a crash finds what it registered (by job and agent) and
  registers nothing twice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from embodied_ai.errors import InvalidRequest
from embodied_ai.experts.datasets import write_records_jsonl
from embodied_ai.experts.evaluation import (
    completion_loss,
    expected_answer,
    generated_exact_match,
    load_causal_lm,
    read_rows,
)
from embodied_ai.experts.registry import ExpertNotFound, ExpertRegistry, ExpertVersion
from embodied_ai.experts.training import TrainingConfig, TrainingRequest
from embodied_ai.experts.training_runs import open_training_job, run_training
from embodied_ai.exports.export import ExportResult, export, load_export
from embodied_ai.exports.formats import GGUF, ONNX_ADAPTER, ExportFailed, export_format
from embodied_ai.jobs import LogLevel
from embodied_ai.model_registry import ModelKind, ModelRegistry, ModelSource, ModelVersion
from embodied_ai.pipelines.agents import AgentContext, Inputs, upstream, upstream_dataset
from embodied_ai.pipelines.model_agents import (
    EvaluationAgentConfig,
    ExportAgentConfig,
    RegisterAgentConfig,
    TrainingAgentConfig,
)
from embodied_ai.pipelines.training_data import TrainingData, prepare_training_data

# A model trained from scratch (mode full): TrainingJob's own small llama shape.
FULL_SHAPE: dict[str, int] = {"d_model": 128, "n_layers": 2, "n_heads": 4, "d_ff": 512}
# Tokens per training example (prompt + answer): room for an alpaca prompt and its answer.
MAX_LENGTH = 256
SHOWN_FAILURES = 5          # exact-match misses an evaluation's outputs show


@dataclass(frozen=True)
class ModelBackends:
    """What the model services work with."""

    base_hf_dir: Callable[[], Path]             # the shared base's HF folder (called when first needed)
    base_name: str                              # recorded as the models' base_model
    models: ModelRegistry
    # The served ONNX base's LoRA input names, against which an onnx_adapter is checked; None: this runtime
    # serves no base, and onnx_adapter exports (and RegisterAgent's expert) are refused.
    base_inputs: Callable[[], set[str]] | None = None
    experts: ExpertRegistry | None = None       # RegisterAgent's expert; None: ``expert`` is refused
    # The GGUF the base's tokenizer came from (base_build.locate_gguf): its tokenizer goes into gguf exports.
    tokenizer_gguf: Callable[[], Path] | None = None
    full_shape: Mapping[str, int] = field(default_factory=lambda: dict(FULL_SHAPE))
    max_length: int = MAX_LENGTH
    threads: int = 1                            # torch threads (one: measured fastest on the shared 2 cores)


class ModelServiceFunctions(TypedDict):
    """The PipelineServices fields `model_services` fills."""

    train: Callable[[AgentContext, TrainingAgentConfig, Inputs], dict[str, Any]]
    evaluate: Callable[[AgentContext, EvaluationAgentConfig, Inputs], dict[str, Any]]
    export: Callable[[AgentContext, ExportAgentConfig, Inputs], dict[str, Any]]
    register: Callable[[AgentContext, RegisterAgentConfig, Inputs], dict[str, Any]]


def model_services(backends: ModelBackends) -> ModelServiceFunctions:
    """The four model services on ``backends``, as keyword arguments of `PipelineServices`."""
    services = ModelServices(backends)
    return {"train": services.train, "evaluate": services.evaluate, "export": services.export,
            "register": services.register}


class ModelServices:
    """The services; each method is one PipelineServices field (``fn(ctx, config, inputs) -> outputs``)."""

    def __init__(self, backends: ModelBackends) -> None:
        self.backends = backends

    # -- train --------------------------------------------------------------------------
    def train(self, ctx: AgentContext, config: TrainingAgentConfig, inputs: Inputs) -> dict[str, Any]:
        backends = self.backends
        if config.base_model not in (None, backends.base_name):
            raise InvalidRequest(f"base model {config.base_model!r} is not available", [
                f"{ctx.agent_name}.config.base_model: pipelines train on the shared base {backends.base_name!r}"])
        folder = ctx.work_dir / ctx.agent_name
        train_path, held_out_path = ctx.output_path("-train.jsonl"), ctx.output_path("-held_out.jsonl")

        def new_request() -> TrainingRequest:
            ref = upstream_dataset(inputs, ctx.agent_name)
            data, errors = prepare_training_data(ref, train_path, held_out_path, config.validation_fraction,
                                                 config.seed, ctx.services.max_dataset_bytes)
            if errors:
                shown = "; ".join(str(e) for e in errors[:3]) + (f" (and {len(errors) - 3} more)"
                                                                 if len(errors) > 3 else "")
                ctx.log(LogLevel.WARN, f"{len(errors)} rows left out: {shown}")
            ctx.log(LogLevel.INFO, f"Training on {data.train_rows} rows, {data.held_out_rows} held out",
                    values={"train_rows": data.train_rows, "held_out_rows": data.held_out_rows})
            base = backends.base_hf_dir()
            return TrainingRequest(job_id=folder.name, expert=ctx.agent_name, dataset=data.train, base_hf_dir=base,
                                   config=self._training_config(config, base, data))

        job = open_training_job(folder, new_request)
        data = TrainingData.read(train_path, held_out_path)
        checkpoint = job.latest_checkpoint()
        if checkpoint is not None and job.status.status != "completed":
            ctx.log(LogLevel.INFO, f"Resuming training from {checkpoint.name}")
        status = run_training(ctx, job)
        used = job.request.config
        model: dict[str, Any] = {"mode": "lora" if used.use_lora else "full",
                                 "adapter_dir" if used.use_lora else "model_dir": str(job.output_dir),
                                 "base_hf_dir": str(job.request.base_hf_dir), "held_out": str(data.held_out),
                                 "train_rows": data.train_rows, "held_out_rows": data.held_out_rows,
                                 "max_length": used.max_length}
        metrics = {"train_loss": status.current_loss, "best_train_loss": status.best_loss,
                   "step": status.current_step, "epoch": status.current_epoch}
        return {"model": model, "metrics": metrics, "training_config": self._recorded_config(config, used)}

    def _recorded_config(self, config: TrainingAgentConfig, used: TrainingConfig) -> dict[str, Any]:
        """The agent's config with what the run made of it (the registry's ``training_config``)."""
        recorded = {**config.model_dump(), "max_length": used.max_length, "warmup_steps": used.warmup_steps}
        if used.use_lora:
            return {**recorded, "base_model": self.backends.base_name,
                    "lora_layers": list(used.lora_layers) if used.lora_layers else None}
        return {**recorded, "base_model": None, "tokenizer": self.backends.base_name,
                "shape": dict(used.scratch_shape or {})}

    def _training_config(self, config: TrainingAgentConfig, base: Path, data: TrainingData) -> TrainingConfig:
        """The TrainingJob's config for the agent's: steps sized to the run (a log line, so a METRIC line,
        at least every tenth of it; warm-up at most a tenth), the layers the experts adapt."""
        defaults = TrainingConfig()
        steps = config.max_steps or math.ceil(data.train_rows / config.batch_size) * config.epochs
        lora = config.mode == "lora"
        return TrainingConfig(
            learning_rate=config.learning_rate, batch_size=config.batch_size, num_epochs=float(config.epochs),
            max_steps=config.max_steps or -1, warmup_steps=min(defaults.warmup_steps, steps // 10),
            log_steps=max(1, min(defaults.log_steps, steps // 10)), use_lora=lora, lora_rank=config.lora_r,
            lora_alpha=config.lora_alpha, lora_layers=_adapted_layers(base) if lora else None,
            max_length=self.backends.max_length, scratch_shape=None if lora else dict(self.backends.full_shape),
            seed=config.seed, threads=self.backends.threads)

    # -- evaluate -----------------------------------------------------------------------
    def evaluate(self, ctx: AgentContext, config: EvaluationAgentConfig, inputs: Inputs) -> dict[str, Any]:
        model = _trained_model(inputs, ctx.agent_name)
        rows = read_rows(Path(model["held_out"]))[:config.max_samples]
        if not rows:
            raise InvalidRequest("no held-out rows to evaluate", [
                f"{ctx.agent_name}: the training step held out no rows; set its validation_fraction above 0 "
                "(with at least two rows in the dataset)"])
        answers = [expected_answer(row) for row in rows] if "exact_match" in config.metrics else []
        if any(answer is None for answer in answers):
            raise InvalidRequest("exact_match needs rows with an answer", [
                f"{ctx.agent_name}.config.metrics: 'exact_match' compares answers, and the held-out rows are "
                "plain text; drop it, or give rows with prompt/completion, instruction/output, question/answer or "
                "messages (a PreprocessingAgent template makes them)"])
        lm, tokenizer = self._load(model)
        metrics: dict[str, Any] = {"eval_examples": len(rows)}
        if {"loss", "perplexity"} & set(config.metrics):
            rows_path = Path(model["held_out"])
            if config.max_samples is not None and config.max_samples < int(model["held_out_rows"]):
                rows_path = ctx.output_path("-rows.jsonl")
                write_records_jsonl(rows_path, rows)
            figures = completion_loss(lm, tokenizer, rows_path, int(model["max_length"]))
            if "loss" in config.metrics:
                metrics["eval_loss"] = figures["mean_nll"]
            if "perplexity" in config.metrics:
                metrics["perplexity"] = figures["perplexity"]
            metrics["eval_tokens"] = figures["tokens"]
            ctx.log(LogLevel.INFO, f"Held-out loss {figures['mean_nll']} over {figures['tokens']} tokens")
        outputs: dict[str, Any] = {"metrics": metrics}
        if answers:
            ctx.raise_if_cancelled()

            def on_row(done: int) -> None:
                ctx.raise_if_cancelled()
                ctx.progress(done / len(answers))
            report = generated_exact_match(lm, tokenizer, [a for a in answers if a is not None], on_row=on_row)
            metrics["exact_match"] = round(report.exact_rate, 4)
            outputs["exact_match_failures"] = report.failures[:SHOWN_FAILURES]
        return outputs

    def _load(self, model: Mapping[str, Any]) -> tuple[Any, Any]:
        base = Path(model["base_hf_dir"])
        if model["mode"] == "lora":
            return load_causal_lm(base, Path(model["adapter_dir"]), threads=self.backends.threads)
        return load_causal_lm(Path(model["model_dir"]), tokenizer_dir=base, threads=self.backends.threads)

    # -- export -------------------------------------------------------------------------
    def export(self, ctx: AgentContext, config: ExportAgentConfig, inputs: Inputs) -> dict[str, Any]:
        model = _trained_model(inputs, ctx.agent_name)
        problems = [p for name in config.formats for p in self._format_problems(name, model)]
        if problems:
            raise InvalidRequest(f"{ctx.agent_name} cannot export this model in every format asked", problems)
        exports: dict[str, Any] = {}
        for index, name in enumerate(config.formats):
            ctx.raise_if_cancelled()
            ctx.progress(index / len(config.formats), f"Exporting {name} ({index + 1} of {len(config.formats)})")
            result = self._export(ctx, name, model)
            exports[name] = _described(result)
            ctx.log(LogLevel.INFO, f"Exported {name}: {result.bytes} bytes, sha256 {result.sha256[:12]}",
                    values={"format": name, "bytes": result.bytes, "checks": result.checks})
        return {"exports": exports}

    def _format_problems(self, name: str, model: Mapping[str, Any]) -> list[str]:
        spec = export_format(name)
        problems = []
        if spec.needs_adapter and model["mode"] != "lora":
            problems.append(f"formats: {name!r} needs a LoRA adapter, and this model was fully trained (mode full); "
                            "export 'merged' or 'gguf'")
        if name == ONNX_ADAPTER and self.backends.base_inputs is None:
            problems.append("formats: 'onnx_adapter' is checked against the served ONNX base's LoRA inputs, and this "
                            "runtime serves no base")
        return problems

    def _export(self, ctx: AgentContext, name: str, model: Mapping[str, Any]) -> ExportResult:
        backends = self.backends
        lora = model["mode"] == "lora"
        return export(name, base_hf_dir=Path(model["base_hf_dir"]),
                      adapter_dir=Path(model["adapter_dir"]) if lora else None,
                      model_dir=None if lora else Path(model["model_dir"]),
                      out_dir=_export_dir(ctx, name),
                      tokenizer_gguf=backends.tokenizer_gguf() if name == GGUF and backends.tokenizer_gguf else None,
                      base_inputs=backends.base_inputs() if name == ONNX_ADAPTER and backends.base_inputs else None)

    # -- register -----------------------------------------------------------------------
    def register(self, ctx: AgentContext, config: RegisterAgentConfig, inputs: Inputs) -> dict[str, Any]:
        model = _trained_model(inputs, ctx.agent_name)
        exports: dict[str, Any] = dict(upstream(inputs, "exports") or {})
        if config.expert is not None:
            problems = self._expert_problems(config.expert, model)
            if problems:
                raise InvalidRequest(f"{ctx.agent_name} cannot make expert {config.expert!r} of this model", problems)
        job = ctx.job.job
        found, _ = self.backends.models.list(kind=ModelKind.PIPELINE_OUTPUT, name=config.name, job_id=job.id, limit=1)
        registered: ModelVersion | None = found[0] if found else None
        if config.expert is not None and ONNX_ADAPTER not in exports:
            exports[ONNX_ADAPTER] = _described(self._expert_adapter(ctx, model))
        expert: dict[str, Any] | None = None
        if registered is not None:
            ctx.log(LogLevel.INFO, f"Model {registered.ref} ({registered.id}) was registered by an earlier attempt")
            if config.expert is not None and registered.source.expert_id is not None:
                expert = {"name": config.expert, "id": registered.source.expert_id,
                          "version": registered.source.expert_version}
        else:
            if config.expert is not None:
                expert = self._expert_version(ctx, config.expert, model, Path(exports[ONNX_ADAPTER]["path"]),
                                              _metrics(inputs))
            dataset = upstream(inputs, "dataset")
            # The exports are recorded with the version, so a model.registered webhook lists them.
            registered = self.backends.models.register(
                config.name, ModelKind.PIPELINE_OUTPUT, description=config.description,
                base_model=self.backends.base_name if model["mode"] == "lora" else "",
                training_config=dict(upstream(inputs, "training_config") or {}), metrics=_metrics(inputs),
                source=ModelSource(job_id=job.id, run_id=_run_id(job.config) or str(job.id),
                                   dataset_id=dataset.get("dataset_id") if isinstance(dataset, Mapping) else None,
                                   expert_id=expert["id"] if expert else None,
                                   expert_version=expert["version"] if expert else None),
                artefacts={name: Path(made["path"]) for name, made in exports.items()})
            ctx.log(LogLevel.INFO, f"Registered model {registered.ref} ({registered.id})")
        for name, made in exports.items():
            if registered.artefact(name) is None:
                single = export_format(name).single_file
                self.backends.models.add_artefact(registered.id, name, Path(made["path"]),
                                                  expected_sha256=made["sha256"] if single else None)
        outputs: dict[str, Any] = {"model_id": registered.id, "name": registered.name, "version": registered.version}
        if expert is not None:
            outputs["expert"] = expert
        return outputs

    def _expert_problems(self, name: str, model: Mapping[str, Any]) -> list[str]:
        problems = []
        if model["mode"] != "lora":
            problems.append(f"expert: {name!r} would serve the model as an adapter on the shared base, and this "
                            "model was fully trained (mode full); register it without expert")
        if self.backends.experts is None:
            problems.append("expert: this runtime has no expert registry")
        if self.backends.base_inputs is None:
            problems.append("expert: this runtime serves no ONNX base for the expert's adapter")
        if self.backends.experts is not None and not problems:
            try:
                existing = self.backends.experts.get(name)
            except ExpertNotFound:
                return problems
            if "d_model" in existing.config:
                problems.append(f"expert: {name!r} is a model of its own (d_model {existing.config['d_model']}), "
                                "not an adapter on the shared base")
        return problems

    def _expert_adapter(self, ctx: AgentContext, model: Mapping[str, Any]) -> ExportResult:
        """The onnx_adapter an expert serves, when no ExportAgent made one: the one an earlier attempt of this
        step finished, else a new export."""
        try:
            return load_export(_export_dir(ctx, ONNX_ADAPTER))
        except ExportFailed:
            return self._export(ctx, ONNX_ADAPTER, model)

    def _expert_version(self, ctx: AgentContext, name: str, model: Mapping[str, Any], onnx_adapter: Path,
                        metrics: dict[str, Any]) -> dict[str, Any]:
        """A new current version of expert ``name`` (created if missing) from the onnx_adapter; the one an
        earlier attempt of this step added, if it did."""
        experts = self.backends.experts
        assert experts is not None        # _expert_problems
        marker = {"pipeline_job": ctx.job.job.id, "pipeline_agent": ctx.agent_name}
        try:
            record = experts.get(name)
        except ExpertNotFound:
            record = experts.create(name, category="general",
                                    config={"base_model": self.backends.base_name, "max_tokens": 128})
            ctx.log(LogLevel.INFO, f"Created expert {name!r}")
        earlier: ExpertVersion | None = next(
            (v for v in record.versions if all(v.config.get(k) == marker[k] for k in marker)), None)
        if earlier is None:
            earlier = experts.add_version(record.id, "adapter", onnx_adapter,
                                          config={**marker, "peft": model["adapter_dir"]},
                                          metrics=metrics, note=f"pipeline job {ctx.job.job.id}, {ctx.agent_name}")
            ctx.log(LogLevel.INFO, f"Expert {name!r} version {earlier.version} added")
        if record.status == "initializing":
            experts.set_status(record.id, "ready")
        return {"name": record.name, "id": record.id, "version": earlier.version}


def _trained_model(inputs: Inputs, agent: str) -> Mapping[str, Any]:
    """What the nearest upstream TrainingAgent made; InvalidRequest naming ``agent`` when none did."""
    model = upstream(inputs, "model")
    if not isinstance(model, Mapping) or model.get("mode") not in ("lora", "full"):
        raise InvalidRequest(f"{agent} has no trained model", [
            f"{agent}: no node upstream of it trains a model; add an edge from a TrainingAgent"])
    return model


def _metrics(inputs: Inputs) -> dict[str, Any]:
    """The ``metrics`` of every upstream step, merged in the order they ran (a later name wins)."""
    merged: dict[str, Any] = {}
    for outputs in inputs.values():
        if isinstance(outputs.get("metrics"), Mapping):
            merged.update(outputs["metrics"])
    return merged


def _run_id(job_config: Mapping[str, Any]) -> str | None:
    pipeline = job_config.get("pipeline_config")
    run_id = pipeline.get("run_id") if isinstance(pipeline, Mapping) else None
    return run_id if isinstance(run_id, str) and run_id else None


def _export_dir(ctx: AgentContext, format: str) -> Path:
    return ctx.work_dir / "exports" / ctx.agent_name / format


def _described(result: ExportResult) -> dict[str, Any]:
    return {"path": str(result.path), "bytes": result.bytes, "sha256": result.sha256, "checks": result.checks}


def _adapted_layers(base_hf_dir: Path) -> tuple[int, ...] | None:
    """The layers a LoRA adapts: the experts' default (the base's top layers) when the base has them, else
    as many top layers of this base (a smaller base)."""
    default = TrainingConfig().lora_layers
    if default is None:
        return None
    layers = int(json.loads((base_hf_dir / "config.json").read_text())["num_hidden_layers"])
    if max(default) < layers:
        return default
    return tuple(range(max(0, layers - len(default)), layers))
