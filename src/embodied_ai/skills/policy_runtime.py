"""A registered policy run on a robot: measured joint states and a perceived target in, joint targets
out, at the contract's control rate (what the ROS policy node calls; no ROS here).

Each tick builds the observation with the task's own environment code (``observe``: the same
function training used), asks the ONNX policy, and turns its action into joint targets with the
task's rule (``TaskSpec.command``: always inside the joints' limits). The targets then go through
the servo controller's streamed-command path, which checks them again, applies its velocity
limits and its watchdog, and honours the e-stop. A tick with stale joint states or no target
sends nothing: the controller's watchdog then holds the joints where they are.

The policy's contract must match this robot's task (joint names, limits, control rate): a policy
trained for another robot or another safety config is refused before it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embodied_ai.errors import InvalidRequest
from embodied_ai.model_registry.store import ModelKind, ModelRegistry
from embodied_ai.skills.policy_export import CONTRACT_FORMAT, ONNX_POLICY_FORMAT, OnnxPolicy

if TYPE_CHECKING:
    from embodied_ai.skills.deployment import TaskProbe


@dataclass(frozen=True)
class Tick:
    """What one control tick decided: joint targets to stream, or nothing and why."""

    targets: dict[str, float] | None
    reason: str = ""


class PolicyRuntime:
    def __init__(self, policy: OnnxPolicy, model_id: str = "") -> None:
        """InvalidRequest when the policy's contract does not match this robot's task (another URDF or
        safety config: joint names, limits, control rate)."""
        import gymnasium as gym

        from embodied_ai.skills import register_envs

        register_envs()
        self.policy, self.model_id, self.spec = policy, model_id, policy.spec
        # The task as trained (its control rate, grid, ...), on this robot's URDF and safety config,
        # unperturbed: what the robot really is decides the limits, and the contract must agree.
        trained = dict(policy.contract.training.get("env_config") or {})
        trained.pop("perturbation", None)
        env: Any = gym.make(self.spec.env_id, config=trained).unwrapped
        here = env.task_spec
        problems = [f"{name}: the policy's {ours} differs from this robot's {theirs}"
                    for name, ours, theirs in (("joints", self.spec.joints, here.joints),
                                               ("control_rate_hz", self.spec.control_rate_hz, here.control_rate_hz))
                    if ours != theirs]
        if problems:
            raise InvalidRequest(f"policy {model_id or self.spec.env_id} does not fit this robot", problems)
        self._env = env
        self.joints = [joint.name for joint in self.spec.joints]

    @classmethod
    def from_registry(cls, registry: ModelRegistry, key: str) -> PolicyRuntime:
        """The policy ``key`` (an id, ``name:N`` or a name's newest version) with its ONNX graph and contract;
        NotFound / InvalidRequest when it is not a policy or lacks them."""
        model = registry.get(key)
        if model.kind is not ModelKind.POLICY:
            raise InvalidRequest(f"model {model.id} ({model.ref}) is a {model.kind.value}, not a policy",
                                 [f"model_id: {key!r} is not a policy"])
        contract = registry.artefact(model.id, CONTRACT_FORMAT).path
        onnx = registry.artefact(model.id, ONNX_POLICY_FORMAT).path
        return cls(OnnxPolicy.load(Path(contract), Path(onnx)), model.id)

    def probe(self) -> TaskProbe:
        """The task's targets and its success test (for a deployment's success check)."""
        probe: TaskProbe = self._env
        return probe

    @property
    def period_s(self) -> float:
        return 1.0 / self.spec.control_rate_hz

    def tick(self, positions: Mapping[str, float] | None, velocities: Mapping[str, float] | None,
             target: np.ndarray | None, joint_state_age_s: float, stale_after_s: float) -> Tick:
        """The joint targets for now, or none (with the reason) when the inputs cannot be trusted."""
        if positions is None or velocities is None or joint_state_age_s > stale_after_s:
            return Tick(None, f"joint states are stale ({joint_state_age_s:.2f} s old)")
        if target is None:
            return Tick(None, "no target yet")
        missing = [j for j in self.joints if j not in positions]
        if missing:
            return Tick(None, f"joint states lack {', '.join(missing)}")
        observation = self._env.observe(positions, {j: velocities.get(j, 0.0) for j in self.joints},
                                        np.asarray(target, dtype=np.float64))
        return Tick(self.spec.command(self.policy.act_one(observation), positions))
