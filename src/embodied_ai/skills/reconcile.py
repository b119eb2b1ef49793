"""Reconcile (seed 001): a trained policy, as exported, run on fresh seeds in its training
environment and in a perturbed one (objects moved, servos slower, noisy sensors); how much of its
success survives the change is its ``adaptation_score``. The report is stored with the policy's
version in the model registry (its metrics' ``reconcile``). ``rl_reconcile`` runs it as a job.

Each condition runs ``sample_size`` steps of the ONNX policy (ONNX Runtime, as the robot runs
it), episode after episode; episode ``k`` resets with seed ``seed + k`` (the default, 2**32, is
above every training seed), the same seeds in both conditions. Figures, per condition:

    avg_reward, reward_std    mean and standard deviation of the episodes' returns
    success_rate              mean episode score (``episodes.episode_score``: head tracking, the
                              share of steps centred; reaching, the share of episodes that reached)
    avg_latency, latency_std  the policy's decision time, ms (ONNX Runtime, one thread, batch of 1)
    avg_throughput            decisions per second of policy time: steps / total decision time

An episode the sample cuts short is left out of the episode figures unless no episode ended.
``metrics`` are the perturbed run's, with

    adaptation_score = perturbed success_rate / nominal success_rate     (1.0 when nominal is 0)

1.0: the perturbation cost nothing; 0: nothing the policy achieved survives it; above 1: it did
better perturbed. A policy that never succeeds nominally has nothing to lose: 1.0.
``nominal`` holds the unperturbed figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import gymnasium as gym
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from embodied_ai.errors import Conflict, InvalidRequest, NotFound, validation_problems
from embodied_ai.jobs.models import LogLevel, format_time
from embodied_ai.jobs.runner import JobCancelled, JobContext, JobKind
from embodied_ai.model_registry.store import ModelKind, ModelRegistry, ModelVersion
from embodied_ai.skills import register_envs
from embodied_ai.skills.config import Perturbation
from embodied_ai.skills.episodes import episode_score
from embodied_ai.skills.policy_export import CONTRACT_FORMAT, ONNX_POLICY_FORMAT, OnnxPolicy, PolicyContract

RECONCILE_SEED = 2**32
MAX_SAMPLE = 100_000
# Objects 2 cm away in x and y, servos 1.5 times slower, 0.01 rad of encoder noise, 5 mm of
# perception noise: within what the robot meets between a calibration and the next.
DEFAULT_PERTURBATION = Perturbation(target_offset_m=(0.02, 0.02, 0.0), servo_tau_scale=1.5, joint_noise_rad=0.01,
                                    target_noise_m=0.005)
PROGRESS_REPORTS = 20            # progress lines per reconcile job


class ReconcileConfig(BaseModel):
    """An ``rl_reconcile`` job's request (seed 001's ``POST /training/{task_id}/reconcile``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_id: str | None = Field(default=None, min_length=1, max_length=200,
                                 description="the policy: an id, name:N or a name (its newest version)")
    task_id: int | None = Field(default=None, ge=1, description="or the training task (job) that registered it")
    sample_size: int = Field(ge=1, le=MAX_SAMPLE, description="steps run in each condition")
    group_id: str | None = Field(default=None, max_length=128, description="None: the training task's")
    perturbation: Perturbation = DEFAULT_PERTURBATION
    seed: int = Field(default=RECONCILE_SEED, ge=0, le=2**63 - 1)

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> ReconcileConfig:
        """The config, or InvalidRequest listing every problem."""
        problems: list[str] = []
        parsed: ReconcileConfig | None = None
        try:
            parsed = cls.model_validate(config)
        except ValidationError as exc:
            problems += validation_problems(exc, "config")
        if isinstance(config, Mapping) and (config.get("model_id") is None) == (config.get("task_id") is None):
            problems.append("config: give either model_id or task_id")
        if problems or parsed is None:
            raise InvalidRequest("invalid rl_reconcile job", problems)
        return parsed


@dataclass(frozen=True)
class ConditionFigures:
    """One condition's figures (see the module text)."""

    avg_reward: float
    reward_std: float
    avg_latency: float
    latency_std: float
    avg_throughput: float
    success_rate: float
    episodes: int
    steps: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def adaptation_score(perturbed: float, nominal: float) -> float:
    """Perturbed over nominal success; 1.0 when the nominal success is 0."""
    return 1.0 if nominal <= 0 else round(perturbed / nominal, 6)


def run_condition(policy: OnnxPolicy, env: gym.Env[Any, Any], sample_size: int, seed: int,
                  on_step: Callable[[], None] = lambda: None) -> ConditionFigures:
    """``sample_size`` steps of ``policy`` in ``env``; ``on_step`` after each (it may raise to stop)."""
    task = policy.spec.task
    returns: list[float] = []
    scores: list[float] = []
    latencies = np.empty(sample_size)
    episode, reward, successes = 0, 0.0, []
    observation, _ = env.reset(seed=seed)
    for step in range(sample_size):
        started = time.perf_counter()
        action = policy.act_one(observation)
        latencies[step] = time.perf_counter() - started
        observation, step_reward, terminated, truncated, info = env.step(action)
        reward += float(step_reward)
        successes.append(bool(info.get("is_success", False)))
        if terminated or truncated:
            returns.append(reward)
            scores.append(episode_score(task, successes))
            episode, reward, successes = episode + 1, 0.0, []
            observation, _ = env.reset(seed=seed + episode)
        on_step()
    if not returns:   # the sample is shorter than one episode: the cut one is all there is
        returns.append(reward)
        scores.append(episode_score(task, successes))
    total_s = float(latencies.sum())
    return ConditionFigures(
        avg_reward=round(float(np.mean(returns)), 6), reward_std=round(float(np.std(returns)), 6),
        avg_latency=round(float(np.mean(latencies)) * 1000, 6), latency_std=round(float(np.std(latencies)) * 1000, 6),
        avg_throughput=round(sample_size / total_s, 3) if total_s > 0 else 0.0,
        success_rate=round(float(np.mean(scores)), 6), episodes=len(returns), steps=sample_size)


def reconcile(policy: OnnxPolicy, env_config: Mapping[str, Any], sample_size: int,
              perturbation: Perturbation = DEFAULT_PERTURBATION, seed: int = RECONCILE_SEED,
              on_step: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """The policy's figures perturbed (``metrics``, with ``adaptation_score``) and nominal (``nominal``).
    ``env_config``: the environment's config in training. Conflict when that environment no longer
    has the policy's contract (the robot's URDF or safety config changed since)."""
    register_envs()
    nominal_env = gym.make(policy.spec.env_id, config=dict(env_config))
    perturbed_env = gym.make(policy.spec.env_id, config={**env_config,
                                                         "perturbation": perturbation.model_dump(mode="json")})
    try:
        built: Any = nominal_env.unwrapped
        if built.task_spec != policy.spec:
            raise Conflict(f"the environment {policy.spec.env_id} no longer matches the policy's contract (the "
                           "robot description or safety config changed since training): train the policy again")
        perturbed = run_condition(policy, perturbed_env, sample_size, seed, on_step)
        nominal = run_condition(policy, nominal_env, sample_size, seed, on_step)
    finally:
        nominal_env.close()
        perturbed_env.close()
    return {"metrics": {**perturbed.to_dict(), "adaptation_score": adaptation_score(perturbed.success_rate,
                                                                                     nominal.success_rate)},
            "nominal": nominal.to_dict()}


class PolicyReconcile:
    """The ``rl_reconcile`` job kind over the policies in ``registry``."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def kind(self) -> JobKind:
        return JobKind(run=self.run, resumable=True, validate=self.validate)

    def validate(self, config: dict[str, Any]) -> None:
        """Refuse a bad request, and one whose policy does not exist (yet), before it is stored."""
        self.policy_model(ReconcileConfig.parse(config))

    def policy_model(self, config: ReconcileConfig) -> ModelVersion:
        """The policy version to reconcile; NotFound when the model, or the task's trained policy, is not
        there; InvalidRequest when the model is not a policy."""
        if config.model_id is not None:
            model = self.registry.get(config.model_id)
            if model.kind is not ModelKind.POLICY:
                raise InvalidRequest(f"model {model.id} ({model.ref}) is a {model.kind.value}, not a policy",
                                     [f"model_id: {config.model_id!r} is not a policy"])
            return model
        found, _ = self.registry.list(kind=ModelKind.POLICY, job_id=config.task_id, limit=1)
        if not found:
            raise NotFound(f"training task {config.task_id} has not trained a policy: no policy in the registry "
                           "comes from it (it is unknown, still training, failed or was cancelled)")
        return found[0]

    def reconcile(self, config: ReconcileConfig, on_step: Callable[[], None] = lambda: None) -> dict[str, Any]:
        """Run the reconcile of ``config``'s policy, store it with the version, and return seed 001's report."""
        model = self.policy_model(config)
        onnx_path = self.registry.artefact(model.id, ONNX_POLICY_FORMAT).path
        policy = OnnxPolicy(PolicyContract.read(self.registry.artefact(model.id, CONTRACT_FORMAT).path), onnx_path)
        training = model.training_config
        figures = reconcile(policy, training.get("env_config") or {}, config.sample_size, config.perturbation,
                            config.seed, on_step)
        report = {"task_id": None if model.source.job_id is None else str(model.source.job_id), "model_id": model.id,
                  "model_type": policy.contract.model_type, "wandb_run_id": None, **figures,
                  "sample_size": config.sample_size, "group_id": config.group_id or training.get("group_id"),
                  "perturbation": config.perturbation.model_dump(mode="json"), "seed": config.seed,
                  "timestamp": format_time(datetime.now(timezone.utc)), "model_weights_path": str(onnx_path)}
        self.registry.update_metrics(model.id, {"reconcile": report})
        return report

    def run(self, ctx: JobContext) -> dict[str, Any]:
        config = ReconcileConfig.parse(ctx.job.config)
        total, done = 2 * config.sample_size, [0]
        every = max(1, total // PROGRESS_REPORTS)

        def on_step() -> None:
            done[0] += 1
            if done[0] % every == 0:
                if ctx.cancelled:
                    raise JobCancelled(f"reconcile stopped after {done[0]} of {total} steps")
                ctx.progress(done[0] / total)

        report = self.reconcile(config, on_step)
        metrics = report["metrics"]
        ctx.log(LogLevel.METRIC, f"reconcile of {report['model_id']}: success {metrics['success_rate']:.3f} perturbed, "
                                 f"{report['nominal']['success_rate']:.3f} nominal, adaptation "
                                 f"{metrics['adaptation_score']:.3f}", values=metrics)
        return report
