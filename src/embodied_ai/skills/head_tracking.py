"""Head tracking: keep the head panned at a target that wanders on the table.

A small discrete task for tabular learning (see ``head_track_spec``): the head pan moves on a
grid of angles one step (left, none, right) per control period, through the controller's
streamed-command path; the observation is the grid bin of the measured pan and of the target's
perceived bearing, as one index (a Q-table row). The target stands on the table at a fixed
distance from the pan axis and moves one grid step of bearing at random.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from embodied_ai.errors import InvalidRequest
from embodied_ai.hardware.base import HardwareSnapshot
from embodied_ai.hardware.sim import SimTable
from embodied_ai.robot.description import RobotDescription
from embodied_ai.safety.config import SafetyConfig
from embodied_ai.skills.base import SimulatedTaskEnv, robot_setup
from embodied_ai.skills.config import HeadTrackConfig, parse_config
from embodied_ai.skills.spec import HEAD_PAN, HEAD_PAN_LINK, AngleGrid, head_track_spec


class HeadTrackEnv(SimulatedTaskEnv[int, int]):
    """``embodied/HeadTrack-v0``: the observation ``pan_bin * bins + target_bin``, 3 actions."""

    def __init__(self, config: HeadTrackConfig | Mapping[str, Any] | None = None,
                 description: RobotDescription | None = None, safety: SafetyConfig | None = None,
                 render_mode: str | None = None) -> None:
        self.config = parse_config(HeadTrackConfig, config)
        description, safety = robot_setup(description, safety)
        super().__init__(head_track_spec(description, safety, self.config), description, safety, render_mode)
        assert self.task_spec.grid is not None, "head tracking moves on a grid"
        self.grid: AngleGrid = self.task_spec.grid
        self.pan_axis = self.kinematics.link_position(HEAD_PAN_LINK, {})[:2]
        low, high = self.config.target_azimuth_rad
        self._target_indices = [k for k in range(self.grid.bins) if low <= self.grid.angle(k) <= high]
        if not self._target_indices:
            raise InvalidRequest("invalid HeadTrackConfig", [
                f"target_azimuth_rad: no pan grid angle lies in {self.config.target_azimuth_rad}"])
        self.target_index = self._target_indices[0]   # the target's nominal bearing, a grid index

    @property
    def target_point(self) -> np.ndarray:
        """Where the target stands (base_link, m): on the table at its bearing, plus the offset."""
        return self._point_at(self.target_index) + self.config.perturbation.target_offset_m

    def _point_at(self, index: int) -> np.ndarray:
        bearing, distance = self.grid.angle(index), self.config.target_distance_m
        return np.array([self.pan_axis[0] + distance * math.cos(bearing),
                         self.pan_axis[1] + distance * math.sin(bearing), SimTable().top_z_m])

    def sample_target(self, rng: np.random.Generator) -> np.ndarray:
        """A nominal target point (base_link, m) at one of the bearings an episode starts from."""
        return self._point_at(int(rng.choice(self._target_indices)))

    def reached(self, positions: Mapping[str, float], target: np.ndarray) -> bool:
        """Whether the head is centred on ``target`` (within the success tolerance) at these positions."""
        return abs(positions[HEAD_PAN] - self.bearing(np.asarray(target))) <= self.task_spec.success.tolerance

    def bearing(self, point: np.ndarray) -> float:
        """The bearing of a point from the pan axis (rad; 0 straight ahead, + to the left)."""
        return math.atan2(point[1] - self.pan_axis[1], point[0] - self.pan_axis[0])

    def pan_error(self, snapshot: HardwareSnapshot) -> float:
        """True |head pan - target bearing| (rad), what reward and success use."""
        return abs(snapshot.joints[HEAD_PAN].position - self.bearing(self.target_point))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        rng = self.np_random
        self.target_index = int(rng.choice(self._target_indices))
        servos = self._start_robot({HEAD_PAN: self.grid.angle(int(rng.integers(self.grid.bins)))})
        error = self.pan_error(servos.snapshot)
        return self._observe(servos.snapshot), {"pan_error_rad": error,
                                                "is_success": error <= self.task_spec.success.tolerance}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        targets, snapshot = self._act(action)
        error = self.pan_error(snapshot)
        centred = error <= self.task_spec.success.tolerance
        reward = self.task_spec.reward_of({"centred": float(centred)})
        if self.np_random.random() < self.config.target_move_probability:   # judged first, then the target moves
            moved = self.target_index + int(self.np_random.choice((-1, 1)))
            if moved in self._target_indices:
                self.target_index = moved
        truncated = self.steps >= self.task_spec.max_episode_steps
        info = {"pan_error_rad": error, "is_success": centred, "targets": targets}
        return self._observe(snapshot), reward, False, truncated, info

    def observe(self, positions: Mapping[str, float], velocities: Mapping[str, float], target: np.ndarray) -> int:
        """The observation from the measured head pan and a perceived target (base_link, m): the one place
        it is built, for training and for a policy node on the robot alike (velocities are not used)."""
        return self.grid.index(positions[HEAD_PAN]) * self.grid.bins + self.grid.index(self.bearing(target))

    def _observe(self, snapshot: HardwareSnapshot) -> int:
        return self.observe(self._observe_positions(snapshot, [HEAD_PAN]), {}, self._sensed_point(self.target_point))
