"""Training a skill's policy as a job (seed 001's training tasks): ``rl_training``.

The job's config is an ``RlTrainingConfig`` (the task id is the job id). The job:

    train     episode by episode (``q_learning``: ``QLearner``; ``dqn`` / ``ppo``: ``Sb3Learner``),
              a METRIC line and the progress per episode (``episodes.jsonl`` keeps them), a
              checkpoint every ``checkpoint_episodes`` in ``<work>/job-<id>/``; a cancel stops it
              with a checkpoint saved, and a job whose process was killed, or that the runner
              paused, resumes from its last checkpoint: episodes continue from there
    export    ``policy/policy.onnx`` and ``policy/policy.contract.json`` (``policy_export``),
              checked against the training-time policy (every observation of a discrete task,
              1 000 within a box observation's bounds): any different action fails the job
    register  a ``policy`` in the model registry (status ``trained``) with both files as
              artefacts (``onnx_policy``, ``contract``), the training record and its metrics

The result carries seed 001's status fields (``current_episode``, ``total_episodes``,
``metrics.episode_rewards`` / ``episode_steps`` / ``episode_latencies``), the success rate over
the last ``SUCCESS_WINDOW`` episodes and the registered policy's ``model_id``. ``status(job)`` is
seed 001's view of a task while it runs and after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.exports.formats import ExportFailed
from embodied_ai.jobs.models import Job, JobStatus, LogLevel
from embodied_ai.jobs.runner import JobCancelled, JobContext, JobKind
from embodied_ai.model_registry.store import ModelKind, ModelRegistry, ModelSource
from embodied_ai.skills import register_envs
from embodied_ai.skills.episodes import EpisodeLog, EpisodeRecord
from embodied_ai.skills.policy_export import (
    CONTRACT_FORMAT,
    ONNX_POLICY_FORMAT,
    Agreement,
    ExportedPolicy,
    OnnxPolicy,
    PolicyNetwork,
    check_observations,
    compare_actions,
    export_policy,
)
from embodied_ai.skills.spec import TaskSpec
from embodied_ai.skills.training_config import RlTrainingConfig

log = logging.getLogger(__name__)

EPISODES_FILE = "episodes.jsonl"
EXPORT_DIR = "policy"
CHECKPOINT_PREFIX = "checkpoint-"
SUCCESS_WINDOW = 20              # success_rate: the mean episode score over this many last episodes
CHECK_OBSERVATIONS = 1000        # a box observation's export check


class Learner(Protocol):
    """What the job needs of a learning algorithm (``QLearner``, ``Sb3Learner``)."""

    def learn(self, start_episode: int, total_episodes: int, on_episode: Callable[[EpisodeRecord], None],
              should_stop: Callable[[], bool]) -> int:
        """Episodes after ``start_episode`` up to ``total_episodes``; the number finished when it stopped."""

    def save(self, folder: Path, stem: str) -> list[str]:
        """The learner's state as files ``<stem>.*`` in ``folder``; their names, the first one to load."""

    def act(self, observations: np.ndarray) -> np.ndarray:
        """The training-time deterministic policy on a batch of raw observations."""

    def network(self) -> PolicyNetwork: ...


def make_env(config: RlTrainingConfig) -> gym.Env[Any, Any]:
    register_envs()
    return gym.make(config.env_id, config=config.env_settings())


def make_learner(config: RlTrainingConfig, env: gym.Env[Any, Any], checkpoint: Path | None = None) -> Learner:
    """A new learner for ``config`` on ``env``, or the one saved in ``checkpoint``."""
    parameters = config.resolved_parameters()
    if config.model_type == "q_learning":
        from embodied_ai.skills.q_learning import QLearner

        return QLearner(env, parameters, config.seed, checkpoint)
    from embodied_ai.skills.sb3_learning import Sb3Learner  # torch and sb3: only when one trains

    return Sb3Learner(config.model_type, env, parameters, config.seed, checkpoint)


def success_rate(records: Sequence[EpisodeRecord], window: int = SUCCESS_WINDOW) -> float | None:
    """The mean score of the last ``window`` episodes (None before the first)."""
    recent = records[-window:]
    return round(float(np.mean([r.success for r in recent])), 6) if recent else None


def seed_metrics(records: Sequence[EpisodeRecord]) -> dict[str, list[float] | list[int]]:
    """Seed 001's per-episode metrics (latencies: ms of wall-clock per step)."""
    return {"episode_rewards": [r.reward for r in records], "episode_steps": [r.steps for r in records],
            "episode_latencies": [r.latency_ms for r in records]}


class PolicyTraining:
    """The ``rl_training`` job kind's body, checks and status view; policies go to ``registry``."""

    def __init__(self, work_root: Path, registry: ModelRegistry) -> None:
        self.work_root = work_root
        self.registry = registry

    def kind(self) -> JobKind:
        return JobKind(run=self.run, resumable=True, validate=self.validate,
                       describe=lambda job, _finished: self._describe(job))

    def validate(self, config: dict[str, Any]) -> None:
        RlTrainingConfig.parse(config)

    def run_dir(self, job_id: int) -> Path:
        return self.work_root / f"job-{job_id}"

    # -- the job's body -------------------------------------------------------------------
    def run(self, ctx: JobContext) -> dict[str, Any]:
        config = RlTrainingConfig.parse(ctx.job.config)
        folder = self.run_dir(ctx.job.id)
        folder.mkdir(parents=True, exist_ok=True)
        start, checkpoint = self._resume_point(ctx, folder)
        total = config.total_episodes
        episodes = EpisodeLog(folder / EPISODES_FILE)
        try:
            history = episodes.restore(start)
        except ValueError as exc:
            raise EmbodiedError(f"job {ctx.job.id} cannot resume: {exc}", ErrorCode.TRAINING_FAILED) from None
        self._note_request(ctx, config, start)
        env = make_env(config)
        try:
            learner = make_learner(config, env, checkpoint)

            def on_episode(record: EpisodeRecord) -> None:
                episodes.append(record)
                history.append(record)
                ctx.log(LogLevel.METRIC, f"episode {record.episode}/{total}: reward {record.reward:.3f}, "
                                         f"{record.steps} steps, success {record.success:.2f}",
                        step=record.episode, values={"reward": record.reward, "steps": record.steps,
                                                     "latency_ms": record.latency_ms, "success": record.success})
                ctx.progress(record.episode / total)
                if record.episode % config.checkpoint_episodes == 0 and record.episode < total:
                    self._checkpoint(ctx, learner, folder, record.episode)

            finished = learner.learn(start, total, on_episode, lambda: ctx.cancelled)
            if finished < total:
                if not ctx.cancelled:
                    raise EmbodiedError(f"learning ended after episode {finished} of {total}",
                                        ErrorCode.TRAINING_FAILED)
                self._checkpoint(ctx, learner, folder, finished)
                raise JobCancelled(f"training stopped after episode {finished} of {total}; checkpoint saved")
            if start < total:
                self._checkpoint(ctx, learner, folder, total)
            exported, agreement = self._export(ctx, config, learner, env.unwrapped.task_spec)  # type: ignore[attr-defined]
        finally:
            env.close()
        registered = ctx.run_step("register", lambda: self._register(ctx, config, exported, agreement, history))
        return {"task_id": str(ctx.job.id), "name": config.name, "model_type": config.model_type, "env": config.env_id,
                "current_episode": len(history), "total_episodes": total, "metrics": seed_metrics(history),
                "success_rate": success_rate(history), "success_window": SUCCESS_WINDOW,
                "parameters": config.resolved_parameters(), "wandb_project": config.wandb_project,
                "wandb_run_name": config.wandb_run_name, "group_id": config.group_id,
                "model_id": registered["model_id"], "model_version": registered["version"],
                "onnx_path": str(exported.onnx_path), "contract_path": str(exported.contract_path),
                "onnx_sha256": exported.sha256, "export_check": agreement.to_dict()}

    def _resume_point(self, ctx: JobContext, folder: Path) -> tuple[int, Path | None]:
        """The episodes the last checkpoint covers and the learner's file to load (none before the first)."""
        saved = ctx.last_checkpoint() or {}
        start = int(saved.get("episode", 0))
        if not start:
            return 0, None
        checkpoint = folder / saved["files"][0]
        if not checkpoint.is_file():
            raise EmbodiedError(f"job {ctx.job.id} cannot resume: its checkpoint {checkpoint} was removed",
                                ErrorCode.TRAINING_FAILED)
        return start, checkpoint

    def _note_request(self, ctx: JobContext, config: RlTrainingConfig, start: int) -> None:
        if start:
            ctx.log(LogLevel.INFO, f"resuming after episode {start} of {config.total_episodes} from its checkpoint")
        unused = config.unused_parameters()
        if unused:
            ctx.log(LogLevel.WARN, f"{config.model_type} does not use {', '.join(unused)}: recorded only")
        if config.wandb_project or config.wandb_run_name:
            ctx.log(LogLevel.INFO, f"W&B is not installed: project {config.wandb_project!r}, run "
                                   f"{config.wandb_run_name!r} are recorded with the task and its policy")

    def _checkpoint(self, ctx: JobContext, learner: Learner, folder: Path, episode: int) -> None:
        """The learner's files for ``episode``, then the job's checkpoint naming them, then the older
        files removed: a kill at any point leaves the last recorded checkpoint whole."""
        files = learner.save(folder, f"{CHECKPOINT_PREFIX}{episode:06d}")
        ctx.checkpoint({"episode": episode, "files": files})
        for stale in folder.glob(f"{CHECKPOINT_PREFIX}*"):
            if stale.name not in files:
                stale.unlink(missing_ok=True)

    def _export(self, ctx: JobContext, config: RlTrainingConfig, learner: Learner,
                spec: TaskSpec) -> tuple[ExportedPolicy, Agreement]:
        record = {"job_id": ctx.job.id, "name": config.name, **config.record()}
        exported = export_policy(learner.network(), spec, self.run_dir(ctx.job.id) / EXPORT_DIR, config.model_type,
                                 record)
        agreement = compare_actions(learner.act, OnnxPolicy.load(exported.contract_path),
                                    check_observations(spec, CHECK_OBSERVATIONS, seed=config.seed))
        if agreement.agreement < 1.0:
            raise ExportFailed(f"the exported policy chooses other actions than the trained one on "
                               f"{1 - agreement.agreement:.1%} of {agreement.observations} observations",
                               agreement.to_dict())
        ctx.log(LogLevel.INFO, f"exported {exported.onnx_path.name} (sha256 {exported.sha256[:12]}): the same actions "
                               f"as the trained policy on {agreement.observations} observations")
        return exported, agreement

    def _register(self, ctx: JobContext, config: RlTrainingConfig, exported: ExportedPolicy, agreement: Agreement,
                  history: Sequence[EpisodeRecord]) -> dict[str, Any]:
        """The policy in the registry, once per job (a re-run after a kill finds its version)."""
        found, _ = self.registry.list(kind=ModelKind.POLICY, job_id=ctx.job.id, limit=1)
        model = found[0] if found else self.registry.register(
            config.name, ModelKind.POLICY, training_config=config.record(), source=ModelSource(job_id=ctx.job.id),
            description=f"{config.model_type} policy for {config.env_id}, trained by job {ctx.job.id}",
            metrics={"success_rate": success_rate(history), "success_window": SUCCESS_WINDOW,
                     "mean_reward": round(float(np.mean([r.reward for r in history[-SUCCESS_WINDOW:]])), 6),
                     "episodes": len(history), "export_check": agreement.to_dict()})
        self.registry.add_artefact(model.id, ONNX_POLICY_FORMAT, exported.onnx_path, expected_sha256=exported.sha256)
        self.registry.add_artefact(model.id, CONTRACT_FORMAT, exported.contract_path)
        ctx.log(LogLevel.INFO, f"policy {model.ref} registered as {model.id}")
        return {"model_id": model.id, "version": model.version}

    # -- seed 001's view ------------------------------------------------------------------
    def status(self, job: Job) -> dict[str, Any]:
        """A task as seed 001's ``GET /training/{task_id}`` shows it (from the episodes so far while it runs)."""
        result = job.result or {}
        if "metrics" in result:
            current, metrics = int(result["current_episode"]), result["metrics"]
        else:
            records = self._episodes(job)
            current, metrics = len(records), seed_metrics(records)
        status = "created" if job.status in (JobStatus.PENDING, JobStatus.QUEUED) else job.status.value
        return {"task_id": str(job.id), "status": status, "progress": job.progress,
                "model_type": job.config.get("model_type"), "current_episode": current,
                "total_episodes": job.config.get("total_episodes"), "metrics": metrics,
                "model_id": result.get("model_id"), "created_at": job.created_at, "updated_at": job.updated_at}

    def _episodes(self, job: Job) -> list[EpisodeRecord]:
        return EpisodeLog(self.run_dir(job.id) / EPISODES_FILE).read()

    def _describe(self, job: Job) -> dict[str, Any]:
        """The job view's progress detail: the episodes so far, with seed 001's per-episode metrics while
        the job has no result (a finished job's result holds them)."""
        records = self._episodes(job)
        detail: dict[str, Any] = {"current_episode": len(records), "total_episodes": job.config.get("total_episodes"),
                                  "success_rate": success_rate(records), "model_id": (job.result or {}).get("model_id")}
        if job.result is None:
            detail["metrics"] = seed_metrics(records)
        return detail
