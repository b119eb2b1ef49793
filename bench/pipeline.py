"""Fine-tuning pipeline overhead: a pipeline job (DatasetAgent -> PreprocessingAgent -> TrainingAgent) run
by the job system, against the same training steps run directly, measured in the same run.

Measured: a pipeline job through a real JobStore (SQLite, in a temporary folder) and JobRunner with
`pipeline_job_kind(PipelineServices(..., **model_services(ModelBackends(...))))`, as the jobs node builds
it: reading a JSONL of robot commands (instruction / output), rendering the alpaca template, then a LoRA
training on the shared base. Timed from `runner.submit` to the job's `job.completed` event.

Baseline: a plain `TrainingJob` with the very rows file and `TrainingConfig` that the pipeline's training
step wrote (its folder's `request.json`: same steps, batch, LoRA layers and rank, max_length, threads=1,
seed), in a fresh folder; timed from creating the job (it copies its rows, as the pipeline's does) to the
end of `job.run()`. Both train with one torch thread, so their loss curves are expected to be identical
(`same_losses` in the results says whether they were).

Figures for each side: wall time; the training run's own time (`TrainingStatus.elapsed_seconds`: model
load, steps, saving the adapter); the time per optimiser step, from the moments of the logged steps
(the pipeline's METRIC lines, the direct job's progress callbacks, both made at the same point of a
step) between the first and the last logged step; and the time outside the training run, whose
difference is what the pipeline adds around training, free of the training's own run-to-run noise (on a
shared machine far larger than the pipeline's cost). Ratios are pipeline / direct, per repeat (the two runs
of a repeat are back to back); the headline is the median over the repeats. An untimed pipeline run
comes first (it warms imports, the page cache and torch, and gives the baseline its rows and config); then
each repeat runs both, direct first in even repeats and pipeline first in odd ones, so a drift in the
machine's load falls on both sides alike. Load averages are recorded at the start, after each repeat
and at the end.

Run: .venv/bin/python bench/pipeline.py [--repeats 3] [--steps 20] [--batch-size 4] [--rows 96]
     [--tiny] [--out bench/results/pipeline.json]
``--tiny`` trains a tiny random llama (tests/unit/tiny_models.py) instead of the shared base, for a
smoke run of a few seconds; its figures say nothing about the real overhead.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))      # tests.unit.tiny_models, for --tiny
sys.path.insert(0, str(REPO / "bench"))

from _results import git_state, load  # noqa: E402 - what every bench records, beside this file

from embodied_ai.database import MAX_PAGE  # noqa: E402
from embodied_ai.experts.datasets import write_records_jsonl  # noqa: E402
from embodied_ai.experts.training import TrainingJob, TrainingRequest, TrainingStatus  # noqa: E402
from embodied_ai.jobs import Job, JobRunner, JobStatus, JobStore, LogLevel  # noqa: E402
from embodied_ai.model_registry import ModelRegistry  # noqa: E402
from embodied_ai.pipelines import PIPELINE_JOB, PipelineServices, pipeline_job_kind  # noqa: E402
from embodied_ai.pipelines.model_services import ModelBackends, model_services  # noqa: E402

TARGET = 1.05                       # the target: pipeline / direct at most this
TRAIN_AGENT = "train"               # the pipeline's training node
DATASET_FILE = "commands.jsonl"
TINY_MAX_LENGTH = 128               # the tiny llama's max_position_embeddings
WAIT_S = 3600.0                     # the longest a pipeline job may take before the bench gives up


@dataclasses.dataclass(frozen=True)
class Timing:
    """One run of one side."""

    wall_s: float
    training_s: float               # the TrainingJob's own elapsed_seconds
    step_s: float | None            # per optimiser step, between the first and last logged step
    steps: int
    losses: list[float]
    nodes_s: dict[str, float] = dataclasses.field(default_factory=dict)    # the pipeline's steps

    @property
    def outside_training_s(self) -> float:
        """Wall time around the training run: for the pipeline, submitting, claiming, the data steps, the
        rows' split, recording the steps; for the baseline, creating the job."""
        return self.wall_s - self.training_s

    def to_dict(self) -> dict[str, Any]:
        return {"wall_s": round(self.wall_s, 3), "training_s": round(self.training_s, 3),
                "outside_training_s": round(self.outside_training_s, 3),
                "step_s": None if self.step_s is None else round(self.step_s, 4), "steps": self.steps,
                "losses": self.losses, **({"nodes_s": self.nodes_s} if self.nodes_s else {})}


def command_rows(count: int) -> list[dict[str, str]]:
    """``count`` distinct robot commands (instruction) with the action they mean (output), deterministic."""
    colours = ["red", "green", "blue", "yellow", "white", "black"]
    things = ["cube", "ball", "cup", "block"]
    places = ["in the box", "on the tray", "next to the lamp", "on the shelf"]
    combos = list(itertools.product(colours, things, places))
    if not 1 <= count <= len(combos):
        raise SystemExit(f"--rows must be from 1 to {len(combos)}")
    return [{"instruction": f"Put the {colour} {thing} {place}.",
             "output": json.dumps({"action": "place", "object": f"{colour} {thing}", "target": place})}
            for colour, thing, place in combos[:count]]


def pipeline_request(steps: int, batch_size: int, seed: int, template: str = "alpaca") -> dict[str, Any]:
    """The pipeline job's config: dataset -> preprocessing (``template``) -> LoRA training."""
    nodes = [
        {"agent_name": "dataset", "agent_class": "DatasetAgent", "config": {"file_path": DATASET_FILE}},
        {"agent_name": "preprocessing", "agent_class": "PreprocessingAgent", "config": {"template": template}},
        {"agent_name": TRAIN_AGENT, "agent_class": "TrainingAgent",
         "config": {"mode": "lora", "max_steps": steps, "batch_size": batch_size, "seed": seed}},
    ]
    edges = [{"from_agent": a["agent_name"], "to_agent": b["agent_name"]} for a, b in zip(nodes, nodes[1:])]
    # No retries: a failed step fails the bench instead of adding a second training to a timing.
    return {"pipeline_config": {"run_id": "bench-pipeline", "nodes": nodes, "edges": edges,
                                "global_config": {"max_retries": 0}}}


def step_seconds(moments: list[tuple[float, int]]) -> float | None:
    """Seconds per step between the first and the last logged step; ``moments``: (time, step), the first
    moment of each step counts (a later line about the same step is not a step)."""
    first_of_step: dict[int, float] = {}
    for moment, step in moments:
        first_of_step.setdefault(step, moment)
    if len(first_of_step) < 2:
        return None
    first, last = min(first_of_step), max(first_of_step)
    return (first_of_step[last] - first_of_step[first]) / (last - first)


class PipelineSide:
    """The job system as the jobs node runs it, on temporary state: one store, one runner, the real model
    services, a datasets folder holding the rows."""

    def __init__(self, root: Path, backends: Callable[[ModelRegistry], ModelBackends]) -> None:
        state = root / "state"
        state.mkdir(parents=True)
        self.store = JobStore(state / "operations.sqlite")
        self.models = ModelRegistry(state / "operations.sqlite", artefact_root=state)
        self.services = PipelineServices(datasets_dir=root / "datasets", work_root=root / "work",
                                         **model_services(backends(self.models)))
        self.runner = JobRunner(self.store, {PIPELINE_JOB: pipeline_job_kind(self.services)})
        self._ended: dict[int, float] = {}
        self._changed = threading.Condition()
        self.store.on_event(self._on_event)
        self.runner.start()

    def _on_event(self, job: Job, event: str) -> None:
        if job.status.terminal:
            with self._changed:
                self._ended[job.id] = time.monotonic()
                self._changed.notify_all()

    def run(self, request: dict[str, Any]) -> tuple[Timing, TrainingJob]:
        """Submit ``request`` and wait for its end; its timing and its training step's TrainingJob."""
        started = time.monotonic()
        job = self.runner.submit(PIPELINE_JOB, request)
        with self._changed:
            if not self._changed.wait_for(lambda: job.id in self._ended, WAIT_S):
                raise SystemExit(f"pipeline job {job.id} did not end within {WAIT_S:.0f} s")
            wall = self._ended[job.id] - started
        job = self.store.get(job.id)
        if job.status is not JobStatus.COMPLETED or job.result is None:
            raise SystemExit(f"pipeline job {job.id} ended {job.status.value}: {job.error}")
        training = TrainingJob.load(self.services.work_dir(job.id) / TRAIN_AGENT)
        moments = [(_seconds(line.timestamp), line.step) for line in self._logs(job.id)
                   if line.agent == TRAIN_AGENT and line.level is LogLevel.METRIC and line.step is not None]
        nodes = {step["agent_name"]: step["seconds"] for step in job.result["steps"]}
        return Timing(wall, training.status.elapsed_seconds, step_seconds(moments), training.status.current_step,
                      training.status.train_loss, nodes), training

    def _logs(self, job_id: int) -> Iterator[Any]:
        after = 0
        while page := self.store.logs(job_id, after_seq=after, limit=MAX_PAGE):
            yield from page
            after = page[-1].seq

    def close(self) -> None:
        self.runner.stop(timeout=30.0)
        self.store.close()
        self.models.close()


def run_direct(template: TrainingRequest, jobs_root: Path, name: str) -> Timing:
    """The baseline: ``template`` (the pipeline's own request) as a plain TrainingJob named ``name``."""
    moments: list[tuple[float, int]] = []

    def on_progress(status: TrainingStatus) -> None:
        moments.append((time.monotonic(), status.current_step))

    started = time.monotonic()
    job = TrainingJob(dataclasses.replace(template, job_id=name), jobs_root)
    job.on_progress = on_progress
    status = job.run()
    wall = time.monotonic() - started
    if status.status != "completed":
        raise SystemExit(f"direct training {name} ended {status.status}: {status.error}")
    return Timing(wall, status.elapsed_seconds, step_seconds(moments), status.current_step, status.train_loss)


def _seconds(timestamp: str) -> float:
    return dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def _warm_up(base_hf_dir: Path) -> None:
    """Import what training imports and read the base's files once, so neither side pays for it first."""
    import peft  # noqa: F401
    import torch  # noqa: F401
    from transformers import Trainer  # noqa: F401

    for path in base_hf_dir.iterdir():
        if path.is_file():
            with path.open("rb") as handle:
                while handle.read(1 << 24):
                    pass


@contextmanager
def model_backends(tiny: bool, root: Path) -> Iterator[tuple[str, Path, Callable[[ModelRegistry], ModelBackends]]]:
    """The base's name and HF folder, and the backends on it: the shared base (built into the cache if it is
    not there yet) as the jobs node has them, or a tiny random llama."""
    if tiny:
        from tests.unit.tiny_models import build_tiny_base

        tiny_dir = root / "tiny-base"
        build_tiny_base(tiny_dir)
        yield "tiny-llama", tiny_dir, lambda models: ModelBackends(
            base_hf_dir=lambda: tiny_dir, base_name="tiny-llama", models=models, max_length=TINY_MAX_LENGTH)
        return
    from embodied_ai.experts.base_build import BASE_MODEL, build_base, locate_gguf

    built = build_base(progress=lambda line: print(f"base: {line}", flush=True))
    yield BASE_MODEL, built.train_hf_dir, lambda models: ModelBackends(
        base_hf_dir=lambda: built.train_hf_dir, base_name=BASE_MODEL, models=models,
        base_inputs=lambda: set(built.lora_inputs), tokenizer_gguf=locate_gguf)


def paired(direct: list[Timing], pipeline: list[Timing], field: str) -> list[float | None]:
    """pipeline / direct of ``field`` for each repeat."""
    ratios: list[float | None] = []
    for base, measured in zip(direct, pipeline):
        a, b = getattr(base, field), getattr(measured, field)
        ratios.append(None if a is None or b is None or a <= 0 else round(b / a, 4))
    return ratios


def median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 4) if known else None


@dataclasses.dataclass
class Measurements:
    base: str
    template: TrainingRequest           # the pipeline's training request, the baseline's too
    train_rows: int
    warmup: Timing
    direct: list[Timing] = dataclasses.field(default_factory=list)
    pipeline: list[Timing] = dataclasses.field(default_factory=list)
    orders: list[list[str]] = dataclasses.field(default_factory=list)
    loads: list[list[float]] = dataclasses.field(default_factory=list)     # after each repeat


def measure(args: argparse.Namespace, request: dict[str, Any]) -> Measurements:
    """The untimed pipeline run, then ``args.repeats`` pairs in alternating order."""
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as temporary:
        root = Path(temporary)
        with model_backends(args.tiny, root) as (base_name, base_hf_dir, backends):
            write_records_jsonl(root / "datasets" / DATASET_FILE, command_rows(args.rows))
            _warm_up(base_hf_dir)
            side = PipelineSide(root, backends)
            try:
                warmup, training = side.run(request)
                template = training.request
                found = Measurements(base_name, template, len(template.dataset.read_text().splitlines()), warmup)
                print(f"warm-up pipeline run: {warmup.wall_s:.1f} s ({warmup.steps} steps)", flush=True)
                for repeat in range(args.repeats):
                    order = ["direct", "pipeline"] if repeat % 2 == 0 else ["pipeline", "direct"]
                    for which in order:
                        gc.collect()
                        if which == "direct":
                            found.direct.append(run_direct(template, root / "direct", f"direct-{repeat}"))
                        else:
                            found.pipeline.append(side.run(request)[0])
                    found.orders.append(order)
                    found.loads.append(load())
                    print(f"repeat {repeat + 1}/{args.repeats} ({' then '.join(order)}): wall direct "
                          f"{found.direct[-1].wall_s:.2f} s, pipeline {found.pipeline[-1].wall_s:.2f} s; "
                          f"load {found.loads[-1][0]}", flush=True)
            finally:
                side.close()
    return found


def figures(found: Measurements) -> dict[str, Any]:
    """Medians of each side, pipeline / direct per repeat and their medians, and the verdict."""
    fields = ("wall_s", "training_s", "step_s", "outside_training_s")
    per_repeat = {field: paired(found.direct, found.pipeline, field) for field in fields[:3]}
    ratios = {"wall": median(per_repeat["wall_s"]), "training": median(per_repeat["training_s"]),
              "per_step": median(per_repeat["step_s"])}
    medians = {name: {field: median([getattr(t, field) for t in timings]) for field in fields}
               for name, timings in (("direct", found.direct), ("pipeline", found.pipeline))}
    # What the pipeline adds around the training run, free of the training's own noise (which on a shared
    # machine is far larger than the pipeline's cost): a lower bound of its overhead, which leaves out the
    # METRIC lines and progress it writes during training (those are in training_s).
    added = (medians["pipeline"]["outside_training_s"] or 0.0) - (medians["direct"]["outside_training_s"] or 0.0)
    wall = ratios["wall"]
    return {
        "medians": medians,
        "ratios_per_repeat": per_repeat,
        "ratios": ratios,
        "added_outside_training_s": round(added, 4),
        "added_outside_training_fraction": round(added / (medians["direct"]["wall_s"] or 1.0), 5),
        "target": TARGET,
        "meets_target": wall is not None and wall <= TARGET,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="measured pairs (after one untimed pipeline run)")
    parser.add_argument("--steps", type=int, default=20, help="optimiser steps of each training")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--rows", type=int, default=96, help="robot commands in the dataset (at most 96)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help="a tiny random llama instead of the shared base (smoke)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "pipeline.json")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.steps < 1 or args.batch_size < 1:
        parser.error("--repeats, --steps and --batch-size must be at least 1")

    load_start, started_at = load(), dt.datetime.now(dt.timezone.utc)
    print(f"load average at start: {load_start}", flush=True)
    # The tiny llama's 300-token tokenizer spells alpaca's long preamble out in more than its 128 positions,
    # which would cut every answer off (no loss to train on); chatml's short markers fit.
    request = pipeline_request(args.steps, args.batch_size, args.seed, "chatml" if args.tiny else "alpaca")
    found = measure(args, request)
    load_end = load()
    summary = figures(found)
    report = {
        "benchmark": "pipeline",
        "utc": started_at.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "load_average_start": load_start, "load_average_end": load_end,
        "load_average_after_each_repeat": found.loads,
        "git": git_state(),
        "config": {"base": found.base, "tiny": args.tiny, "repeats": args.repeats, "rows": args.rows,
                   "train_rows": found.train_rows, "pipeline": request,
                   "training_config": dataclasses.asdict(found.template.config)},
        "warmup_pipeline": found.warmup.to_dict(),
        "orders": found.orders,
        "direct": [t.to_dict() for t in found.direct],
        "pipeline": [t.to_dict() for t in found.pipeline],
        "same_losses": all(t.losses == found.warmup.losses for t in found.direct + found.pipeline),
        **summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    medians, ratios = summary["medians"], summary["ratios"]
    print(f"{'':12}{'direct':>10}{'pipeline':>10}{'ratio':>8}   (medians of {args.repeats})")
    for label, field, key in (("wall s", "wall_s", "wall"), ("training s", "training_s", "training"),
                              ("per step s", "step_s", "per_step"), ("outside s", "outside_training_s", "")):
        print(f"{label:12}{_shown(medians['direct'][field]):>10}{_shown(medians['pipeline'][field]):>10}"
              f"{_shown(ratios.get(key)):>8}")
    walls = [r for r in summary["ratios_per_repeat"]["wall_s"] if r is not None]
    print(f"outside training: the pipeline adds {summary['added_outside_training_s'] * 1000:.0f} ms "
          f"({summary['added_outside_training_fraction'] * 100:.2f} % of the direct run)")
    verdict = "meets" if summary["meets_target"] else "does NOT meet"
    print(f"pipeline / direct: wall {_shown(ratios['wall'])}x (repeats {_shown(min(walls))}-{_shown(max(walls))}), "
          f"training {_shown(ratios['training'])}x, per step {_shown(ratios['per_step'])}x; {verdict} the "
          f"<= {TARGET}x target; same losses: {report['same_losses']}; load {load_start[0]} -> {load_end[0]}; "
          f"{args.out}")
    return 0


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    sys.exit(main())
