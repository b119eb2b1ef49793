"""The policy node's parameters (one deployed skill), one field each."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from embodied_ai.paths import state_dir as default_state_dir


class PolicyNodeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model_id: str = Field(default="", description=(
        "the policy in the model registry: its id, name:version, or a name (its newest version); required"))
    state_dir: str = Field(default="", description=(
        "the state directory whose operations database holds the registry; "
        "'' = $EMBODIED_STATE_DIR or ~/.local/state/embodied"))
    target_topic: str = Field(default="policy_target", description=(
        "geometry_msgs/PointStamped in base_link: where the skill aims (a reach point, a thing to look at)"))
    stale_after_s: float = Field(default=0.25, gt=0, le=5.0, description=(
        "joint states older than this stop the commands (the controller's watchdog then holds the joints), s"))
    autostart: bool = Field(default=True, description="configure (load the policy) and activate at start")

    def resolved_state_dir(self) -> Path:
        return Path(self.state_dir).expanduser() if self.state_dir else default_state_dir()
