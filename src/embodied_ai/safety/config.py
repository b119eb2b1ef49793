"""Safety parameters as data (launch/safety.yaml), validated on load.

The defaults here are the values launch/safety.yaml ships; the YAML says for each one its unit
and why it has that value. Joint limits are not here: they live in urdf/ and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TemperatureLimits(_Strict):
    warn_c: float = 60.0
    limit_c: float = 70.0
    resume_c: float = 60.0

    @model_validator(mode="after")
    def _ordered(self) -> "TemperatureLimits":
        if not self.resume_c <= self.limit_c or not self.warn_c <= self.limit_c:
            raise ValueError("temperature: need resume_c <= limit_c and warn_c <= limit_c")
        return self


class GraspLimits(_Strict):
    max_force_n: float = Field(default=15.0, gt=0)
    closing_velocity_rad_s: float = Field(default=0.6, gt=0)
    timeout_s: float = Field(default=5.0, gt=0)
    backoff_rad: float = Field(default=0.05, ge=0)


class ControlTolerances(_Strict):
    """When the controller counts a motion as done, and how it paces streamed joints."""

    arrival_tolerance_rad: float = Field(default=0.01, gt=0)
    settle_timeout_s: float = Field(default=1.0, ge=0)
    max_tracking_step_s: float = Field(default=0.02, gt=0)


class SafetyConfig(_Strict):
    watchdog_timeout_s: float = Field(default=0.5, gt=0)
    default_velocity_scale: float = Field(default=0.5, gt=0, le=1.0)
    max_deceleration_rad_s2: float = Field(default=8.0, gt=0)
    min_duration_s: float = Field(default=0.05, ge=0)
    max_duration_s: float = Field(default=120.0, gt=0)
    step_tolerance: float = Field(default=0.25, ge=0)
    temperature: TemperatureLimits = TemperatureLimits()
    grasp: GraspLimits = GraspLimits()
    control: ControlTolerances = ControlTolerances()


def load_safety_config(path: str | Path | None) -> SafetyConfig:
    """Load a safety YAML; ``None`` gives the defaults. Errors name the file and field."""
    if path is None:
        return SafetyConfig()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return SafetyConfig.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"invalid safety config {path}: {exc}") from exc
