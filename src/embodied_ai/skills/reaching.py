"""Reaching: bring the right gripper's fingers to a target point above the table.

Continuous actions move the targets of the right shoulder pitch, shoulder roll and elbow (see
``reach_spec``: the observation, the action rule, the reward terms and the success tolerance);
each step streams them through the controller's path for one control period.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from embodied_ai.control.reach import arm_joints
from embodied_ai.hardware.base import HardwareSnapshot
from embodied_ai.robot.description import FORCE_SENSOR_FRAMES, RobotDescription
from embodied_ai.safety.config import SafetyConfig
from embodied_ai.skills.base import SimulatedTaskEnv, robot_setup
from embodied_ai.skills.config import ReachConfig, parse_config
from embodied_ai.skills.spec import REACH_SIDE, reach_spec, reach_target_z

FINGERS = FORCE_SENSOR_FRAMES[f"gripper_{REACH_SIDE}"]


class ReachEnv(SimulatedTaskEnv[np.ndarray, np.ndarray]):
    """``embodied/Reach-v0``: a float32 observation of 15 signals, 3 normalised joint actions (or, with
    ``actions: discrete``, one of 27: each joint down, still or up)."""

    def __init__(self, config: ReachConfig | Mapping[str, Any] | None = None,
                 description: RobotDescription | None = None, safety: SafetyConfig | None = None,
                 render_mode: str | None = None) -> None:
        self.config = parse_config(ReachConfig, config)
        description, safety = robot_setup(description, safety)
        super().__init__(reach_spec(description, safety, self.config), description, safety, render_mode)
        self.joints = arm_joints(REACH_SIDE)
        self.target = np.zeros(3)                       # the true target point, base_link, m
        self._low, self._high = self.task_spec.observation_low(), self.task_spec.observation_high()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        config, rng = self.config, self.np_random
        start = {j: float(np.clip(rng.uniform(-config.start_jitter_rad, config.start_jitter_rad),
                                  self.description.limits[j].lower, self.description.limits[j].upper))
                 for j in self.joints}
        self.target = self.sample_target(rng) + config.perturbation.target_offset_m
        servos = self._start_robot(start)
        observation = self._observe(servos.snapshot)
        return observation, {"distance_m": self.distance(servos.snapshot)}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        targets, snapshot = self._act(action)
        distance = self.distance(snapshot)
        success = distance <= self.task_spec.success.tolerance
        vector = self.task_spec.action_vector(action)
        reward = self.task_spec.reward_of({"distance": distance, "action": float(np.sum(vector**2)),
                                           "success": float(success)})
        truncated = not success and self.steps >= self.task_spec.max_episode_steps
        info = {"distance_m": distance, "is_success": success, "targets": targets}
        return self._observe(snapshot), reward, success, truncated, info

    def sample_target(self, rng: np.random.Generator) -> np.ndarray:
        """A nominal target point (base_link, m), drawn as every episode draws its own."""
        config = self.config
        return np.array([rng.uniform(*config.target_x_m), rng.uniform(*config.target_y_m), reach_target_z(config)])

    def reached(self, positions: Mapping[str, float], target: np.ndarray) -> bool:
        """Whether the fingers are within the success tolerance of ``target`` at these joint positions."""
        distance = np.linalg.norm(self.gripper_position(positions) - np.asarray(target, dtype=np.float64))
        return bool(distance <= self.task_spec.success.tolerance)

    def gripper_position(self, positions: Mapping[str, float]) -> np.ndarray:
        """Where the right fingers meet for these joint positions (base_link, m)."""
        return self.kinematics.link_position(FINGERS, positions)

    def distance(self, snapshot: HardwareSnapshot) -> float:
        """True distance from the fingers to the target (m), what reward and success use."""
        positions = {j: r.position for j, r in snapshot.joints.items()}
        return float(np.linalg.norm(self.gripper_position(positions) - self.target))

    def observe(self, positions: Mapping[str, float], velocities: Mapping[str, float],
                target: np.ndarray) -> np.ndarray:
        """The observation from measured joint positions and velocities and a perceived target (base_link,
        m): the one place it is built, for training and for a policy node on the robot alike."""
        gripper = self.gripper_position(positions)
        values = np.concatenate([[positions[j] for j in self.joints], [velocities[j] for j in self.joints],
                                 gripper, target, target - gripper])
        return np.clip(values, self._low, self._high).astype(np.float32)

    def _observe(self, snapshot: HardwareSnapshot) -> np.ndarray:
        positions = self._observe_positions(snapshot, self.joints)
        velocities = {j: snapshot.joints[j].velocity for j in self.joints}
        return self.observe(positions, velocities, self._sensed_point(self.target))
