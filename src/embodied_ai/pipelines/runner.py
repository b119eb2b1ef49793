"""Runs a pipeline as a job of the job system: its nodes in dependency order, each one a recorded step.

    kind = pipeline_job_kind(services)                 # JobRunner(store, {PIPELINE_JOB: kind})
    runner.submit(PIPELINE_JOB, {"pipeline_config": {...}})   # a bad pipeline: InvalidRequest, nothing stored

Each node's outputs are recorded as the job's step ``agent_name`` (``ctx.run_step``), so a job resumed
after its process died does not run a finished node again and feeds its recorded outputs downstream. A node that
fails is run again up to ``global_config.max_retries`` times (a WARN line each time), unless its error is
one a retry cannot fix (bad input or data: InvalidRequest, DATASET_INVALID, NotFound). The job's log gets
an INFO line with ``agent=<agent_name>`` when a node starts and ends, and a METRIC line with the
``metrics`` a node returns; its progress is finished nodes over all; a cancel is honoured between nodes
(and by agents that check it). ``pipeline_progress`` gives each node's state for a DAG view at any time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from embodied_ai.errors import Conflict, EmbodiedError, InvalidRequest, NotFound
from embodied_ai.experts.datasets import DatasetInvalidError
from embodied_ai.jobs import Job, JobCancelled, JobContext, JobKind, JobStatus, LogLevel
from embodied_ai.pipelines.agents import Agent, AgentContext, AttemptReplaced
from embodied_ai.pipelines.config import Pipeline, PipelineNode, validate_pipeline
from embodied_ai.pipelines.registry import AGENT_CLASSES
from embodied_ai.pipelines.services import PipelineServices

PIPELINE_JOB = "pipeline"            # the job type of pipelines
StepState = Literal["pending", "running", "completed", "failed", "skipped"]
# Errors of the request or the data: running the step again gives the same answer.
NOT_RETRIED: tuple[type[Exception], ...] = (InvalidRequest, DatasetInvalidError, NotFound, Conflict)
MAX_RETRY_DELAY_S = 30.0


class StepFailed(RuntimeError):
    """A node failed with an error that is not the Robot API's (a bug, a crash of a library)."""


def pipeline_request(job_config: Mapping[str, Any], agents: Mapping[str, type[Agent]] = AGENT_CLASSES,
                     services: PipelineServices | None = None) -> Pipeline:
    """The pipeline of a job's config, seed 004's request body ``{"pipeline_config": {...}}`` (and the
    job's ``name``, seed 002); InvalidRequest listing every problem."""
    problems = [f"{key}: unknown field (a pipeline job has only pipeline_config and name)" for key in job_config
                if key not in ("pipeline_config", "name")]
    if "pipeline_config" not in job_config:
        raise InvalidRequest("invalid pipeline job", [*problems, "pipeline_config: field required"])
    try:
        pipeline = validate_pipeline(job_config["pipeline_config"], agents, services)
    except InvalidRequest as error:
        raise InvalidRequest(error.message, problems + error.problems) from None
    if problems:
        raise InvalidRequest("invalid pipeline job", problems)
    return pipeline


def pipeline_job_kind(services: PipelineServices, agents: Mapping[str, type[Agent]] = AGENT_CLASSES,
                      retry_delay_s: float = 1.0, max_attempts: int = 3) -> JobKind:
    """The job kind that runs pipelines: resumable, and validated at submit (with the services' checks: the
    dataset exists, the services the pipeline needs are there) so a bad pipeline is refused before it is
    stored. ``retry_delay_s``: the pause before a node's first retry, doubling for each next one."""
    def validate(config: dict[str, Any]) -> None:
        pipeline_request(config, agents, services)

    def run(ctx: JobContext) -> dict[str, Any]:
        # Without the services' checks: a node that finished before a restart needs nothing from them again.
        return run_pipeline(ctx, pipeline_request(ctx.job.config, agents), services, retry_delay_s)

    def describe(job: Job, finished: Mapping[str, Any]) -> dict[str, Any]:
        return pipeline_progress(pipeline_request(job.config, agents), job.status, finished)

    return JobKind(run=run, resumable=True, validate=validate, max_attempts=max_attempts, describe=describe)


def run_pipeline(ctx: JobContext, pipeline: Pipeline, services: PipelineServices,
                 retry_delay_s: float = 1.0) -> dict[str, Any]:
    """Run every node in order; the result has each node's state, attempts and outputs. A node that fails
    for good fails the job with its error (named after the node); a cancel stops it between nodes."""
    total = len(pipeline.nodes)
    outputs: dict[str, dict[str, Any]] = {}
    attempts: dict[str, int] = {}
    seconds: dict[str, float] = {}
    finished = ctx.finished_steps
    name = f" {pipeline.run_id}" if pipeline.run_id else ""
    ctx.log(LogLevel.INFO, f"Pipeline{name}: {total} steps, {', '.join(pipeline.order)}")
    for index, node in enumerate(pipeline.nodes):
        ctx.raise_if_cancelled()
        inputs = {name: outputs[name] for name in node.ancestors}
        started = time.monotonic()
        if node.name in finished:
            outputs[node.name] = ctx.run_step(node.name, lambda: {})    # recorded: not run again
            attempts[node.name] = 0
        else:
            agent_ctx = AgentContext(ctx, node.name, node.agent_class, services, index, total)
            outputs[node.name], attempts[node.name] = _run_node(ctx, agent_ctx, node, inputs, pipeline.max_retries,
                                                                retry_delay_s)
        seconds[node.name] = round(time.monotonic() - started, 3)
        _fenced(lambda: ctx.progress((index + 1) / total))
    steps = [{"agent_name": node.name, "agent_class": node.agent_class, "state": "completed",
              "attempts": attempts[node.name], "seconds": seconds[node.name]} for node in pipeline.nodes]
    return {"run_id": pipeline.run_id, "steps": steps, "outputs": outputs}


def _run_node(ctx: JobContext, agent_ctx: AgentContext, node: PipelineNode, inputs: Mapping[str, Any],
              max_retries: int, retry_delay_s: float) -> tuple[dict[str, Any], int]:
    """The node's outputs and how many times it ran."""
    retries = 0
    while True:
        again = f" (retry {retries} of {max_retries})" if retries else ""
        ctx.log(LogLevel.INFO, f"Starting {node.agent_class}{again}", agent=node.name)
        started = time.monotonic()
        try:
            output = node.agent.run(agent_ctx, inputs)
        except JobCancelled:
            raise
        except Exception as error:
            if ctx.cancelled:
                raise JobCancelled(f"job {ctx.job.id} was cancelled") from error
            reason = _describe(error)
            if retries >= max_retries or isinstance(error, NOT_RETRIED):
                tries = f" after {retries + 1} attempts" if retries else ""
                ctx.log(LogLevel.ERROR, f"{node.agent_class} failed{tries}: {reason}", agent=node.name)
                raise _step_error(node, error, tries) from error
            retries += 1
            ctx.log(LogLevel.WARN, f"{node.agent_class} failed: {reason}; retry {retries} of {max_retries}",
                    agent=node.name)
            _pause(ctx, min(retry_delay_s * 2 ** (retries - 1), MAX_RETRY_DELAY_S))
            continue
        elapsed = time.monotonic() - started
        _record(ctx, node, output)
        metrics = output.get("metrics")
        if isinstance(metrics, Mapping) and metrics:
            ctx.log(LogLevel.METRIC, f"{node.agent_class} metrics", agent=node.name, step=_int(metrics.get("step")),
                    epoch=_number(metrics.get("epoch")), loss=_number(metrics.get("loss")), values=dict(metrics))
        ctx.log(LogLevel.INFO, f"{node.agent_class} finished in {elapsed:.2f} s", agent=node.name,
                values={"seconds": round(elapsed, 3)})
        return output, retries + 1


def pipeline_progress(pipeline: Pipeline, status: JobStatus | str,
                      finished: Mapping[str, Any]) -> dict[str, Any]:
    """Seed 004's ``progress`` of a pipeline job (``completed_agents``, ``current_agent``, ``total_agents``),
    with each node's state and the edges for a DAG view. ``status``: the job's; ``finished``: its finished
    steps (``JobStore.finished_steps``). Nodes run one at a time in order, so the first unfinished node is
    the one running (or the one that failed); after a failure or a cancel the rest are skipped."""
    status = JobStatus(status)
    completed = [name for name in pipeline.order if name in finished]
    current = next((name for name in pipeline.order if name not in finished), None)

    def state(name: str) -> StepState:
        if name in finished:
            return "completed"
        if name == current and status is JobStatus.RUNNING:
            return "running"
        if name == current and status is JobStatus.FAILED:
            return "failed"
        if status in (JobStatus.FAILED, JobStatus.CANCELLED):
            return "skipped"
        return "pending"

    return {
        "completed_agents": completed,
        "current_agent": current if status is JobStatus.RUNNING else None,
        "total_agents": len(pipeline.nodes),
        "steps": [{"agent_name": node.name, "agent_class": node.agent_class, "state": state(node.name),
                   "upstream": list(node.upstream)} for node in pipeline.nodes],
        "edges": [{"from_agent": source, "to_agent": target} for source, target in pipeline.edges],
    }


def _record(ctx: JobContext, node: PipelineNode, output: dict[str, Any]) -> None:
    """Record the node's outputs as its step (what a resumed job feeds downstream)."""
    try:
        _fenced(lambda: ctx.run_step(node.name, lambda: output))
    except InvalidRequest as error:     # the outputs are not JSON: a fault of the agent, not of the request
        raise StepFailed(f"step '{node.name}' ({node.agent_class}) returned outputs that are not JSON: "
                         f"{'; '.join(error.problems) or error.message}") from error


def _fenced(write: Callable[[], object]) -> None:
    """A write of the job's state; Conflict there means another attempt took the job over (a recovery after
    this process was thought dead): this one stops at once, writing nothing more (AttemptReplaced)."""
    try:
        write()
    except Conflict as error:
        raise AttemptReplaced(str(error)) from error


def _describe(error: Exception) -> str:
    return error.message if isinstance(error, EmbodiedError) else f"{type(error).__name__}: {error}"


def _step_error(node: PipelineNode, error: Exception, tries: str) -> Exception:
    """``error`` with the node named, keeping its code (and problems) for the job's error."""
    message = f"step '{node.name}' ({node.agent_class}) failed{tries}: {_describe(error)}"
    if isinstance(error, InvalidRequest):
        return InvalidRequest(message, error.problems, error.code)
    if isinstance(error, EmbodiedError):
        return EmbodiedError(message, error.code)
    return StepFailed(message)


def _pause(ctx: JobContext, seconds: float) -> None:
    """Wait ``seconds`` before a retry, stopping at once on a cancel."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ctx.raise_if_cancelled()
        time.sleep(min(left, 0.1))
    ctx.raise_if_cancelled()


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
