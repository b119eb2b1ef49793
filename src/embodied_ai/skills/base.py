"""What every skills environment shares: the robot (URDF and safety config, the repository's by
default), its spaces from the task's spec, the simulated robot driven through the controller's
streamed-command path, and the perturbations of sensing and servo dynamics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np

from embodied_ai.control.config import ServoControllerConfig
from embodied_ai.errors import InvalidRequest
from embodied_ai.hardware.base import HardwareSnapshot
from embodied_ai.hardware.sim import SimParameters, SimulatedRobot
from embodied_ai.paths import REPO_ROOT
from embodied_ai.robot.description import RobotDescription, load_robot_description
from embodied_ai.robot.kinematics import Kinematics
from embodied_ai.safety.config import SafetyConfig, load_safety_config
from embodied_ai.skills.servos import ManualClock, StreamedServos
from embodied_ai.skills.spec import TaskSpec

URDF = REPO_ROOT / "urdf" / "embodied_robot.urdf"
SAFETY = REPO_ROOT / "launch" / "safety.yaml"
CONTROLLER_RATE_HZ = ServoControllerConfig().rate_hz   # the servo controller's loop rate (launch/robot.yaml's)

ObsT = TypeVar("ObsT")
ActT = TypeVar("ActT")


def robot_setup(description: RobotDescription | None, safety: SafetyConfig | None
                ) -> tuple[RobotDescription, SafetyConfig]:
    """The given description and safety config, or the repository's URDF and launch/safety.yaml."""
    return (description or load_robot_description(URDF),
            safety if safety is not None else load_safety_config(SAFETY))


def control_cycles(control_rate_hz: float, safety: SafetyConfig, controller_rate_hz: float = CONTROLLER_RATE_HZ
                   ) -> int:
    """Controller cycles per policy step; InvalidRequest when the policy's rate cannot be streamed:
    its period must be whole controller cycles and shorter than the stream watchdog's timeout
    (a slower stream would be stopped by the controller between two steps)."""
    ratio = controller_rate_hz / control_rate_hz
    cycles = round(ratio)
    problems = []
    if cycles < 1 or abs(ratio - cycles) > 1e-6:
        problems.append(f"control_rate_hz: {control_rate_hz} Hz must divide the controller's "
                        f"{controller_rate_hz} Hz into whole cycles")
    if 1.0 / control_rate_hz >= safety.watchdog_timeout_s:
        problems.append(f"control_rate_hz: a period of {1.0 / control_rate_hz:.3f} s is not shorter than the "
                        f"stream watchdog's {safety.watchdog_timeout_s} s")
    if problems:
        raise InvalidRequest("the control rate cannot be streamed to the servo controller", problems)
    return cycles


class SimulatedTaskEnv(gym.Env[ObsT, ActT]):
    """A task on the simulated robot: spaces from ``task_spec``, actions streamed as joint targets."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, task_spec: TaskSpec, description: RobotDescription, safety: SafetyConfig,
                 render_mode: str | None = None) -> None:
        if render_mode is not None:
            raise InvalidRequest(f"render_mode {render_mode!r} is not supported", ["render_mode: use None"])
        self.task_spec = task_spec
        self.description = description
        self.safety = safety
        self.render_mode = render_mode
        self.observation_space = task_spec.observation_space()
        self.action_space = task_spec.action_space()
        self.cycles_per_step = control_cycles(task_spec.control_rate_hz, safety)
        self.kinematics = Kinematics(description.urdf)
        self._servos: StreamedServos | None = None
        self.observed_positions: dict[str, float] = {}   # as the policy last saw them (noise and all)
        self.steps = 0

    @property
    def servos(self) -> StreamedServos:
        """The simulated robot and its command stream (after ``reset``)."""
        if self._servos is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        return self._servos

    def contract(self) -> dict[str, Any]:
        """The task's spec as JSON data, for a policy export."""
        return self.task_spec.contract()

    def _start_robot(self, initial_positions: Mapping[str, float]) -> StreamedServos:
        """A fresh simulated robot at ``initial_positions``, its servos as the perturbation says."""
        nominal = SimParameters()
        parameters = SimParameters(servo_tau_s=nominal.servo_tau_s * self.task_spec.perturbation.servo_tau_scale)
        clock = ManualClock()
        robot = SimulatedRobot(self.description, parameters=parameters, clock=clock,
                               seed=int(self.np_random.integers(2**31)), initial_positions=initial_positions)
        self._servos = StreamedServos(self.description, self.safety, robot, clock, CONTROLLER_RATE_HZ)
        self.steps = 0
        return self._servos

    def _act(self, action: Any) -> tuple[dict[str, float], HardwareSnapshot]:
        """The task's joint targets for ``action`` from the positions last observed, streamed and
        tracked by the controller's path for one control period; the targets and the last reading."""
        servos = self.servos
        targets = self.task_spec.command(action, self.observed_positions)
        servos.stream(targets)
        self.steps += 1
        return targets, servos.advance(self.cycles_per_step)

    def _observe_positions(self, snapshot: HardwareSnapshot, joints: Sequence[str]) -> dict[str, float]:
        """Measured positions as the policy sees them: with the perturbation's encoder noise."""
        noise = self.task_spec.perturbation.joint_noise_rad
        values = np.array([snapshot.joints[j].position for j in joints])
        if noise > 0:
            values = values + self.np_random.normal(0.0, noise, len(values))
        self.observed_positions = {j: float(v) for j, v in zip(joints, values)}
        return self.observed_positions

    def _sensed_point(self, point: np.ndarray) -> np.ndarray:
        """A target point as perception reports it: with the perturbation's noise."""
        noise = self.task_spec.perturbation.target_noise_m
        return point + self.np_random.normal(0.0, noise, 3) if noise > 0 else point.copy()
