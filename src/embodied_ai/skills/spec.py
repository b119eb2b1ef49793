"""Each task's contract, declared in one place: the observation and action (names, units,
bounds, order), the joints commanded and their URDF limits, the control rate, the reward terms
and the success tolerance.

The environments build their spaces, rewards and joint commands from a ``TaskSpec``; a policy
export serialises it (``contract()``) next to the model, and whatever runs the policy later
(the ROS policy node) reads it back (``TaskSpec.from_contract``) and turns actions into joint
targets with the same ``command`` the environment used in training.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from embodied_ai.control.reach import arm_joints
from embodied_ai.errors import InvalidRequest, validation_problems
from embodied_ai.hardware.sim import SimTable
from embodied_ai.robot.description import FORCE_SENSOR_FRAMES, RobotDescription
from embodied_ai.robot.kinematics import Kinematics
from embodied_ai.safety.config import SafetyConfig
from embodied_ai.skills.config import HeadTrackConfig, Perturbation, ReachConfig

SCHEMA_VERSION = 1
REACH_ENV_ID = "embodied/Reach-v0"
HEAD_TRACK_ENV_ID = "embodied/HeadTrack-v0"
REACH_SIDE = "r"                     # the reaching arm
HEAD_PAN = "head_pan"
HEAD_PAN_LINK = "head_pan_link"      # its origin is on the pan axis: target bearings are taken from there
FRAME = "base_link"                  # every point in an observation is in this frame


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Signal(_Strict):
    """One component of an observation or a continuous action."""

    name: str
    unit: str
    low: float
    high: float
    description: str = ""


class JointSpec(_Strict):
    """A commanded joint with the limits every command is kept within (the URDF's)."""

    name: str
    lower_rad: float
    upper_rad: float
    velocity_rad_s: float            # the URDF velocity limit
    streamed_velocity_rad_s: float   # the controller tracks streamed targets at most this fast


class AngleGrid(_Strict):
    """Angles ``origin_rad + k * step_rad`` for k in [0, bins): the head pan's positions and bins."""

    origin_rad: float
    step_rad: float
    bins: int

    def index(self, angle: float) -> int:
        """The grid index nearest ``angle`` (clipped into the grid)."""
        return int(min(max(round((angle - self.origin_rad) / self.step_rad), 0), self.bins - 1))

    def angle(self, index: int) -> float:
        return self.origin_rad + index * self.step_rad


class ObservationSpec(_Strict):
    kind: Literal["box", "discrete"]
    dtype: Literal["float32", "int64"]
    signals: tuple[Signal, ...]
    encoding: str


class ActionChoice(_Strict):
    """One discrete action: on a grid, move the joint this many grid steps from where it is
    measured; otherwise, the continuous action ``vector`` (one value per joint, see ``rule``)."""

    name: str
    grid_steps: int | None = None
    vector: tuple[float, ...] | None = None


class ActionSpec(_Strict):
    kind: Literal["box", "discrete"]
    dtype: Literal["float32", "int64"]
    signals: tuple[Signal, ...] = ()          # box: one per joint, in the order of TaskSpec.joints
    choices: tuple[ActionChoice, ...] = ()    # discrete: action index -> meaning
    scale_rad: float | None = None            # an action of 1 asks for this much beyond the measured position
    rule: str


class RewardTerm(_Strict):
    """reward = sum(weight * value) over the terms, every step."""

    name: str
    weight: float
    unit: str
    description: str


class Success(_Strict):
    quantity: str
    unit: str
    tolerance: float
    description: str


class TaskSpec(_Strict):
    schema_version: int = SCHEMA_VERSION
    task: str
    env_id: str
    description: str
    robot: str
    frame: str = FRAME
    joints: tuple[JointSpec, ...]
    control_rate_hz: float
    max_episode_steps: int
    observation: ObservationSpec
    action: ActionSpec
    reward: tuple[RewardTerm, ...]
    success: Success
    grid: AngleGrid | None = None
    perturbation: Perturbation = Perturbation()

    # -- spaces -------------------------------------------------------------------------
    def observation_space(self) -> gym.Space[Any]:
        if self.observation.kind == "discrete":
            sizes = [int(s.high - s.low) + 1 for s in self.observation.signals]
            return gym.spaces.Discrete(int(np.prod(sizes)))
        return gym.spaces.Box(self.observation_low(), self.observation_high(), dtype=np.float32)

    def action_space(self) -> gym.Space[Any]:
        if self.action.kind == "discrete":
            return gym.spaces.Discrete(len(self.action.choices))
        n = len(self.action.signals)
        return gym.spaces.Box(-np.ones(n, np.float32), np.ones(n, np.float32), dtype=np.float32)

    def observation_low(self) -> np.ndarray:
        return np.array([s.low for s in self.observation.signals], dtype=np.float32)

    def observation_high(self) -> np.ndarray:
        return np.array([s.high for s in self.observation.signals], dtype=np.float32)

    # -- actions and rewards ------------------------------------------------------------
    def command(self, action: Any, positions: Mapping[str, float]) -> dict[str, float]:
        """Joint targets for ``action`` given the measured ``positions`` (rad), always inside
        the joints' limits; a non-finite action gives a non-finite target, which the
        controller's validation refuses (as it would refuse it from any caller)."""
        if self.action.kind == "discrete" and self.grid is not None:
            joint, steps = self.joints[0], self.choice(action).grid_steps
            assert steps is not None, "a grid's choices move by grid steps"
            index = self.grid.index(positions[joint.name]) + steps
            return {joint.name: self.grid.angle(min(max(index, 0), self.grid.bins - 1))}
        assert self.action.scale_rad is not None, "a joint-space action has a scale"
        values = self.action_vector(action)
        return {j.name: float(np.clip(positions[j.name] + a * self.action.scale_rad, j.lower_rad, j.upper_rad))
                for j, a in zip(self.joints, values)}

    def choice(self, action: Any) -> ActionChoice:
        """The discrete action ``action`` names, or InvalidRequest."""
        count = len(self.action.choices)
        try:
            chosen = operator.index(action)   # an integer (numpy's too), not a float or a name
        except TypeError:
            chosen = -1
        if not 0 <= chosen < count:
            raise InvalidRequest(f"action {action!r} is not one of 0..{count - 1}", [f"action: {action!r}"])
        return self.action.choices[chosen]

    def action_vector(self, action: Any) -> np.ndarray:
        """A joint-space action as its clipped vector (one value in [-1, 1] per joint): a box
        action itself, a discrete one its choice's vector."""
        if self.action.kind == "discrete":
            vector = self.choice(action).vector
            assert vector is not None, "a joint-space choice has a vector"
            return np.asarray(vector, dtype=np.float64)
        return np.clip(np.asarray(action, dtype=np.float64).reshape(len(self.joints)), -1.0, 1.0)

    def reward_weights(self) -> dict[str, float]:
        return {term.name: term.weight for term in self.reward}

    def reward_of(self, values: Mapping[str, float]) -> float:
        """sum(weight * value) over the declared terms; every term needs a value."""
        return float(sum(term.weight * values[term.name] for term in self.reward))

    # -- serialisation ------------------------------------------------------------------
    def contract(self) -> dict[str, Any]:
        """Plain JSON data: what a policy export writes next to the model."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        return json.dumps(self.contract(), indent=2, sort_keys=True)

    @classmethod
    def from_contract(cls, data: Mapping[str, Any] | str) -> TaskSpec:
        """A contract read back (a dict or its JSON text), or InvalidRequest listing every problem."""
        try:
            value = json.loads(data) if isinstance(data, str) else data
            return cls.model_validate(value)
        except json.JSONDecodeError as exc:
            raise InvalidRequest("invalid task contract", [f"not JSON: {exc}"]) from None
        except ValidationError as exc:
            raise InvalidRequest("invalid task contract", validation_problems(exc, "contract")) from None


def _joint_specs(description: RobotDescription, safety: SafetyConfig, names: Sequence[str]) -> tuple[JointSpec, ...]:
    return tuple(JointSpec(name=n, lower_rad=description.limits[n].lower, upper_rad=description.limits[n].upper,
                           velocity_rad_s=description.limits[n].velocity,
                           streamed_velocity_rad_s=description.limits[n].velocity * safety.default_velocity_scale)
                 for n in names)


def reach_workspace(description: RobotDescription, side: str = REACH_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """A box (low, high in base_link, m) that holds the fingers of ``side``'s arm in any pose:
    the shoulder's origin plus or minus the summed lengths of the links below it."""
    kinematics = Kinematics(description.urdf)
    chain = kinematics.chain(FORCE_SENSOR_FRAMES[f"gripper_{side}"])
    shoulder = next(i for i, joint in enumerate(chain) if joint.name == arm_joints(side)[0])
    centre = kinematics.link_position(chain[shoulder].child, {})
    radius = float(sum(np.linalg.norm(joint.origin[:3, 3]) for joint in chain[shoulder + 1:]))
    return centre - radius, centre + radius


def reach_target_z(config: ReachConfig) -> float:
    """Nominal target height in base_link: the simulator's table top plus the configured height."""
    return SimTable().top_z_m + config.target_height_m


def _xyz(prefix: str, unit: str, low: np.ndarray, high: np.ndarray, what: str) -> list[Signal]:
    return [Signal(name=f"{prefix}_{axis}", unit=unit, low=round(float(lo), 4), high=round(float(hi), 4),
                   description=f"{what}, {axis} in {FRAME}")
            for axis, lo, hi in zip("xyz", low, high)]


def reach_spec(description: RobotDescription, safety: SafetyConfig, config: ReachConfig) -> TaskSpec:
    joints = _joint_specs(description, safety, arm_joints(REACH_SIDE))
    low, high = reach_workspace(description)
    low, high = np.floor(low * 100) / 100, np.ceil(high * 100) / 100
    span = high - low
    signals = [
        *(Signal(name=f"{j.name}_position", unit="rad", low=j.lower_rad, high=j.upper_rad,
                 description="measured joint position") for j in joints),
        *(Signal(name=f"{j.name}_velocity", unit="rad/s", low=-j.velocity_rad_s, high=j.velocity_rad_s,
                 description="measured joint velocity") for j in joints),
        *_xyz("gripper", "m", low, high, "where the right fingers meet (forward kinematics of the positions)"),
        *_xyz("target", "m", low, high, "the perceived target point"),
        *_xyz("to_target", "m", -span, span, "target minus gripper"),
    ]
    return TaskSpec(
        task="reach", env_id=REACH_ENV_ID, robot=description.name, joints=joints,
        description=("Move the right gripper's fingers to a target point above the table with the right "
                     "shoulder pitch, shoulder roll and elbow, through the servo controller's streamed commands."),
        control_rate_hz=config.control_rate_hz, max_episode_steps=config.max_episode_steps,
        observation=ObservationSpec(
            kind="box", dtype="float32", signals=tuple(signals),
            encoding="a float32 vector of the signals in this order, each clipped to [low, high]"),
        action=_reach_action(joints, config),
        reward=(
            RewardTerm(name="distance", weight=-1.0, unit="m", description="distance from the fingers to the target"),
            RewardTerm(name="action", weight=-config.action_penalty, unit="1",
                       description="squared norm of the clipped action"),
            RewardTerm(name="success", weight=config.success_bonus, unit="1",
                       description="1 on the step the fingers come within the success tolerance, else 0"),
        ),
        success=Success(quantity="distance", unit="m", tolerance=config.success_tolerance_m,
                        description=("the fingers within tolerance of the true target point; "
                                     "the episode terminates then")),
        perturbation=config.perturbation,
    )


def _reach_action(joints: Sequence[JointSpec], config: ReachConfig) -> ActionSpec:
    rule = ("target[j] = clip(measured_position[j] + {a} * scale_rad, lower_rad[j], upper_rad[j]), "
            "streamed to the servo controller once per control period")
    if config.actions == "discrete":
        # Every joint down, still or up by a whole scale_rad: 3^joints choices, for value-based learners.
        vectors = itertools.product((-1.0, 0.0, 1.0), repeat=len(joints))
        names = {-1.0: "down", 0.0: "hold", 1.0: "up"}
        choices = tuple(ActionChoice(name=",".join(f"{j.name}:{names[v]}" for j, v in zip(joints, vector)),
                                     vector=vector) for vector in vectors)
        return ActionSpec(kind="discrete", dtype="int64", scale_rad=config.action_scale_rad, choices=choices,
                          rule=rule.format(a="choices[action].vector[j]"))
    return ActionSpec(
        kind="box", dtype="float32", scale_rad=config.action_scale_rad,
        signals=tuple(Signal(name=j.name, unit="1", low=-1.0, high=1.0,
                             description="normalised change of the joint's target") for j in joints),
        rule=rule.format(a="clip(action[j], -1, 1)"))


def head_pan_grid(description: RobotDescription, step_rad: float) -> AngleGrid:
    """The pan angles a discrete action can command: every step from the lower limit, within the upper."""
    limits = description.limits[HEAD_PAN]
    return AngleGrid(origin_rad=limits.lower, step_rad=step_rad,
                     bins=math.floor((limits.upper - limits.lower) / step_rad) + 1)


def head_track_spec(description: RobotDescription, safety: SafetyConfig, config: HeadTrackConfig) -> TaskSpec:
    grid = head_pan_grid(description, config.pan_step_rad)
    last = float(grid.bins - 1)
    bin_meaning = f"angle = {grid.origin_rad:.4f} + bin * {grid.step_rad:.6f} rad (nearest bin)"
    return TaskSpec(
        task="head_track", env_id=HEAD_TRACK_ENV_ID, robot=description.name,
        joints=_joint_specs(description, safety, [HEAD_PAN]),
        description=("Keep the head panned at a target that wanders on the table, one pan grid step "
                     "(left, none, right) per control period."),
        control_rate_hz=config.control_rate_hz, max_episode_steps=config.max_episode_steps, grid=grid,
        observation=ObservationSpec(
            kind="discrete", dtype="int64",
            signals=(Signal(name="pan_bin", unit="bin", low=0.0, high=last,
                            description=f"measured head pan: {bin_meaning}"),
                     Signal(name="target_bin", unit="bin", low=0.0, high=last,
                            description=f"perceived bearing of the target from the pan axis: {bin_meaning}")),
            encoding=f"index = pan_bin * {grid.bins} + target_bin"),
        action=ActionSpec(
            kind="discrete", dtype="int64",
            choices=(ActionChoice(name="pan_right", grid_steps=-1), ActionChoice(name="stay", grid_steps=0),
                     ActionChoice(name="pan_left", grid_steps=1)),
            rule=("target = grid angle of clip(pan_bin(measured head_pan) + grid_steps, 0, bins - 1), "
                  "streamed to the servo controller once per control period")),
        reward=(RewardTerm(name="centred", weight=1.0, unit="1",
                           description="1 when the head is centred on the target after the step, else 0"),),
        success=Success(quantity="pan_error", unit="rad", tolerance=config.pan_step_rad / 2,
                        description=("|head_pan - true target bearing| within tolerance: the head is centred; "
                                     "an episode's score is the fraction of steps centred")),
        perturbation=config.perturbation,
    )
