"""A rolling deployment's run over a fleet emulated at the Fleet protocol (robots whose policy node
either brings the joints to the target or not, one that may be in e-stop): robot by robot with a
success check, a failed robot rolled back, every robot rolled back past the failure threshold,
and refusals before anything moves. The ROS side of the same protocol runs in the graph test."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from embodied_ai.errors import Conflict, EmbodiedError, InvalidRequest
from embodied_ai.skills.deployment import Deployment, DeploymentConfig, PolicyRef, RobotHealth

GOOD, BAD, OLD = "mdl_good", "mdl_bad", "mdl_old"


class PanProbe:
    """A one-joint task: a target is a pan angle (x of the point), reached within 0.05 rad."""

    def sample_target(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.uniform(-1, 1), 0.0, 0.0])

    def reached(self, positions: Mapping[str, float], target: np.ndarray) -> bool:
        return abs(positions["pan"] - target[0]) <= 0.05


@dataclass
class EmulatedRobot:
    namespace: str
    healthy: bool = True
    reason: str = ""
    policy: str | None = None
    target: float = 0.0
    refuses: set[str] = field(default_factory=set)   # models whose configure fails on this robot
    history: list[str | None] = field(default_factory=list)


class EmulatedFleet:
    """Robots whose joints follow the target when they run GOOD or OLD, and stay put under BAD."""

    def __init__(self, **robots: EmulatedRobot) -> None:
        self.robots_by_id = robots

    def robots(self) -> list[RobotHealth]:
        return [RobotHealth(name, r.namespace, r.healthy, r.reason, r.policy)
                for name, r in sorted(self.robots_by_id.items())]

    def activate(self, robot: str, model_id: str) -> None:
        emulated = self.robots_by_id[robot]
        if model_id in emulated.refuses:
            raise EmbodiedError(f"{robot}'s policy node could not load {model_id}")
        emulated.policy = model_id
        emulated.history.append(model_id)

    def deactivate(self, robot: str) -> None:
        self.robots_by_id[robot].policy = None
        self.robots_by_id[robot].history.append(None)

    def set_target(self, robot: str, point: np.ndarray) -> None:
        self.robots_by_id[robot].target = float(point[0])

    def positions(self, robot: str) -> Mapping[str, float] | None:
        emulated = self.robots_by_id[robot]
        return {"pan": emulated.target if emulated.policy in (GOOD, OLD) else 5.0}


def model(model_id: str) -> PolicyRef:
    return PolicyRef(model_id, f"pan:{model_id}")


def deploy(fleet: EmulatedFleet, model_id: str, **config: Any) -> tuple[Deployment, list[dict[str, Any]]]:
    published: list[dict[str, Any]] = []
    parsed = DeploymentConfig.parse({"model_id": model_id, "check": {"trials": 2, "timeout_s": 0.2}, **config})
    run = Deployment(parsed, model(model_id), fleet, PanProbe(), episode_s=1.0, publish=published.append, poll_s=0.01)
    return run, published


def fleet_of(count: int, **changes: Any) -> EmulatedFleet:
    return EmulatedFleet(**{f"robot_{k}": EmulatedRobot("/" if k == 1 else f"/robot_{k}",
                                                        **changes.get(f"robot_{k}", {})) for k in range(1, count + 1)})


def test_a_rolling_deployment_goes_robot_by_robot_and_checks_each():
    fleet = fleet_of(3, robot_2={"policy": OLD})
    run, published = deploy(fleet, GOOD, replicas=2)
    record = run.run()
    assert record["status"] == "deployed"
    assert [(r["robot"], r["status"], r["trials"], r["reached"]) for r in record["robots"]] == [
        ("robot_1", "deployed", 2, 2), ("robot_2", "deployed", 2, 2)]
    assert record["robots"][1]["previous_model_id"] == OLD
    assert fleet.robots_by_id["robot_3"].history == []   # not one of the first two
    # Robot by robot: robot_2 started deploying only after robot_1 was deployed.
    order = [(r["robot"], r["status"]) for record in published for r in record["robots"]]
    first_done = next(k for k, (robot, status) in enumerate(order) if (robot, status) == ("robot_1", "deployed"))
    assert ("robot_2", "deploying") not in order[:first_done]


def test_a_robot_failing_its_check_is_rolled_back_and_the_deployment_with_it():
    fleet = fleet_of(2, robot_2={"policy": OLD})
    run, _ = deploy(fleet, BAD, replicas=2)
    with pytest.raises(Conflict, match="rolled back"):
        run.run()
    record = run.record()
    assert record["status"] == "rolled_back" and "more than failure_threshold 0" in record["reason"]
    first = record["robots"][0]
    assert (first["status"], first["rolled_back"], first["reached"]) == ("failed", True, 0)
    assert "reached 0 of 2 targets" in first["reason"]
    assert record["robots"][1]["status"] == "pending"   # never touched
    assert fleet.robots_by_id["robot_1"].policy is None and fleet.robots_by_id["robot_2"].policy == OLD


def test_within_the_failure_threshold_the_rest_deploy_and_past_it_everything_rolls_back():
    fleet = fleet_of(3, robot_2={"refuses": {GOOD}})
    record = deploy(fleet, GOOD, replicas=3, failure_threshold=1)[0].run()
    assert record["status"] == "degraded"
    assert [r["status"] for r in record["robots"]] == ["deployed", "failed", "deployed"]
    assert "activation failed" in record["robots"][1]["reason"]

    fleet = fleet_of(3, robot_2={"refuses": {GOOD}}, robot_3={"refuses": {GOOD}, "policy": OLD})
    run, _ = deploy(fleet, GOOD, replicas=3, failure_threshold=1)
    with pytest.raises(Conflict):
        run.run()
    assert [r["status"] for r in run.record()["robots"]] == ["rolled_back", "failed", "failed"]
    assert [fleet.robots_by_id[f"robot_{k}"].policy for k in (1, 2, 3)] == [None, None, OLD]


def test_all_at_once_changes_every_robot_before_checking():
    fleet = fleet_of(2)
    run, published = deploy(fleet, GOOD, replicas=2, strategy="all_at_once")
    assert run.run()["status"] == "deployed"
    statuses = [[r["status"] for r in record["robots"]] for record in published]
    assert ["deploying", "deploying"] in statuses


def test_nothing_moves_when_a_robot_is_in_e_stop_missing_or_too_few():
    fleet = fleet_of(2, robot_2={"healthy": False, "reason": "in emergency stop (button)"})
    for config, expected in (({"replicas": 2}, "robot robot_2: in emergency stop"),
                             ({"replicas": 3}, "replicas 3: the fleet has 2 robot(s)"),
                             ({"replicas": 1, "robots": ["robot_9"]}, "no robot 'robot_9'")):
        with pytest.raises(Conflict, match="nothing was changed") as refused:
            deploy(fleet, GOOD, **config)[0].run()
        assert expected in str(refused.value)
    assert all(robot.history == [] for robot in fleet.robots_by_id.values())


def test_a_bad_request_lists_every_problem():
    with pytest.raises(InvalidRequest) as refused:
        DeploymentConfig.parse({"model_id": "", "replicas": 0, "strategy": "blue_green", "robots": ["a", "a"],
                                "check": {"min_success_rate": 2}})
    problems = refused.value.problems
    for start in ("model_id", "replicas", "strategy", "check.min_success_rate"):
        assert sum(p.startswith(start) for p in problems) == 1, (start, problems)
    with pytest.raises(InvalidRequest) as refused:
        DeploymentConfig.parse({"model_id": "x", "replicas": 1, "robots": ["a", "a"]})
    assert refused.value.problems == ["robots: each robot once", "robots: 2 named for replicas 1"]


def test_undeploy_stops_the_policy_on_the_robots_that_run_it(tmp_path):
    from embodied_ai.model_registry.store import ModelKind, ModelRegistry
    from embodied_ai.skills.deployment import PolicyDeployment

    registry = ModelRegistry(tmp_path / "registry.sqlite", artefact_root=tmp_path)
    model = registry.register("pan", ModelKind.POLICY)
    fleet = fleet_of(3, robot_1={"policy": model.id}, robot_2={"policy": OLD}, robot_3={"policy": model.id})
    undeploying = PolicyDeployment(registry, fleet)
    with pytest.raises(Conflict, match="robot robot_2: does not run it; robot robot_9: not in the fleet"):
        undeploying.validate_undeploy({"model_id": model.id, "robots": ["robot_2", "robot_9"]})

    @dataclass
    class Context:   # the part of a JobContext the undeployment uses: its job's config, its log
        job: Any
        lines: list[str] = field(default_factory=list)

        def log(self, _level: Any, message: str, **_fields: Any) -> None:
            self.lines.append(message)

    context = Context(job=SimpleNamespace(id=1, config={"model_id": "pan"}))
    result = undeploying.undeploy(context)   # type: ignore[arg-type]
    assert [r["robot"] for r in result["robots"]] == ["robot_1", "robot_3"]
    assert [fleet.robots_by_id[f"robot_{k}"].policy for k in (1, 2, 3)] == [None, OLD, None]
    assert context.lines == ["robot robot_1: pan:1 undeployed", "robot robot_3: pan:1 undeployed"]
    with pytest.raises(Conflict, match="no robot runs pan:1"):
        undeploying.validate_undeploy({"model_id": model.id})
    registry.close()
