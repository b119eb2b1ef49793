"""Deploying a policy to a fleet of robots, robot by robot (seed 001's ``POST /models/{id}/deploy``,
where ``replicas`` means robots).

A ``rolling`` deployment takes the chosen robots in batches of ``max_unavailable``: on each robot
it activates the policy (the robot's policy node: configure + activate), checks the robot is
still healthy, then checks the policy's success: ``trials`` targets of the policy's own task
(sampled as in training, on seeds of their own) that the robot must reach within an episode's
time. A robot that fails is rolled back at once (its previous policy again, or none); once more
robots failed than ``failure_threshold`` allows, every robot this deployment changed is rolled
back and the deployment fails. ``all_at_once`` is one batch of every robot.

Nothing moves before every chosen robot was found healthy: a robot in e-stop, with a faulted joint
or silent refuses the whole deployment up front, as does a policy whose contract does not fit.
Each robot's status (pending, deploying, checking, deployed, failed, rolled_back) is kept in the
deployment record, which the job publishes as it goes.

The fleet itself (``Fleet``) is a port: the jobs node drives the robots' policy nodes over ROS;
nothing here knows ROS.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from embodied_ai.errors import Conflict, EmbodiedError, InvalidRequest, validation_problems
from embodied_ai.jobs.models import LogLevel, format_time
from embodied_ai.jobs.runner import JobCancelled, JobContext
from embodied_ai.model_registry.store import ModelKind, ModelRegistry, ModelStatus, ModelVersion

CHECK_SEED = 7_000_000          # the success check's targets: seeds no training or reconcile uses
MAX_REPLICAS = 64


class CheckSettings(BaseModel):
    """The policy's success check on each robot before the next one gets it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trials: int = Field(default=2, ge=0, le=50, description="targets each robot must reach (0: health only)")
    min_success_rate: float = Field(default=0.5, ge=0, le=1, description="share of the trials reached to pass")
    timeout_s: float | None = Field(default=None, gt=0, le=600, description=(
        "time allowed per target; None: 1.5 x an episode of the task (max_episode_steps / control_rate_hz)"))


class DeploymentConfig(BaseModel):
    """A ``policy_deployment`` job's request: seed 001's deploy body and ours."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_id: str = Field(min_length=1, max_length=200, description="the policy: an id, name:N or a name")
    replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS, description="how many robots run it")
    strategy: Literal["rolling", "all_at_once"] = "rolling"
    robots: list[str] | None = Field(default=None, min_length=1, max_length=MAX_REPLICAS, description=(
        "which robots (ids from the fleet); None: the first `replicas` robots of the fleet, in id order"))
    max_unavailable: int = Field(default=1, ge=1, le=MAX_REPLICAS, description="robots changed at a time")
    failure_threshold: int = Field(default=0, ge=0, le=MAX_REPLICAS, description=(
        "robots that may fail their check before the whole deployment is rolled back"))
    check: CheckSettings = CheckSettings()
    resources: dict[str, Any] = Field(default_factory=dict, description=(
        "seed 001's cpu/memory requests: recorded; a policy node's footprint is fixed by its graph"))

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> DeploymentConfig:
        problems: list[str] = []
        parsed: DeploymentConfig | None = None
        try:
            parsed = cls.model_validate(config)
        except ValidationError as exc:
            problems += validation_problems(exc, "config")
        if parsed is not None and parsed.robots is not None:
            if len(set(parsed.robots)) != len(parsed.robots):
                problems.append("robots: each robot once")
            if len(parsed.robots) != parsed.replicas:
                problems.append(f"robots: {len(parsed.robots)} named for replicas {parsed.replicas}")
        if problems or parsed is None:
            raise InvalidRequest("invalid deployment", problems)
        return parsed


class UndeployConfig(BaseModel):
    """A ``policy_undeployment`` job's request: stop a policy on the robots that run it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_id: str = Field(min_length=1, max_length=200, description="the policy: an id, name:N or a name")
    robots: list[str] | None = Field(default=None, min_length=1, max_length=MAX_REPLICAS, description=(
        "which robots (each must run it); None: every robot that runs it"))

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> UndeployConfig:
        try:
            return cls.model_validate(config)
        except ValidationError as exc:
            raise InvalidRequest("invalid undeployment", validation_problems(exc, "config")) from None


@dataclass(frozen=True)
class RobotHealth:
    """A robot of the fleet as its controller reports it."""

    id: str
    namespace: str
    healthy: bool
    reason: str = ""               # why not healthy (e-stop, a faulted joint, no state)
    policy: str | None = None      # the policy model id its policy node runs now


class Fleet(Protocol):
    """The robots a deployment drives (the jobs node's ROS side)."""

    def robots(self) -> list[RobotHealth]:
        """Every robot in the graph, in id order."""
        ...

    def activate(self, robot: str, model_id: str) -> None:
        """Run ``model_id`` on ``robot``'s policy node (replacing what ran); EmbodiedError with the reason."""
        ...

    def deactivate(self, robot: str) -> None:
        """Stop ``robot``'s policy node (the controller's watchdog then holds the joints)."""
        ...

    def set_target(self, robot: str, point: np.ndarray) -> None:
        """Where ``robot``'s policy aims (base_link, m)."""
        ...

    def positions(self, robot: str) -> Mapping[str, float] | None:
        """``robot``'s newest measured joint positions (None before any)."""
        ...


class TaskProbe(Protocol):
    """What a success check needs of the policy's task (its environment)."""

    def sample_target(self, rng: np.random.Generator) -> np.ndarray: ...

    def reached(self, positions: Mapping[str, float], target: np.ndarray) -> bool: ...


@dataclass(frozen=True)
class PolicyRef:
    """The policy version deployed: its registry id and its ``name:N``."""

    id: str
    ref: str


RobotStatus = Literal["pending", "deploying", "checking", "deployed", "failed", "rolled_back"]


class Deployment:
    """One rolling (or all-at-once) deployment's run and record."""

    def __init__(self, config: DeploymentConfig, model: PolicyRef, fleet: Fleet, probe: TaskProbe,
                 episode_s: float, publish: Callable[[dict[str, Any]], None] = lambda _record: None,
                 cancelled: Callable[[], bool] = lambda: False, poll_s: float = 0.05, deployment_id: int = 0) -> None:
        self.config, self.model, self.fleet, self.probe = config, model, fleet, probe
        self.deployment_id = deployment_id
        self.check_timeout_s = config.check.timeout_s or 1.5 * episode_s
        self.publish, self.cancelled, self.poll_s = publish, cancelled, poll_s
        self.robots: dict[str, dict[str, Any]] = {}
        self.previous: dict[str, str | None] = {}
        self.status = "pending"
        self.reason = ""

    # -- the run ------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Deploy; the record. Conflict before anything moved when a robot is missing or unhealthy."""
        chosen = choose_robots(self.config, self.fleet, self.model)
        self.previous = {robot.id: robot.policy for robot in chosen}
        self.robots = {robot.id: {"robot": robot.id, "namespace": robot.namespace, "status": "pending",
                                  "previous_model_id": robot.policy, "trials": 0, "reached": 0, "reason": "",
                                  "rolled_back": False}
                       for robot in chosen}
        self._set("deploying")
        step = len(chosen) if self.config.strategy == "all_at_once" else self.config.max_unavailable
        failures, changed = 0, list[str]()
        for start in range(0, len(chosen), step):
            batch = [robot.id for robot in chosen[start:start + step]]
            if self.cancelled():
                self._roll_back(changed, "the deployment was cancelled")
                raise JobCancelled(f"deployment cancelled; {len(changed)} robot(s) rolled back")
            for robot in batch:
                changed.append(robot)
                self._robot(robot, status="deploying")
                self._activate(robot)
            for robot in batch:
                if self.robots[robot]["status"] == "deploying":
                    self._check(robot)
                if self.robots[robot]["status"] == "failed":
                    failures += 1
                    self._restore(robot)
            if failures > self.config.failure_threshold:
                self._roll_back(changed, f"{failures} robot(s) failed, more than failure_threshold "
                                         f"{self.config.failure_threshold}")
                raise Conflict(f"deployment of {self.model.ref} rolled back: {self.reason}")
        self._set("deployed" if failures == 0 else "degraded")
        return self.record()

    def _activate(self, robot: str) -> None:
        try:
            self.fleet.activate(robot, self.model.id)
        except EmbodiedError as exc:
            self._robot(robot, status="failed", reason=f"activation failed: {exc}")

    def _check(self, robot: str) -> None:
        """The robot's health, then the policy's success on ``trials`` targets."""
        self._robot(robot, status="checking")
        health = next((r for r in self.fleet.robots() if r.id == robot), None)
        if health is None or not health.healthy:
            self._robot(robot, status="failed", reason=f"unhealthy after activation: "
                                                       f"{health.reason if health else 'gone from the graph'}")
            return
        trials = self.config.check.trials
        rng = np.random.default_rng(CHECK_SEED + sorted(self.robots).index(robot))
        reached = sum(self._trial(robot, self.probe.sample_target(rng)) for _ in range(trials))
        passed = trials == 0 or reached / trials >= self.config.check.min_success_rate
        self._robot(robot, trials=trials, reached=reached, status="deployed" if passed else "failed",
                    reason="" if passed else f"reached {reached} of {trials} targets, below min_success_rate "
                                             f"{self.config.check.min_success_rate}")

    def _trial(self, robot: str, target: np.ndarray) -> bool:
        self.fleet.set_target(robot, target)
        deadline = time.monotonic() + self.check_timeout_s
        while time.monotonic() < deadline:
            positions = self.fleet.positions(robot)
            if positions is not None and self.probe.reached(positions, target):
                return True
            time.sleep(self.poll_s)
        return False

    def _restore(self, robot: str) -> None:
        """``robot`` back to what it ran before this deployment."""
        previous = self.previous.get(robot)
        try:
            if previous is None:
                self.fleet.deactivate(robot)
            else:
                self.fleet.activate(robot, previous)
        except EmbodiedError as exc:
            self._robot(robot, reason=f"{self.robots[robot]['reason']}; its rollback failed: {exc}".lstrip("; "))
            return
        # A failed robot stays "failed" (its reason says why); one rolled back for others' sake says so.
        self._robot(robot, rolled_back=True, status="failed" if self.robots[robot]["status"] == "failed"
                    else "rolled_back")

    def _roll_back(self, changed: Sequence[str], reason: str) -> None:
        self.reason = reason
        for robot in changed:
            if not self.robots[robot].get("rolled_back"):
                self._restore(robot)
        self._set("rolled_back")

    # -- the record ---------------------------------------------------------------------
    def _robot(self, robot: str, **changes: Any) -> None:
        self.robots[robot].update(changes)
        self.publish(self.record())

    def _set(self, status: str) -> None:
        self.status = status
        self.publish(self.record())

    def record(self) -> dict[str, Any]:
        return {"deployment_id": self.deployment_id, "model_id": self.model.id, "name": self.model.ref,
                "strategy": self.config.strategy,
                "replicas": self.config.replicas, "max_unavailable": self.config.max_unavailable,
                "failure_threshold": self.config.failure_threshold, "status": self.status, "reason": self.reason,
                "robots": [dict(entry) for entry in self.robots.values()],
                "resources": self.config.resources, "updated_at": format_time(datetime.now(timezone.utc))}


def choose_robots(config: DeploymentConfig, fleet: Fleet, model: PolicyRef) -> list[RobotHealth]:
    """The robots ``config`` deploys to; Conflict listing every problem when one is missing or unhealthy."""
    robots = {robot.id: robot for robot in fleet.robots()}
    known = ", ".join(sorted(robots)) or "none"
    wanted = config.robots or sorted(robots)[:config.replicas]
    problems = [f"no robot {robot!r} in the fleet ({known})" for robot in wanted if robot not in robots]
    if len(wanted) < config.replicas:
        problems.append(f"replicas {config.replicas}: the fleet has {len(robots)} robot(s) ({known}); "
                        f"`embodied up --robots N` runs N simulated robots")
    problems += [f"robot {robot}: {robots[robot].reason}" for robot in wanted
                 if robot in robots and not robots[robot].healthy]
    if problems:
        raise Conflict(f"cannot deploy {model.ref}, nothing was changed: {'; '.join(problems)}")
    return [robots[robot] for robot in wanted]


def episode_seconds(contract_task: Mapping[str, Any]) -> float:
    return float(contract_task["max_episode_steps"]) / float(contract_task["control_rate_hz"])


class PolicyDeployment:
    """The ``policy_deployment`` job kind: ``fleet`` is the jobs node's robots (None: no fleet here)."""

    def __init__(self, registry: ModelRegistry, fleet: Fleet | None) -> None:
        self.registry, self.fleet = registry, fleet

    def policy(self, key: str) -> ModelVersion:
        model = self.registry.get(key)
        if model.kind is not ModelKind.POLICY:
            raise InvalidRequest(f"model {model.id} ({model.ref}) is a {model.kind.value}, not a policy",
                                 [f"model_id: {key!r} is not a policy"])
        if model.status is ModelStatus.ARCHIVED:
            raise Conflict(f"policy {model.ref} is archived: deploy another version")
        return model

    def validate(self, config: dict[str, Any]) -> None:
        """Refuse, before anything moves: a bad request, a model that is no deployable policy or whose
        contract does not fit this robot model, and a missing or unhealthy robot."""
        from embodied_ai.skills.policy_runtime import PolicyRuntime

        parsed = DeploymentConfig.parse(config)
        model = self.policy(parsed.model_id)
        PolicyRuntime.from_registry(self.registry, model.id)
        if self.fleet is None:
            raise Conflict("this graph has no fleet to deploy to (the jobs node runs without robots)")
        choose_robots(parsed, self.fleet, PolicyRef(model.id, model.ref))

    def run(self, ctx: JobContext) -> dict[str, Any]:
        from embodied_ai.skills.policy_runtime import PolicyRuntime

        config = DeploymentConfig.parse(ctx.job.config)
        assert self.fleet is not None, "validated"
        model = self.policy(config.model_id)
        runtime = PolicyRuntime.from_registry(self.registry, model.id)   # the contract fits this robot model
        last: dict[str, Any] = {}

        def publish(record: dict[str, Any]) -> None:
            done = sum(r["status"] in ("deployed", "failed", "rolled_back") for r in record["robots"])
            if record["robots"] != last.get("robots"):
                for entry in record["robots"]:
                    before = next((r for r in last.get("robots", []) if r["robot"] == entry["robot"]), None)
                    if before is None or before["status"] != entry["status"]:
                        ctx.log(LogLevel.INFO, f"robot {entry['robot']}: {entry['status']}"
                                               f"{' (' + entry['reason'] + ')' if entry['reason'] else ''}")
            last.clear()
            last.update(record)
            self.registry.update_metrics(model.id, {"deployment": record})   # live, in the model's record
            ctx.progress(done / max(1, len(record["robots"])), f"{done} of {len(record['robots'])} robots")

        deployment = Deployment(config, PolicyRef(model.id, model.ref), self.fleet, runtime.probe(),
                                episode_seconds(runtime.spec.contract()), publish, lambda: ctx.cancelled,
                                deployment_id=ctx.job.id)
        try:
            return deployment.run()
        finally:
            self.sync_status(model.id)

    def sync_status(self, model_id: str) -> None:
        """The registry's status as the fleet runs the policy: ``deployed`` while any robot runs it, else
        ``trained`` (each policy node marks only itself, and the last to stop may not be the last to run)."""
        assert self.fleet is not None, "a fleet"
        if any(robot.policy == model_id for robot in self.fleet.robots()):
            self.registry.mark_loaded(model_id)
        elif self.registry.get(model_id).status is ModelStatus.DEPLOYED:
            self.registry.mark_unloaded(model_id)

    def undeploy_targets(self, config: UndeployConfig) -> tuple[ModelVersion, list[RobotHealth]]:
        """The policy and the robots to stop it on; Conflict when a named robot does not run it or none does."""
        model = self.registry.get(config.model_id)
        if self.fleet is None:
            raise Conflict("this graph has no fleet (the jobs node runs without robots)")
        robots = {robot.id: robot for robot in self.fleet.robots()}
        running = [robot for robot in robots.values() if robot.policy == model.id]
        if config.robots is None:
            if not running:
                raise Conflict(f"no robot runs {model.ref}")
            return model, running
        problems = [f"robot {robot}: {'not in the fleet' if robot not in robots else 'does not run it'}"
                    for robot in config.robots if robot not in robots or robots[robot].policy != model.id]
        if problems:
            raise Conflict(f"cannot undeploy {model.ref}: {'; '.join(problems)}")
        return model, [robots[robot] for robot in config.robots]

    def validate_undeploy(self, config: dict[str, Any]) -> None:
        self.undeploy_targets(UndeployConfig.parse(config))

    def undeploy(self, ctx: JobContext) -> dict[str, Any]:
        """Stop the policy on its robots (their policy nodes deactivated and cleaned up: the controllers'
        watchdogs then hold the joints)."""
        model, robots = self.undeploy_targets(UndeployConfig.parse(ctx.job.config))
        assert self.fleet is not None, "checked"
        stopped = []
        for robot in robots:
            self.fleet.deactivate(robot.id)
            ctx.log(LogLevel.INFO, f"robot {robot.id}: {model.ref} undeployed")
            stopped.append({"robot": robot.id, "namespace": robot.namespace, "status": "undeployed"})
        self.sync_status(model.id)
        return {"model_id": model.id, "name": model.ref, "robots": stopped}

    def describe(self, job: Any, _finished: Any) -> dict[str, Any]:
        """A deployment's record as it goes (the model's, while it is this deployment's)."""
        try:
            record = self.registry.get(str(job.config["model_id"])).metrics.get("deployment")
        except (EmbodiedError, KeyError):
            return {}
        return record if isinstance(record, dict) and record.get("deployment_id") == job.id else {}
