"""The experts node's parameters (launch/robot.yaml's ``experts`` section), one field each.

The node declares them as ROS parameters from this model (``embodied_ros.kit.parameters``):
names, defaults, ranges and the descriptions ``ros2 param describe`` shows live here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from embodied_ai.experts.paths import state_dir as default_state_dir


class ExpertsNodeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state_dir: str = Field(default="", description=(
        "folder of the experts' registry, adapters, datasets and training jobs; "
        "'' = $EMBODIED_STATE_DIR or ~/.local/state/embodied"))
    memory_budget_mb: float = Field(default=512.0, gt=0, description=(
        "memory for loaded adapters and scratch models, MiB; the least recently used is unloaded beyond it"))
    base_precision: Literal["int8", "int4", "fp32"] = Field(default="int8", description=(
        "precision of the shared quantized base: int8 (quality) or int4 (smaller); "
        "built into the cache on the first start (~1-2 min)"))
    robot_description_file: str = Field(default="", description=(
        "URDF that robot commands are checked against (joint limits); required (robot.yaml gives "
        "urdf/embodied_robot.urdf)"))
    statistics_period_s: float = Field(default=2.0, gt=0, description="period of the router_statistics topic, s")
    action_timeout_s: float = Field(default=30.0, gt=0, description=(
        "how long a command waits for a move_joints or grasp result before cancelling it, s"))
    scene_max_age_s: float = Field(default=2.0, gt=0, description=(
        "detections older than this do not describe the scene ('no perception'), s"))
    use_router: bool = Field(default=True, description=(
        "route prompts with the trained router; false: every prompt goes to the general expert"))
    dataset_dirs: list[str] = Field(default=[""], description=(
        "folders whose labelled-prompt files retrain_router may read; [''] = <state_dir>/datasets "
        "(where the REST bridge's router/retrain looks when both use the same state directory)"))
    autostart: bool = Field(default=True, description=(
        "configure (load the base, router and experts) and activate on start, as a lifecycle manager would"))

    def resolved_state_dir(self) -> Path:
        return Path(self.state_dir).expanduser() if self.state_dir else default_state_dir()

    def dataset_roots(self) -> list[Path] | None:
        """The folders given, or None for the service's default (<state_dir>/datasets)."""
        roots = [Path(d).expanduser() for d in self.dataset_dirs if d]
        return roots or None
