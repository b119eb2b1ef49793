"""Safety parameters as data (launch/safety.yaml), validated on load."""

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
    max_force_n: float = Field(15.0, gt=0)
    closing_velocity_rad_s: float = Field(0.6, gt=0)
    timeout_s: float = Field(5.0, gt=0)


class SafetyConfig(_Strict):
    watchdog_timeout_s: float = Field(0.5, gt=0)
    default_velocity_scale: float = Field(0.5, gt=0, le=1.0)
    max_deceleration_rad_s2: float = Field(8.0, gt=0)
    min_duration_s: float = Field(0.05, ge=0)
    max_duration_s: float = Field(120.0, gt=0)
    step_tolerance: float = Field(0.25, ge=0)
    temperature: TemperatureLimits = TemperatureLimits()
    grasp: GraspLimits = GraspLimits()


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
