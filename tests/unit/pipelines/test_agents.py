"""AgentContext (log lines with the agent's name, its share of progress, its own checkpoint) and the
helpers that find what upstream nodes made."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied_ai.errors import InvalidRequest
from embodied_ai.jobs import JobContext, JobStore
from embodied_ai.pipelines import (
    AgentContext,
    AttemptReplaced,
    DatasetRef,
    PipelineServices,
    upstream,
    upstream_dataset,
)


def test_the_context_logs_as_the_agent_and_reports_its_share_of_progress(
        job_ctx: JobContext, store: JobStore, services: PipelineServices) -> None:
    ctx = AgentContext(job_ctx, "train", "TrainingAgent", services, index=1, total=4)
    ctx.log("INFO", "Starting")
    ctx.metric("Training step completed", step=100, epoch=1.0, loss=1.85)
    ctx.progress(0.5, "half way")
    lines = store.logs(job_ctx.job.id)
    assert [(line.level.value, line.agent, line.message) for line in lines] == [
        ("INFO", "train", "Starting"), ("METRIC", "train", "Training step completed"), ("INFO", "train", "half way")]
    assert (lines[1].step, lines[1].epoch, lines[1].loss) == (100, 1.0, 1.85)
    assert store.get(job_ctx.job.id).progress == pytest.approx(0.375)       # (1 + 0.5) / 4
    assert ctx.work_dir == services.work_root / f"job-{job_ctx.job.id}" and ctx.work_dir.is_dir()
    assert ctx.output_path(".jsonl") == ctx.work_dir / "train.jsonl"
    assert not ctx.cancelled


def test_each_agent_sees_only_its_own_checkpoint(job_ctx: JobContext, services: PipelineServices) -> None:
    train = AgentContext(job_ctx, "train", "TrainingAgent", services)
    other = AgentContext(job_ctx, "evaluate", "EvaluationAgent", services)
    assert train.last_checkpoint() is None
    train.checkpoint({"epoch": 2})
    assert (train.last_checkpoint(), other.last_checkpoint()) == ({"epoch": 2}, None)


def test_a_replaced_attempt_stops_at_its_next_write(job_ctx: JobContext, store: JobStore,
                                                    services: PipelineServices) -> None:
    ctx = AgentContext(job_ctx, "train", "TrainingAgent", services)
    store.requeue(job_ctx.job.id, "resumed")        # what a recovery in another process does
    store.claim()
    with pytest.raises(AttemptReplaced):
        ctx.progress(0.5)
    with pytest.raises(AttemptReplaced):
        ctx.checkpoint({"epoch": 1})


def test_upstream_outputs_nearest_first(tmp_path: Path) -> None:
    raw = DatasetRef(str(tmp_path / "a.csv"), "csv", 3, ["q"], "q", "ds_1")
    clean = DatasetRef(str(tmp_path / "b.jsonl"), "jsonl", 2, ["text"], "text", "ds_1")
    inputs = {"dataset": {"dataset": raw.to_dict()}, "prep": {"dataset": clean.to_dict(), "stats": {}},
              "train": {"model": "m"}}
    assert upstream_dataset(inputs, "eval") == clean
    assert (upstream(inputs, "model"), upstream(inputs, "missing")) == ("m", None)
    assert DatasetRef.from_dict(raw.to_dict()) == raw
    with pytest.raises(InvalidRequest, match="eval has no dataset to read"):
        upstream_dataset({"train": {"model": "m"}}, "eval")
