"""The skills environments' settings as data: each task's tunables and the perturbations of a
"reconcile" run (targets moved, servos slower or faster, noisy sensors).

These are the inputs of a task; what a policy sees and does (observation, action, reward,
success) is derived from them and the URDF in ``embodied_ai.skills.spec``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from embodied_ai.errors import InvalidRequest, validation_problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Perturbation(_Strict):
    """How an environment departs from the nominal simulation; the defaults change nothing."""

    target_offset_m: tuple[float, float, float] = Field(default=(0.0, 0.0, 0.0), description=(
        "added to every target point (base_link x, y, z, m): the object stands elsewhere than in training"))
    servo_tau_scale: float = Field(default=1.0, gt=0, le=20, description=(
        "multiplies the simulator's servo time constant (SimParameters.servo_tau_s): >1 slower servos"))
    joint_noise_rad: float = Field(default=0.0, ge=0, le=0.2, description=(
        "standard deviation of Gaussian noise on each observed joint position, rad (velocities are not noised)"))
    target_noise_m: float = Field(default=0.0, ge=0, le=0.2, description=(
        "standard deviation of Gaussian noise on each coordinate of the perceived target point, m"))


def _ordered(value: tuple[float, float]) -> tuple[float, float]:
    """A (low, high) range. Checked per field, so its problem is listed with all the others."""
    if not value[0] <= value[1]:
        raise ValueError(f"need low <= high, got {tuple(value)}")
    return value


class ReachConfig(_Strict):
    """Move the right gripper to a point above the table with the right shoulder and elbow."""

    control_rate_hz: float = Field(default=10.0, gt=0, le=200, description=(
        "policy steps per second; each step streams one target that the controller tracks for 1/rate s"))
    max_episode_steps: int = Field(default=60, ge=1, le=10_000, description="steps before the episode is truncated")
    action_scale_rad: float = Field(default=0.2, gt=0, le=1.0, description=(
        "an action of 1 asks a joint for its measured position plus this much, rad"))
    actions: Literal["continuous", "discrete"] = Field(default="continuous", description=(
        "continuous: one value in [-1, 1] per joint; discrete: each joint down, still or up by action_scale_rad "
        "(27 choices, for dqn)"))
    success_tolerance_m: float = Field(default=0.02, gt=0, le=0.2, description=(
        "the episode succeeds (terminates) when the fingers are this close to the target, m"))
    success_bonus: float = Field(default=5.0, ge=0, description="reward added on the step that succeeds")
    action_penalty: float = Field(default=0.01, ge=0, description="reward weight of -|action|^2 per step")
    target_x_m: tuple[float, float] = Field(default=(0.22, 0.38), description=(
        "range of the target's base_link x, m (on the table, in reach of the right arm)"))
    target_y_m: tuple[float, float] = Field(default=(-0.40, -0.20), description="range of the target's y, m")
    target_height_m: float = Field(default=0.03, ge=0, le=0.3, description=(
        "height of the target above the table top, m (the centre of a small object)"))
    start_jitter_rad: float = Field(default=0.1, ge=0, le=0.5, description=(
        "each arm joint starts uniformly this far around 0 rad (within its limits)"))
    perturbation: Perturbation = Perturbation()

    @field_validator("target_x_m", "target_y_m")
    @classmethod
    def _ranges(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _ordered(value)


class HeadTrackConfig(_Strict):
    """Keep the head panned at a target that wanders on the table, on a grid of pan angles."""

    control_rate_hz: float = Field(default=2.5, gt=0, le=200, description=(
        "policy steps per second: long enough for one pan step to settle"))
    max_episode_steps: int = Field(default=40, ge=1, le=10_000, description="steps before the episode is truncated")
    pan_step_rad: float = Field(default=math.radians(10.0), ge=math.radians(1.0), le=math.radians(45.0), description=(
        "one grid step of the head pan (and of the target's bearing), rad; the grid starts at the pan lower limit"))
    target_azimuth_rad: tuple[float, float] = Field(default=(-math.radians(60.0), math.radians(60.0)), description=(
        "range of the target's bearing from the head's pan axis, rad (0: straight ahead, +: left)"))
    target_distance_m: float = Field(default=0.45, gt=0, le=2.0, description=(
        "the target's horizontal distance from the pan axis, m (on the table top)"))
    target_move_probability: float = Field(default=0.2, ge=0, le=1, description=(
        "chance per step that the target moves one grid step left or right"))
    perturbation: Perturbation = Perturbation()

    @field_validator("target_azimuth_rad")
    @classmethod
    def _ranges(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _ordered(value)


ConfigT = TypeVar("ConfigT", bound=BaseModel)


def parse_config(model: type[ConfigT], value: ConfigT | Mapping[str, Any] | None) -> ConfigT:
    """``value`` as ``model`` (None: the defaults), or InvalidRequest listing every problem."""
    if value is None:
        return model()
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise InvalidRequest(f"invalid {model.__name__}", validation_problems(exc, "config")) from None
